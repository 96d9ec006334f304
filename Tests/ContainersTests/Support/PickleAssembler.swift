@testable import Containers

/// Builds pickles opcode by opcode for tests, independently of `PickleWriter`.
struct PickleAssembler {
    var bytes: [UInt8] = []

    init(protocol p: UInt8? = 2) {
        if let p { bytes = [0x80, p] }
    }

    mutating func op(_ o: PickleOpcode) { bytes.append(o.rawValue) }
    mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }

    mutating func global(_ module: String, _ name: String) {
        op(.global)
        raw(Array((module + "\n" + name + "\n").utf8))
    }

    mutating func stackGlobal(_ module: String, _ name: String) {
        unicode(module)
        unicode(name)
        op(.stackGlobal)
    }

    mutating func unicode(_ s: String) {
        op(.binUnicode)
        le32(UInt32(s.utf8.count))
        raw(Array(s.utf8))
    }

    mutating func int(_ v: Int) {
        if v >= 0 && v < 256 {
            op(.binInt1)
            bytes.append(UInt8(v))
        } else {
            op(.binInt)
            le32(UInt32(bitPattern: Int32(v)))
        }
    }

    mutating func put(_ k: UInt8) {
        op(.binPut)
        bytes.append(k)
    }

    mutating func get(_ k: UInt8) {
        op(.binGet)
        bytes.append(k)
    }

    mutating func le32(_ v: UInt32) {
        for i in 0..<4 { bytes.append(UInt8((v >> (8 * UInt32(i))) & 0xFF)) }
    }

    /// `module.name(arg)` via GLOBAL (or STACK_GLOBAL) and REDUCE.
    mutating func call(_ module: String, _ name: String, stack: Bool = false, arg: String) {
        if stack { stackGlobal(module, name) } else { global(module, name) }
        unicode(arg)
        op(.tuple1)
        op(.reduce)
    }

    mutating func stop() { op(.stop) }

    /// The finished pickle (STOP appended).
    func finished() -> [UInt8] { bytes + [PickleOpcode.stop.rawValue] }
}
