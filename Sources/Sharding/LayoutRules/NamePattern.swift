/// A tensor name pattern of a layout table's `ignored` list: literal text, `{i}` / `{j}` (one or
/// more decimal digits, a layer number) and `*` (any text, possibly empty).
struct NamePattern: Sendable, Hashable {
    private enum Token: Hashable, Sendable {
        case literal([UInt8])
        case number
        case any
    }

    private let tokens: [Token]

    /// Parses `pattern`.
    init(_ pattern: String) {
        var tokens: [Token] = []
        var literal: [UInt8] = []
        let bytes = Array(pattern.utf8)
        var k = 0
        func flush() {
            if !literal.isEmpty { tokens.append(.literal(literal)) }
            literal = []
        }
        while k < bytes.count {
            if bytes[k] == UInt8(ascii: "*") {
                flush()
                tokens.append(.any)
                k += 1
            } else if k + 2 < bytes.count, bytes[k] == UInt8(ascii: "{"), bytes[k + 2] == UInt8(ascii: "}"),
                bytes[k + 1] == UInt8(ascii: "i") || bytes[k + 1] == UInt8(ascii: "j")
            {
                flush()
                tokens.append(.number)
                k += 3
            } else {
                literal.append(bytes[k])
                k += 1
            }
        }
        flush()
        self.tokens = tokens
    }

    /// Whether `name` matches the whole pattern.
    func matches(_ name: String) -> Bool {
        let s = Array(name.utf8)
        // Positions reachable after each token; names are short, so the set stays small.
        var positions: Set<Int> = [0]
        for t in tokens {
            var next: Set<Int> = []
            for p in positions {
                switch t {
                case .literal(let l):
                    if p + l.count <= s.count && Array(s[p..<p + l.count]) == l { next.insert(p + l.count) }
                case .number:
                    var q = p
                    while q < s.count && s[q] >= UInt8(ascii: "0") && s[q] <= UInt8(ascii: "9") {
                        q += 1
                        next.insert(q)
                    }
                case .any:
                    for q in p...s.count { next.insert(q) }
                }
            }
            positions = next
            if positions.isEmpty { return false }
        }
        return positions.contains(s.count)
    }
}
