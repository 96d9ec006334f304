/// The byte stream of one chunk item of a `DCPCheckpointWriter`: the chunk's elements go into
/// the item zip's `archive/data/0` record (CRC-32 on the way); `finish` writes the rest.
final class DCPChunkSink: TensorByteSink {
    private let writer: DCPCheckpointWriter
    private let tensor: DCPPlannedTensor
    private let box: TensorBox
    private let file: String
    private let start: Int
    private let zip: ZipStreamWriter

    init(writer: DCPCheckpointWriter, tensor: DCPPlannedTensor, box: TensorBox, file: String, start: Int, zip: ZipStreamWriter) {
        self.writer = writer
        self.tensor = tensor
        self.box = box
        self.file = file
        self.start = start
        self.zip = zip
    }

    /// Appends the next bytes of the chunk.
    func append(_ bytes: UnsafeRawBufferPointer) throws(ContainerError) {
        try writer.append(bytes, to: zip, fqn: tensor.fqn, box: box)
    }

    /// Ends the chunk; fails unless exactly its byte count was appended.
    func finish() throws(ContainerError) {
        try writer.finishChunk(tensor, box: box, file: file, start: start, zip: zip)
    }
}
