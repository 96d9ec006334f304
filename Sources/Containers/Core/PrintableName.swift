/// Names read from untrusted files, made safe for a one-line message: control, line-separator
/// and bidirectional-format characters are escaped (`\u{A}`), and very long names are cut.
public enum PrintableName {
    /// The longest name shown in full, in characters.
    public static let maxLength = 200

    /// `name` with every character that could break or disguise a line escaped, cut to
    /// `maxLength` characters with `...` when longer.
    public static func of(_ name: String) -> String {
        var out = ""
        var count = 0
        for u in name.unicodeScalars {
            if count >= maxLength {
                out += "..."
                break
            }
            count += 1
            if needsEscape(u) {
                out += "\\u{" + String(u.value, radix: 16, uppercase: true) + "}"
            } else {
                out.unicodeScalars.append(u)
            }
        }
        return out
    }

    private static func needsEscape(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0..<0x20, 0x7F...0x9F: return true  // C0, DEL, C1
        case 0x2028, 0x2029, 0x200B...0x200F, 0x202A...0x202E, 0x2066...0x2069, 0xFEFF: return true  // separators, bidi
        default: return false
        }
    }
}
