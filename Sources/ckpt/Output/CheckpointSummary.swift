import CheckpointStore
import Containers
import Foundation
import Sharding

/// The numbers `ckpt info` prints, for a checkpoint file or a whole Megatron directory.
struct CheckpointSummary {
    var path: String
    var formatVersion: Int64
    var writer: String?
    var created: String?
    var metadata: CheckpointMetadata
    var parameters: Int
    var files: Int
    var tensors: Int
    var modelTensors: Int
    var dtypes: [String: Int]
    var rawBytes: Int
    var storedBytes: Int
    /// The layout as JSON text (the `layout` attribute, or the directory's TP x PP shape).
    var layoutText: String
    /// The format of a checkpoint that is not ckpt HDF5 (`hf`, `megatron-torch`, `safetensors`,
    /// `torch`), or nil.
    var foreignFormat: String?

    var ratio: Double { rawBytes == 0 ? 1 : Double(storedBytes) / Double(rawBytes) }

    /// The summary of one file.
    init(_ r: CheckpointReader) {
        path = r.path
        formatVersion = r.formatVersion
        writer = r.writer
        created = r.created
        metadata = r.metadata
        parameters = r.tensors.filter { $0.key.isModel }.reduce(0) { $0 + $1.elementCount }
        files = 1
        layoutText = r.metadata.layoutJSON
        (tensors, modelTensors, dtypes, rawBytes, storedBytes) = (0, 0, [:], 0, 0)
        add(r.tensors)
    }

    /// The summary of every rank file of a Megatron directory; parameters are the model's
    /// (replicated tensors counted once).
    init(_ s: CheckpointSource) throws {
        let first = (try s.container(s.layout.files[0]) as? HDF5Container)?.reader
        path = s.path
        formatVersion = first?.formatVersion ?? 0
        writer = first?.writer
        created = first?.created
        metadata = s.metadata
        parameters = s.config.parameterCount
        files = s.layout.files.count
        if let shape = s.layout.shape {
            let vpp = shape.vpp == 1 ? "" : #","vpp":\#(shape.vpp)"#
            layoutText = #"{"kind":"\#(s.layout.kind.name)","pp":\#(shape.pp),"tp":\#(shape.tp),"vocab_divisible_by":\#(shape.vocabDivisibleBy)\#(vpp)}"#
        } else {
            layoutText = s.metadata.layoutJSON
        }
        (tensors, modelTensors, dtypes, rawBytes, storedBytes) = (0, 0, [:], 0, 0)
        for f in s.layout.files {
            if let h = try s.container(f) as? HDF5Container {
                add(h.reader.tensors)
            } else {
                // Formats without stored sizes (no compression): stored = raw.
                for t in s.inventories[f] ?? [] { add(isModel: t.key.isModel, dtype: t.dtype, raw: t.byteCount, stored: t.byteCount) }
            }
        }
    }

    /// The summary of a checkpoint in another format: through its layout when it has one (a
    /// directory), else the bare file's tensors (no model configuration).
    init(_ f: ForeignInput) throws {
        if let s = f.source {
            self = try CheckpointSummary(s)
        } else {
            path = f.path
            formatVersion = 0
            metadata = CheckpointMetadata()
            metadata.layoutJSON = "null"
            files = 1
            layoutText = "null"
            parameters = f.files.flatMap { $0.container.tensors }.filter { $0.key.isModel }.reduce(0) { $0 + $1.count }
            (tensors, modelTensors, dtypes, rawBytes, storedBytes) = (0, 0, [:], 0, 0)
            for (_, c) in f.files {
                for t in c.tensors { add(isModel: t.key.isModel, dtype: t.dtype, raw: t.byteCount, stored: t.byteCount) }
            }
        }
        foreignFormat = f.formatName
    }

    private mutating func add(isModel: Bool, dtype: DType, raw: Int, stored: Int) {
        tensors += 1
        if isModel { modelTensors += 1 }
        dtypes[dtype.rawValue, default: 0] += 1
        rawBytes += raw
        storedBytes += stored
    }

    private mutating func add(_ list: [TensorInfo]) {
        tensors += list.count
        modelTensors += list.filter { $0.key.isModel }.count
        for t in list { dtypes[t.dtype.rawValue, default: 0] += 1 }
        rawBytes += list.reduce(0) { $0 + $1.rawBytes }
        storedBytes += list.reduce(0) { $0 + $1.storedBytes }
    }

    /// The `info --json` object: absent values are `null`; `layout` and `user_metadata` are JSON
    /// values, not strings; `rng` maps each RNG state's name to its size in bytes.
    func jsonObject() -> [String: Any] {
        func encoded(_ v: (some Encodable)?) -> Any {
            guard let v, let d = try? JSONEncoder().encode(v) else { return NSNull() }
            return (try? JSONSerialization.jsonObject(with: d, options: [.fragmentsAllowed])) ?? NSNull()
        }
        return [
            "path": path, "format_version": Int(formatVersion), "writer": writer ?? NSNull(), "created": created ?? NSNull(),
            "format": foreignFormat ?? "ckpt", "checksums": foreignFormat == nil,
            "family": metadata.modelConfig?.family ?? NSNull(), "model_config": encoded(metadata.modelConfig),
            "optimizer": encoded(metadata.optimizer), "parameters": parameters, "files": files, "tensors": tensors,
            "model_tensors": modelTensors, "dtypes": dtypes, "raw_bytes": rawBytes, "stored_bytes": storedBytes, "ratio": ratio,
            "step": Int(metadata.step), "layout": JSONDocument.value(ofJSONText: layoutText),
            "user_metadata": JSONDocument.value(ofJSONText: metadata.userJSON),
            "rng": metadata.rng.mapValues(\.count),
        ]
    }
}
