import Dispatch
import Glibc

/// Deterministic random-initialised checkpoints of a `ModelConfig`, written streaming: the
/// built-in example for the README, the tests and the benchmarks.
///
/// Weights are N(0, 0.02) (Box-Muller over SplitMix64), residual projections (`attn.out`,
/// `mlp.down`) scaled by 1/sqrt(2L) as in GPT-2, biases 0, norm weights 1. With Adam state,
/// `exp_avg` ~ N(0, 1e-4²) and `exp_avg_sq` = its square plus 1e-12; bf16 parameters get an
/// fp32 `master` holding the unrounded values. Every value depends only on (seed, tensor name,
/// element index), never on thread count.
public struct SyntheticCheckpoint: Sendable {
    /// The architecture.
    public var config: ModelConfig
    /// Parameter dtype: float32 or bfloat16 (or float16).
    public var dtype: DType = .float32
    /// Whether to include AdamW state (exp_avg, exp_avg_sq, and master for 16-bit params).
    public var withOptimizer = false
    /// Optimizer hyperparameters recorded when `withOptimizer`.
    public var optimizer = OptimizerConfig()
    /// Step recorded in the checkpoint.
    public var step: Int64 = 0
    /// Seed of all values.
    public var seed: UInt64 = 0

    /// Creates a generator for `config`.
    public init(config: ModelConfig, dtype: DType = .float32, withOptimizer: Bool = false, step: Int64 = 0, seed: UInt64 = 0) {
        self.config = config
        self.dtype = dtype
        self.withOptimizer = withOptimizer
        self.step = step
        self.seed = seed
    }

    /// One tensor the generator writes.
    public struct Item: Sendable {
        /// Where it goes.
        public var key: TensorKey
        /// Stored dtype.
        public var dtype: DType
        /// Shape.
        public var shape: [Int]
        /// How its values are drawn.
        public var kind: Kind
        /// Bytes it occupies.
        public var bytes: Int { shape.reduce(1, *) * dtype.size }
    }

    /// Value distributions.
    public enum Kind: Sendable {
        /// Approximately normal with this standard deviation.
        case normal(Float)
        /// All elements equal.
        case constant(Float)
        /// The square of a normal with this standard deviation, plus 1e-12.
        case squaredNormal(Float)
    }

    /// Every tensor in write order (each parameter followed by its optimizer state).
    public func items() -> [Item] {
        var out: [Item] = []
        let residualStd = Float(0.02 / Double(2 * config.layers).squareRoot())
        for (name, shape) in config.canonicalTensors() {
            let kind: Kind
            if name.hasSuffix(".bias") {
                kind = .constant(0)
            } else if name.contains("norm.") {
                kind = .constant(1)
            } else if name.hasSuffix("attn.out.weight") || name.hasSuffix("mlp.down.weight") {
                kind = .normal(residualStd)
            } else {
                kind = .normal(0.02)
            }
            out.append(Item(key: .model(name), dtype: dtype, shape: shape, kind: kind))
            if withOptimizer {
                out.append(Item(key: .optimizer("exp_avg", name), dtype: .float32, shape: shape, kind: .normal(1e-4)))
                out.append(Item(key: .optimizer("exp_avg_sq", name), dtype: .float32, shape: shape, kind: .squaredNormal(1e-4)))
                if dtype != .float32 {
                    out.append(Item(key: .optimizer("master", name), dtype: .float32, shape: shape, kind: kind))
                }
            }
        }
        return out
    }

    /// Total bytes of all tensors.
    public var totalBytes: Int { items().reduce(0) { $0 + $1.bytes } }

    /// The metadata recorded in the checkpoint.
    public var metadata: CheckpointMetadata {
        CheckpointMetadata(
            step: step, modelConfig: config, optimizer: withOptimizer ? optimizer : nil,
            rng: ["synth_seed": withUnsafeBytes(of: seed.littleEndian) { Array($0) }])
    }

    /// Writes the checkpoint to `path` (atomically); `progress` receives bytes written so far.
    public func write(
        to path: String, options: WriterOptions = WriterOptions(),
        progress: ((Int) -> Void)? = nil
    ) throws(StoreError) {
        let w = try CheckpointWriter(path: path, options: options)
        w.metadata = metadata
        var done = 0
        let block = 1 << 21  // elements generated and appended at a time
        var floats = [Float](repeating: 0, count: block)
        var half = [UInt16](repeating: 0, count: block)
        for item in items() {
            let s = try w.beginTensor(item.key, dtype: item.dtype, shape: item.shape)
            let n = item.shape.reduce(1, *)
            var start = 0
            while start < n {
                let m = min(block, n - start)
                fill(&floats, count: m, item: item, nameSeed: nameSeed(item), start: start)
                switch item.dtype {
                case .float32:
                    try withBytes(floats) { (b) throws(StoreError) in try s.append(UnsafeRawBufferPointer(rebasing: b[0..<(4 * m)])) }
                case .bfloat16, .float16:
                    let bf = item.dtype == .bfloat16
                    for i in 0..<m { half[i] = bf ? HalfPrecision.bf16Bits(from: floats[i]) : HalfPrecision.f16Bits(from: floats[i]) }
                    try withBytes(half) { (b) throws(StoreError) in try s.append(UnsafeRawBufferPointer(rebasing: b[0..<(2 * m)])) }
                default:
                    throw .invalidArgument("synthetic checkpoints hold float32, float16 or bfloat16 parameters, not \(item.dtype.rawValue)")
                }
                start += m
                done += m * item.dtype.size
                progress?(done)
            }
            try s.finish()
        }
        try w.commit()
    }

    /// Generates elements `start..<start+count` of `item` as Float into `out` (resized if needed).
    public func generate(_ item: Item, start: Int, count: Int, into out: inout [Float]) {
        if out.count < count { out = [Float](repeating: 0, count: count) }
        fill(&out, count: count, item: item, nameSeed: nameSeed(item), start: start)
    }

    /// Seed of one tensor: the master copy draws the same values as its parameter.
    private func nameSeed(_ item: Item) -> UInt64 {
        let state = item.key.optimizerState
        let keyName = state == "master" ? item.key.name : item.key.description
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
        for b in keyName.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return h
    }

    /// Fills `out[0..<count]` with elements `start..<start+count` of the item, in parallel
    /// blocks of 64 Ki elements each seeded from its index.
    func fill(_ out: inout [Float], count: Int, item: Item, nameSeed: UInt64, start: Int) {
        let sub = 1 << 16
        out.withUnsafeMutableBufferPointer { buf in
            let target = SendablePointer(buf.baseAddress!)
            switch item.kind {
            case .constant(let v):
                for i in 0..<count { target.p[i] = v }
            case .normal(let std), .squaredNormal(let std):
                let squared: Bool = { if case .squaredNormal = item.kind { return true } else { return false } }()
                // Element e belongs to generator block e / sub; blocks are independent.
                let first = start / sub, last = (start + count - 1) / sub
                DispatchQueue.concurrentPerform(iterations: last - first + 1) { bi in
                    let b = first + bi
                    var rng = SplitMix64(seed: SplitMix64.mix(nameSeed ^ (UInt64(b) &* 0xD1B5_4A32_D192_ED03)))
                    let lo = max(start, b * sub), hi = min(start + count, (b + 1) * sub)
                    // Box-Muller: one 64-bit draw gives a pair of normals for elements 2i, 2i+1
                    // of the block. Skip to the pair holding element lo.
                    let firstPair = (lo - b * sub) / 2
                    for _ in 0..<firstPair { _ = rng.next() }
                    var e = b * sub + 2 * firstPair
                    while e < hi {
                        let r = rng.next()
                        let u1 = (Float(r >> 40) + 1) * (1.0 / 16_777_216.0)  // (0, 1]
                        let u2 = Float(r & 0xff_ffff) * (1.0 / 16_777_216.0)  // [0, 1)
                        let radius = (-2 * logf(u1)).squareRoot() * std
                        let angle = 2 * Float.pi * u2
                        let z0 = radius * cosf(angle), z1 = radius * sinf(angle)
                        if e >= lo { target.p[e - start] = squared ? z0 * z0 + 1e-12 : z0 }
                        if e + 1 < hi { target.p[e + 1 - start] = squared ? z1 * z1 + 1e-12 : z1 }
                        e += 2
                    }
                }
            }
        }
    }
}

/// A pointer that may cross into `concurrentPerform`; each iteration writes a disjoint range.
struct SendablePointer<T>: @unchecked Sendable {
    let p: UnsafeMutablePointer<T>
    init(_ p: UnsafeMutablePointer<T>) { self.p = p }
}

/// SplitMix64: a tiny, fast, seedable generator.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// The SplitMix64 output function: a bijective 64-bit mixer (used to derive block seeds
    /// whose sequences do not overlap).
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
