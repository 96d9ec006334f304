/// The protocol 0 text opcodes: numbers, quoted strings, memo keys and global names as lines.
extension PickleMachine {
    func executeText(_ op: PickleOpcode) throws(ContainerError) {
        switch op {
        case .int:
            let l = try line(max: limits.maxTextLineBytes)
            if l.elementsEqual([0x30, 0x30]) { return try push(.bool(false)) }  // "00"
            if l.elementsEqual([0x30, 0x31]) { return try push(.bool(true)) }  // "01"
            try push(try decimal(l))
        case .long:
            var l = try line(max: limits.maxTextLineBytes)
            if l.last == 0x4C { l = l.dropLast() }  // trailing L
            try push(try decimal(l))
        case .float:
            let l = try line(max: limits.maxTextLineBytes)
            guard let s = String(validating: l, as: UTF8.self), let v = Double(s.trimmingSpaces) else {
                throw malformed("FLOAT text is not a number")
            }
            try push(.float(v))
        case .string:
            let l = try line(max: limits.maxStringBytes)
            try push(.string(try utf8(try PickleEscapes.quoted(l, fail: malformed)[...])))
        case .unicode:
            let l = try line(max: limits.maxStringBytes)
            try push(.string(try PickleEscapes.rawUnicode(l, fail: malformed)))
        case .get:
            try push(try recall(try memoKey()))
        case .put:
            try memoize(try memoKey())
        case .persID:
            let l = try line(max: limits.maxTextLineBytes)
            throw unsupported("text persistent id \(String(decoding: l.prefix(64), as: UTF8.self)) (only torch.save storage ids are read)")
        case .global:
            let m = try line(max: limits.maxTextLineBytes), n = try line(max: limits.maxTextLineBytes)
            try push(.global(try named(module: try utf8(m), name: try utf8(n))))
        case .inst:
            let m = try line(max: limits.maxTextLineBytes), n = try line(max: limits.maxTextLineBytes)
            let g = try named(module: try utf8(m), name: try utf8(n))
            let items = try popToMark()
            try push(try call(.leaf(.global(g)), args: .box(made(PickleBox(.tuple, items: items))), construction: .reduce))
        default:
            throw malformed("opcode 0x\(String(op.rawValue, radix: 16)) is not a text opcode")
        }
    }

    /// A decimal integer line, its digits bounded.
    func decimal(_ l: ArraySlice<UInt8>) throws(ContainerError) -> PickleValue {
        guard l.count <= limits.maxIntDigits + 1 else {
            throw malformed("an integer of more than \(limits.maxIntDigits) digits")
        }
        guard let v = PickleIntegers.parseDecimal(l) else { throw malformed("INT/LONG text is not a decimal integer") }
        return v
    }

    func memoKey() throws(ContainerError) -> Int {
        let l = try line(max: 20)
        guard let s = String(validating: l, as: UTF8.self), let k = Int(s), k >= 0 else { throw malformed("memo key is not a number") }
        return k
    }
}

fileprivate extension String {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}
