import ArgumentParser

/// A size flag such as `--max-shard-size 5GB`: a whole number of bytes, optionally with a
/// decimal (`KB`, `MB`, `GB`, `TB`: powers of 1000, as huggingface_hub counts) or binary
/// (`KiB`, `MiB`, `GiB`, `TiB`) unit.
struct ByteSize: ExpressibleByArgument, Sendable, Equatable {
    /// Bytes.
    var bytes: Int

    /// Creates a size.
    init(bytes: Int) { self.bytes = bytes }

    /// Parses `5GB`, `500MB`, `2GiB`, `1048576`.
    init?(argument: String) {
        let units: [(String, Int)] = [
            ("KIB", 1 << 10), ("MIB", 1 << 20), ("GIB", 1 << 30), ("TIB", 1 << 40),
            ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("TB", 1_000_000_000_000), ("B", 1),
        ]
        let text = argument.uppercased()
        var multiplier = 1
        var number = Substring(text)
        for (u, m) in units where text.hasSuffix(u) {
            multiplier = m
            number = text.dropLast(u.count)
            break
        }
        guard let n = Int(number), n > 0 else { return nil }
        let (b, overflow) = n.multipliedReportingOverflow(by: multiplier)
        if overflow { return nil }
        bytes = b
    }

    /// The default value as help shows it.
    var defaultValueDescription: String { "\(bytes)" }
}
