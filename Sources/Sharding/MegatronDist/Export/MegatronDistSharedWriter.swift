import CheckpointStore
import Containers
import Foundation

/// The one `DCPCheckpointWriter` of a `torch_dist` export's iteration directory, shared by its
/// rank writers (one `TensorContainerWriter` per rank, as the converter makes them): created by
/// the first, committed (writing `.metadata`) when the last rank commits, aborted when any
/// rank aborts. Found by the iteration directory's path, unique per conversion (it lies in the
/// conversion's temporary tree).
final class MegatronDistSharedWriter: @unchecked Sendable {
    // `@unchecked Sendable`: every access to the mutable state goes through `lock`; the DCP
    // writer is used by one rank writer at a time (the converter writes from one thread).
    let directory: String
    let dcp: DCPCheckpointWriter
    private let ranks: Set<ShardFile>
    private var committed: Set<ShardFile> = []
    private let lock = NSLock()

    private init(directory: String, dcp: DCPCheckpointWriter, ranks: Set<ShardFile>) {
        self.directory = directory
        self.dcp = dcp
        self.ranks = ranks
    }

    nonisolated(unsafe) private static var open: [String: MegatronDistSharedWriter] = [:]
    private static let registryLock = NSLock()

    /// The shared writer of `directory`, created with `make` (and expecting commits from
    /// `ranks`) if there is none yet.
    static func writer(
        for directory: String, ranks: Set<ShardFile>, make: () throws(ContainerError) -> DCPCheckpointWriter
    ) throws(ContainerError) -> MegatronDistSharedWriter {
        registryLock.lock()
        defer { registryLock.unlock() }
        if let w = open[directory] { return w }
        let w = MegatronDistSharedWriter(directory: directory, dcp: try make(), ranks: ranks)
        open[directory] = w
        return w
    }

    /// Rank `f` is complete; the last one commits the DCP checkpoint.
    func rankCommitted(_ f: ShardFile) throws(ContainerError) {
        lock.lock()
        committed.insert(f)
        let last = committed == ranks
        lock.unlock()
        guard last else { return }
        Self.forget(directory)
        try dcp.commit()
    }

    /// Drops everything written (any rank's abort).
    func abort() {
        Self.forget(directory)
        dcp.abort()
    }

    private static func forget(_ directory: String) {
        registryLock.lock()
        open[directory] = nil
        registryLock.unlock()
    }
}
