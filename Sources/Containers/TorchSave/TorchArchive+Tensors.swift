extension TorchArchive {
    /// Every tensor of `root` with its path (see `PickleValue.tensorsWithPaths`); fails when the
    /// paths would take more than 64 MiB.
    public func tensorsWithPaths() throws(ContainerError) -> [(path: String, tensor: TorchTensorRef)] {
        guard let all = root.tensorsWithPaths() else {
            throw .malformed(path: path, detail: "the pickle names its tensors under more than 64 MiB of paths (values re-used through the memo)")
        }
        return all
    }
}
