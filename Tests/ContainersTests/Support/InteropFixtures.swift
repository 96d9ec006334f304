import Foundation

/// Tests/Fixtures/interop: directories made by the real libraries (torch, transformers,
/// safetensors) with the scripts in tools/, committed by the fixtures work.
enum InteropFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/interop").path

    /// The Hugging Face fixtures.
    static let hfNames = ["hf-gpt2", "hf-gpt2-sharded", "hf-llama", "hf-llama-sharded", "hf-neox"]

    /// Whether every Hugging Face fixture is present.
    static var hfAvailable: Bool { hfNames.allSatisfy { FileManager.default.fileExists(atPath: root + "/" + $0 + "/expected.json") } }
}
