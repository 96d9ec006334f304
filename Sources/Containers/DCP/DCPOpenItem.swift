/// One item of a DCP checkpoint opened for reading: the `torch.save` archive at its bytes
/// (decoded first when it carries a zstd transform) and, for a tensor chunk, the checked tensor
/// inside it.
final class DCPOpenItem: Sendable {
    /// The archive.
    let archive: TorchArchive
    /// The chunk's tensor (nil for a bytes item).
    let tensor: TorchTensorRef?

    init(archive: TorchArchive, tensor: TorchTensorRef?) {
        self.archive = archive
        self.tensor = tensor
    }
}
