import CheckpointStore
import Containers
import Foundation

@testable import Sharding

/// Containers held in memory under made-up paths (`memory:/...`), so tests can plug a
/// container format into `FormatRegistry` the way safetensors and `torch.save` plug in.
final class MemoryStore: @unchecked Sendable {
    // `@unchecked Sendable`: every access goes through `lock`.
    private let lock = NSLock()
    private var files: [String: (container: MemoryContainer, metadata: CheckpointMetadata)] = [:]

    /// Stores a container and its metadata under `path`.
    func put(_ path: String, _ container: MemoryContainer, metadata: CheckpointMetadata) {
        lock.lock()
        defer { lock.unlock() }
        files[path] = (container, metadata)
    }

    /// The container at `path`, if any.
    func get(_ path: String) -> (container: MemoryContainer, metadata: CheckpointMetadata)? {
        lock.lock()
        defer { lock.unlock() }
        return files[path]
    }

    /// A registry of ckpt's formats plus the Hugging Face layout in memory (`memory`) and in
    /// ckpt HDF5 files (`ckpt`).
    func registry() -> FormatRegistry {
        FormatRegistry.standard
            .adding(
                source: SingleContainerSource(
                    name: "memory", layoutKind: .hf, recognizes: { [self] in get($0) != nil },
                    open: { [self] (p: String) throws(ShardingError) -> (container: any TensorContainer, metadata: CheckpointMetadata) in
                        guard let f = get(p) else { throw .io(path: p, detail: "not in memory") }
                        return (f.container, f.metadata)
                    })
            )
            .adding(
                target: SingleContainerTarget(
                    layoutKind: .hf, containerFormat: "memory", isDirectory: false,
                    makeWriter: { [self] (f: TargetFile) throws(ShardingError) -> any TensorContainerWriter in
                        MemoryContainerWriter(store: self, path: f.path, manifest: f.manifest, metadata: f.metadata)
                    })
            )
            .adding(target: HDF5FileTarget(layoutKind: .hf))
    }
}
