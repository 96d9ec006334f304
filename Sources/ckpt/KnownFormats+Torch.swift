import Containers

extension KnownFormats {
    /// Opens a `torch.save` archive holding a flat state dict (`pytorch_model.bin`).
    static func openTorchFile(_ path: String) throws -> any TensorContainer {
        try TorchStateDictContainer(path: path)
    }
}
