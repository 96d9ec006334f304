/// Decoding of the quoted and escaped text of protocol 0's STRING and UNICODE opcodes.
enum PickleEscapes {
    /// The bytes of a STRING line: a `'...'` or `"..."` literal with Python's backslash
    /// escapes (`codecs.escape_decode`).
    static func quoted(_ line: ArraySlice<UInt8>, fail: (String) -> ContainerError) throws(ContainerError) -> [UInt8] {
        guard line.count >= 2, let q = line.first, q == 0x27 || q == 0x22, line.last == q else {
            throw fail("STRING argument is not quoted")
        }
        let s = Array(line.dropFirst().dropLast())
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            let c = s[i]
            guard c == 0x5C, i + 1 < s.count else {
                out.append(c)
                i += 1
                continue
            }
            let e = s[i + 1]
            i += 2
            switch e {
            case 0x5C, 0x27, 0x22: out.append(e)
            case 0x61: out.append(7)  // \a
            case 0x62: out.append(8)  // \b
            case 0x66: out.append(12)  // \f
            case 0x6E: out.append(10)  // \n
            case 0x72: out.append(13)  // \r
            case 0x74: out.append(9)  // \t
            case 0x76: out.append(11)  // \v
            case 0x78:  // \xhh
                guard i + 2 <= s.count, let h = hex(s[i..<(i + 2)]) else { throw fail("bad \\x escape in a STRING") }
                out.append(UInt8(h))
                i += 2
            case 0x30...0x37:  // \ooo
                var v = Int(e - 0x30), n = 1
                while n < 3, i < s.count, s[i] >= 0x30, s[i] <= 0x37 {
                    v = v * 8 + Int(s[i] - 0x30)
                    i += 1
                    n += 1
                }
                out.append(UInt8(v & 0xFF))
            default:
                out.append(0x5C)
                out.append(e)
            }
        }
        return out
    }

    /// The text of a UNICODE line (`raw-unicode-escape`: bytes are Latin-1 code points except
    /// `\uXXXX` and `\UXXXXXXXX`).
    static func rawUnicode(_ line: ArraySlice<UInt8>, fail: (String) -> ContainerError) throws(ContainerError) -> String {
        let s = Array(line)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < s.count {
            guard s[i] == 0x5C else {
                out.append(Unicode.Scalar(s[i]))
                i += 1
                continue
            }
            var run = 0
            while i + run < s.count && s[i + run] == 0x5C { run += 1 }
            let next = i + run < s.count ? s[i + run] : 0
            guard run % 2 == 1, next == 0x75 || next == 0x55 else {
                for _ in 0..<run { out.append("\\") }
                i += run
                continue
            }
            for _ in 0..<(run - 1) { out.append("\\") }
            let width = next == 0x75 ? 4 : 8
            let start = i + run + 1
            guard start + width <= s.count, let v = hex(s[start..<(start + width)]), let scalar = Unicode.Scalar(UInt32(v)) else {
                throw fail("bad \\u escape in a UNICODE string")
            }
            out.append(scalar)
            i = start + width
        }
        return String(out)
    }

    /// The value of hexadecimal digits, or nil.
    static func hex(_ digits: ArraySlice<UInt8>) -> Int? {
        var v = 0
        for d in digits {
            switch d {
            case 0x30...0x39: v = v * 16 + Int(d - 0x30)
            case 0x41...0x46: v = v * 16 + Int(d - 0x37)
            case 0x61...0x66: v = v * 16 + Int(d - 0x57)
            default: return nil
            }
        }
        return v
    }
}
