import Containers

/// A real `torch.save` archive is what Megatron's reader reads.
extension TorchArchive: TorchPickleSource {}

/// A real `torch.save` archive writer is what Megatron's writer writes into.
extension TorchArchiveWriter: TorchArchiveSink {}
