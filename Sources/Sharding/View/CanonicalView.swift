import CheckpointStore
import Containers

/// The canonical (wafer-layout) tensors of a checkpoint in any layout and format, read straight
/// into memory through the reshard plan to the wafer layout — no file is written.
///
/// Names are canonical (`layers.3.attn.q.weight`), the vocabulary unpadded, Q/K/V separate,
/// weights `[out, in]`; every section the source holds (`model`, `optimizer/exp_avg`, ...) is
/// listed. A read of a box copies only the pieces of the source that fall inside it, each read
/// as one box of its source container (a hyperslab of a ckpt rank file, a strided view of a
/// safetensors buffer), transposed where the source stores it so. The source is validated as
/// `convert` validates it (every tensor with its local shape, sections and dtypes agreeing
/// across pieces); replicas are not compared (reads use the primary copies).
///
/// It is itself a `TensorContainer`, so anything reading containers (ReferenceCore's tensor
/// source for `verify-step`) reads a Megatron directory as if it were a wafer file.
public final class CanonicalView: TensorContainer {
    /// The source read.
    public let source: CheckpointSource
    /// The plan from the source's layout to the wafer layout.
    public let plan: ReshardPlan
    /// Every canonical tensor: model tensors in canonical order, then each optimizer section.
    public let tensors: [ContainerTensor]
    private let planned: [String: PlannedTensor]
    private let index: [TensorKey: Int]

    /// Plans the view of `source` (with `planner`, by default over the bundled layout rules)
    /// and validates the source against it.
    public init(source: CheckpointSource, planner given: ReshardPlanner? = nil) throws(ShardingError) {
        self.source = source
        let planner: ReshardPlanner
        if let given { planner = given } else { planner = try ReshardPlanner() }
        let plan = try planner.plan(source.config, from: source.layout, to: .wafer)
        self.plan = plan
        let sections = try SourceValidator(source: source, plan: plan).validate()
        let wafer = plan.files.first?.tensors ?? []
        var list: [ContainerTensor] = []
        var bySection: [String: [ContainerTensor]] = [:]
        var sectionOrder: [String] = []
        for t in wafer {
            for s in sections[.wafer]?[t.target.name] ?? [] {
                let c = ContainerTensor(key: TensorKey(section: s.section, name: t.target.name), dtype: s.dtype, shape: t.target.shape)
                if s.section == "model" {
                    list.append(c)
                } else {
                    if bySection[s.section] == nil { sectionOrder.append(s.section) }
                    bySection[s.section, default: []].append(c)
                }
            }
        }
        for s in sectionOrder.sorted() { list += bySection[s] ?? [] }
        tensors = list
        planned = Dictionary(wafer.map { ($0.target.name, $0) }, uniquingKeysWith: { a, _ in a })
        index = Dictionary(list.enumerated().map { ($1.key, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The source's path.
    public var path: String { source.path }
    /// `canonical(<source format>)`.
    public var formatName: String { "canonical(\(source.formatName))" }
    /// Whether the source's reads check stored checksums.
    public var verifiesChecksums: Bool { source.verifiesChecksums }

    /// The canonical tensor `key`, or nil.
    public func describe(_ key: TensorKey) -> ContainerTensor? { index[key].map { tensors[$0] } }

    /// Reads `box` of canonical tensor `key` into `buffer` (row-major over the box).
    public func read(_ key: TensorKey, box: TensorBox, into buffer: UnsafeMutableRawBufferPointer) throws(ContainerError) {
        do { try readCanonical(key, box: box, into: buffer) } catch {
            switch error {
            case .store(let e): throw .store(e)
            case .container(let e): throw e
            default: throw .badTensor(path: path, tensor: key.description, detail: error.description)
            }
        }
    }

    /// Reads rows `rows` (dimension 0) of canonical tensor `key` as bytes.
    public func read(_ key: TensorKey, rows: Range<Int>) throws(ShardingError) -> [UInt8] {
        guard let t = describe(key) else { throw .missingTensor(path: path, tensor: key.description) }
        let box = TensorBox.rows(rows, of: t.shape)
        var out = [UInt8](repeating: 0, count: box.count * t.dtype.size)
        let failure: ShardingError? = out.withUnsafeMutableBytes { b in
            do throws(ShardingError) {
                try readCanonical(key, box: box, into: b)
                return nil
            } catch { return error }
        }
        if let failure { throw failure }
        return out
    }

    /// Reads `box` of canonical tensor `key` into `buffer`, with the sharding error on failure.
    public func readCanonical(_ key: TensorKey, box: TensorBox, into buffer: UnsafeMutableRawBufferPointer) throws(ShardingError) {
        guard let t = describe(key), let p = planned[key.name] else { throw .missingTensor(path: path, tensor: key.description) }
        guard box.fits(t.shape) else { throw .layoutMismatch("\(path): tensor \(key): box \(box) lies outside shape \(t.shape)") }
        let es = t.dtype.size
        guard buffer.count >= box.count * es, let out = buffer.baseAddress else {
            if box.count == 0 { return }
            throw .layoutMismatch("\(path): tensor \(key): buffer of \(buffer.count) bytes is smaller than the \(box.count * es) selected")
        }
        var scratch: UnsafeMutableRawBufferPointer?
        defer { scratch?.deallocate() }
        for piece in p.pieces {
            guard var q = piece.restricted(toDest: box) else { continue }
            q.destBox = q.destBox.relative(to: box.offsets)
            let sourceKey = TensorKey(section: key.section, name: q.sourceTensor)
            // Contiguous in the output and in source order: read straight into place.
            if !q.transposed && Self.isContiguous(q.destBox, in: box.sizes) {
                let start = Self.offset(of: q.destBox.offsets, in: box.sizes) * es
                try source.read(q.source, sourceKey, box: q.sourceBox, into: UnsafeMutableRawBufferPointer(start: out + start, count: q.count * es))
                continue
            }
            let bytes = q.count * es
            if (scratch?.count ?? 0) < bytes {
                scratch?.deallocate()
                scratch = .allocate(byteCount: bytes, alignment: 64)
            }
            guard let s = scratch, let sBase = s.baseAddress else { continue }
            try source.read(q.source, sourceKey, box: q.sourceBox, into: UnsafeMutableRawBufferPointer(start: sBase, count: bytes))
            BoxCopy.copy(
                from: sBase, shape: q.sourceBox.sizes, box: .whole(q.sourceBox.sizes), to: out, shape: box.sizes, box: q.destBox,
                transposed: q.transposed, elementSize: es)
        }
    }

    /// Whether `inner` (relative to an array of shape `shape`) is one contiguous run: whole in
    /// every dimension after the first that is not 1.
    private static func isContiguous(_ inner: TensorBox, in shape: [Int]) -> Bool {
        var d = 0
        while d < inner.sizes.count && inner.sizes[d] == 1 { d += 1 }
        guard d < inner.sizes.count else { return true }
        for e in d + 1..<inner.sizes.count where inner.offsets[e] != 0 || inner.sizes[e] != shape[e] { return false }
        return true
    }

    private static func offset(of index: [Int], in shape: [Int]) -> Int {
        zip(index, BoxCopy.strides(shape)).reduce(0) { $0 + $1.0 * $1.1 }
    }
}
