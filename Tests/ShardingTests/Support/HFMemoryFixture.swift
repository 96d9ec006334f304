import CheckpointStore
import Foundation

@testable import Sharding

/// The setup several Hugging Face tests share: a temporary directory, a float32 tiny GPT-2
/// wafer file in it, an in-memory store with a converter over its registry, and the wafer
/// converted to the hf layout in the store under `hfPath`.
struct HFMemoryFixture {
    let dir: String
    let store: MemoryStore
    let converter: Converter
    let wafer: String
    let hfPath: String

    init(hfPath: String = "memory:/g") throws {
        dir = try Fixtures.tempDirectory()
        store = MemoryStore()
        converter = try Converter(formats: store.registry())
        wafer = dir + "/w.h5"
        self.hfPath = hfPath
        try Fixtures.writeWafer(TinyModels.gpt2, dtype: .float32, path: wafer)
        _ = try converter.convert(wafer, to: .hf, container: "memory", output: hfPath)
    }

    /// Removes the temporary directory.
    func remove() { try? FileManager.default.removeItem(atPath: dir) }
}
