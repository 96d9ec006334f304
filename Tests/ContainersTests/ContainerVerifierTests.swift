import CheckpointStore
import Testing

@testable import Containers

@Suite struct ContainerVerifierTests {
    func floats(_ v: [Float]) -> [UInt8] { v.withUnsafeBytes { Array($0) } }

    @Test func nonFiniteValuesAndUnreadableTensorsAreNamed() {
        let good = ContainerTensor(key: .model("a"), dtype: .float32, shape: [3, 2])
        let nan = ContainerTensor(key: .model("b"), dtype: .float32, shape: [4])
        let bf = ContainerTensor(key: .model("c"), dtype: .bfloat16, shape: [2])
        let bad = ContainerTensor(key: .model("d"), dtype: .int32, shape: [1])
        let c = MemoryContainer([
            (good, floats([1, 2, 3, 4, 5, 6])), (nan, floats([0, .nan, .infinity, 1])),
            (bf, [0x80, 0x7f, 0x80, 0x3f]),  // +Inf, 1.0
            (bad, [1, 0, 0, 0]),
        ])
        c.failing = [bad.key]
        var v = ContainerVerifier()
        v.blockBytes = 8  // several blocks per tensor
        let r = v.verify(c)
        #expect(r.tensorsChecked == 3)
        #expect(r.failures.map(\.check) == ["nonfinite", "nonfinite", "read"])
        #expect(r.failures[0].message == "memory: tensor b: 2 NaN/Inf values")
        #expect(r.failures[1].message == "memory: tensor c: 1 NaN/Inf values")
        #expect(r.tensorsWithoutChecksum == 4)
        #expect(r.metadataChecksum == "none")
        #expect(r.notes.count == 1)

        v.rejectNonFinite = false
        c.failing = []
        #expect(v.verify(c).ok)
    }
}
