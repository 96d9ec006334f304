import CheckpointStore

/// Where each parameter's optimizer state lies in the flat fp32 tensors of a `distrib_optim.pt`
/// (the `buckets_coalesced` layout of megatron-core >= 0.7), computed the way megatron-core
/// 0.8 and later lay out their parameter-and-gradient buffers (`_ParamAndGradBuffer`):
///
/// 1. one buffer per model chunk and (param dtype, grad dtype), in order of first appearance
///    within the chunk, chunk after chunk (`gbuf_idx` runs over
///    `itertools.chain(*per_model_buffers.values())`; one chunk without a virtual pipeline);
/// 2. parameters placed in **reverse** registration order;
/// 3. every parameter start padded up to a multiple of 64 elements;
/// 4. a bucket closes once it holds at least `bucketSize` elements (never without
///    `overlap_grad_reduce`, nor on pipeline stages > 0, nor in model chunks > 0, which
///    `get_model` wraps with `disable_bucketing`), and before and after a `shared_embedding`
///    parameter (the tied embedding / output layer when PP > 1);
/// 5. bucket ends padded up to a multiple of lcm(DP, 128) (or lcm(DP, 128, 65536));
/// 6. the file keeps each bucket's first `numel_unpadded` elements (up to its last parameter's
///    end, alignment gaps included, end padding dropped), buckets concatenated.
///
/// A pure function of the parameter list and the settings; `numel_unpadded` in the file is the
/// check that the walk matched.
public struct DistribOptimLayout: Sendable, Hashable {
    /// A parameter as the walk needs it.
    public struct Param: Sendable, Hashable {
        /// Its name (for messages and lookups).
        public var name: String
        /// Elements.
        public var count: Int
        /// Its dtype (selects the buffer).
        public var dtype: DType
        /// Whether megatron-core marks it `shared_embedding`.
        public var sharedEmbedding: Bool

        /// Creates a parameter.
        public init(name: String, count: Int, dtype: DType, sharedEmbedding: Bool = false) {
            self.name = name
            self.count = count
            self.dtype = dtype
            self.sharedEmbedding = sharedEmbedding
        }
    }

    /// One bucket of a buffer, in padded-buffer elements.
    public struct Bucket: Sendable, Hashable {
        /// First element.
        public var start: Int
        /// One past the last element, end padding included.
        public var end: Int
        /// Elements the file keeps: the last parameter's end minus `start`.
        public var numelUnpadded: Int
    }

    /// Where one parameter lies.
    public struct Placement: Sendable, Hashable {
        /// The parameter.
        public var name: String
        /// Elements.
        public var count: Int
        /// Its bucket within the buffer.
        public var bucket: Int
        /// First element in the padded buffer.
        public var bufferStart: Int
        /// First element in the file's flat tensors.
        public var fileOffset: Int
    }

    /// One buffer: `state[index][(paramDType, gradDType)]` in the file.
    public struct Buffer: Sendable, Hashable {
        /// The model chunk whose parameters it holds (0 without a virtual pipeline).
        public var chunk: Int
        /// Parameter dtype.
        public var paramDType: DType
        /// Gradient dtype.
        public var gradDType: DType
        /// Buckets in order.
        public var buckets: [Bucket]
        /// Parameters in the order the walk placed them (reverse registration order).
        public var placements: [Placement]
        /// Elements the file keeps (its `numel_unpadded`).
        public var numelUnpadded: Int { buckets.reduce(0) { $0 + $1.numelUnpadded } }
        /// Elements of the padded buffer.
        public var numel: Int { buckets.last?.end ?? 0 }
    }

    /// The buffers, in `gbuf_idx` order.
    public let buffers: [Buffer]

    /// Walks `params` (the rank's trainable parameters in registration order) for pipeline
    /// stage `ppRank`. Fails only on sizes that overflow.
    public init(params: [Param], settings: DistribOptimSettings, ppRank: Int) throws(DistribOptimLayoutError) {
        try self.init(chunks: [params], settings: settings, ppRank: ppRank)
    }

    /// Walks each model chunk's trainable parameters (registration order within the chunk) of
    /// pipeline stage `ppRank`, chunk after chunk. With `bucketCount` the bucket size is the
    /// rank's parameter count over all chunks divided by it (`get_model`'s `num_parameters`).
    /// Fails only on sizes that overflow.
    public init(chunks: [[Param]], settings: DistribOptimSettings, ppRank: Int) throws(DistribOptimLayoutError) {
        guard settings.dataParallel >= 1 else { throw .invalid("data-parallel size \(settings.dataParallel)") }
        var bucketSize = settings.bucketSize
        if let n = settings.bucketCount {
            guard n >= 1 else { throw .invalid("bucket count \(n)") }
            var total = 0
            for p in chunks.joined() {
                let (s, o) = total.addingReportingOverflow(p.count)
                if o { throw .overflow }
                total = s
            }
            bucketSize = total / n
        }
        if ppRank > 0 { bucketSize = nil }
        let divisor = try Self.lcm(try Self.lcm(settings.dataParallel, 128), settings.padForHighNCCLBusBandwidth ? 65536 : 1)

        var buffers: [Buffer] = []
        for (chunk, params) in chunks.enumerated() {
            var keys: [[DType]] = []
            var members: [[Param]] = []
            for p in params {
                let key = [p.dtype, settings.gradsInFP32 ? .float32 : p.dtype]
                if let i = keys.firstIndex(of: key) {
                    members[i].append(p)
                } else {
                    keys.append(key)
                    members.append([p])
                }
            }
            for (key, list) in zip(keys, members) {
                let walk = try Self.walk(list, bucketSize: chunk > 0 ? nil : bucketSize, divisor: divisor)
                buffers.append(Buffer(chunk: chunk, paramDType: key[0], gradDType: key[1], buckets: walk.0, placements: walk.1))
            }
        }
        self.buffers = buffers
    }

    /// The placement of parameter `name`, with its buffer index.
    public func placement(of name: String) -> (buffer: Int, placement: Placement)? {
        for (b, buf) in buffers.enumerated() {
            if let p = buf.placements.first(where: { $0.name == name }) { return (b, p) }
        }
        return nil
    }

    private static func walk(_ params: [Param], bucketSize: Int?, divisor: Int) throws(DistribOptimLayoutError) -> ([Bucket], [Placement]) {
        var buckets: [Bucket] = []
        var placed: [(Param, Int, Int)] = []  // param, buffer start, bucket
        var paramStart = 0
        var paramEnd = 0
        var bucketStart = 0
        var inBucket = 0
        func close(at end: Int) throws(DistribOptimLayoutError) -> Int {
            let padded = try pad(end, divisor)
            buckets.append(Bucket(start: bucketStart, end: padded, numelUnpadded: end - bucketStart))
            bucketStart = padded
            inBucket = 0
            return padded
        }
        for p in params.reversed() {
            guard p.count >= 0 else { throw .invalid("parameter \(p.name) has \(p.count) elements") }
            paramStart = try pad(paramStart, 64)
            if p.sharedEmbedding && inBucket > 0 { paramStart = try close(at: paramStart) }
            let (end, o) = paramStart.addingReportingOverflow(p.count)
            if o { throw .overflow }
            paramEnd = end
            placed.append((p, paramStart, buckets.count))
            inBucket += 1
            if let size = bucketSize, paramEnd - bucketStart >= size {
                paramStart = try close(at: paramEnd)
            } else if p.sharedEmbedding {
                paramStart = try close(at: paramEnd)
            } else {
                paramStart = paramEnd
            }
        }
        if inBucket > 0 { _ = try close(at: paramEnd) }
        var fileBase: [Int] = []
        var running = 0
        for b in buckets {
            fileBase.append(running)
            running += b.numelUnpadded
        }
        let placements = placed.map { p, start, bucket in
            Placement(
                name: p.name, count: p.count, bucket: bucket, bufferStart: start,
                fileOffset: fileBase[bucket] + start - buckets[bucket].start)
        }
        return (buckets, placements)
    }

    private static func pad(_ n: Int, _ d: Int) throws(DistribOptimLayoutError) -> Int {
        let r = n % d
        if r == 0 { return n }
        let (s, o) = n.addingReportingOverflow(d - r)
        if o { throw .overflow }
        return s
    }

    static func lcm(_ a: Int, _ b: Int) throws(DistribOptimLayoutError) -> Int {
        var x = a, y = b
        while y != 0 { (x, y) = (y, x % y) }
        let (m, o) = (a / x).multipliedReportingOverflow(by: b)
        if o { throw .overflow }
        return m
    }
}

/// Why a distributed-optimizer layout cannot be computed.
public enum DistribOptimLayoutError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A size is out of range.
    case invalid(String)
    /// Element offsets overflow.
    case overflow

    /// One line.
    public var description: String {
        switch self {
        case .invalid(let d): return "distributed-optimizer layout: invalid \(d)"
        case .overflow: return "distributed-optimizer layout: element offsets overflow"
        }
    }
}
