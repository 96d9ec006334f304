/// The `--rows a:b` range of `get`: Python-style, so either end may be omitted and a negative
/// index counts from the end (`-1:` is the last row, `:-2` all but the last two).
struct RowRange {
    /// The text given.
    var text: String

    /// The rows of a tensor with `n` rows, or a one-line error naming the tensor.
    func resolve(rows n: Int, tensor: String) throws(CLIError) -> Range<Int> {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw .usage("--rows \(text): expected start:end (either may be omitted, e.g. 2:5, 10:, :-1)") }
        func index(_ s: Substring, default d: Int) throws(CLIError) -> Int {
            if s.isEmpty { return d }
            guard let v = Int(s) else { throw .usage("--rows \(text): '\(s)' is not an integer") }
            let i = v < 0 ? n + v : v
            guard (0...n).contains(i) else { throw .usage("--rows \(text): \(v) is outside the \(n) rows of tensor \(tensor)") }
            return i
        }
        let a = try index(parts[0], default: 0)
        let b = try index(parts[1], default: n)
        guard a <= b else { throw .usage("--rows \(text): start \(a) > end \(b) for tensor \(tensor) (\(n) rows)") }
        return a..<b
    }
}
