import CheckpointStore
import Testing

@testable import ReferenceCore

/// Runs a verification in memory and again as a pipeline, and requires the two reports to be
/// identical (every figure, in the same order), so each fault test also covers the pipelined
/// path.
enum PipelinedVerification {
    /// The pipelined variants tried: one block per stage, spilled and in two passes.
    static let variants = [
        StepMemory(clipping: .spill, residentBlocks: 1), StepMemory(clipping: .twoPass, residentBlocks: 1),
    ]

    /// The in-memory report, after checking that every variant reports the same.
    static func verify(_ verifier: StepVerifier, before: String, after: String, batch: String) throws -> StepVerificationReport {
        let r = try verifier.verify(before: CheckpointFileSource(path: before), after: CheckpointFileSource(path: after), batchPath: batch)
        #expect(r.plan?.mode == .inMemory)
        for memory in variants {
            let p = try verifier.verify(
                before: CheckpointFileSource(path: before), after: CheckpointFileSource(path: after), batchPath: batch, memory: memory)
            #expect(p.plan?.mode.rawValue == memory.clipping.rawValue)
            #expect(p.jsonText() == r.jsonText(), "\(after): the \(memory.clipping) pipeline reports otherwise than the in-memory pass")
        }
        return r
    }
}
