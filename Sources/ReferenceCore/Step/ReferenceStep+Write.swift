import CheckpointStore

extension ReferenceStep {
    /// Tensors of more elements than this (16 Mi: 64 MiB in fp32) are updated and written in
    /// row blocks of about this many elements, so the step's working set is bounded by a block
    /// and not by the largest tensor (a 20B model's token table is 1.2 GiB).
    public static let defaultStreamElements = 1 << 24

    /// Updates parameter `name` with `gradient` · `clipCoefficient` and writes the parameter
    /// (in its stored dtype), exp_avg, exp_avg_sq and, when A has one, the master. A tensor of
    /// more than `streamElements` elements (default `defaultStreamElements`) is written as one stream per output, each computing
    /// the update of a block of rows at a time (the update is recomputed per output: the writer
    /// has one open stream at a time, and AdamW costs far less than the reads it saves holding).
    static func writeUpdate(
        _ writer: CheckpointWriter, state: ReferenceState, name: String, gradient: ScalarBuffer<Float>, clipCoefficient clip: Double,
        streamElements: Int = defaultStreamElements
    ) throws(ReferenceError) {
        guard let shape = state.parameters.shapes[name], let dtype = state.parameterDTypes[name] else {
            throw .missingTensor(path: state.source.path, tensor: name)
        }
        func store(_ f: () throws(StoreError) -> Void) throws(ReferenceError) {
            do throws(StoreError) { try f() } catch { throw .store(error) }
        }
        guard shape.count >= 2, shape.reduce(1, *) > streamElements else {
            let u = try state.referenceUpdate(name: name, gradient: gradient, clipCoefficient: clip, keepBefore: false)
            try store { () throws(StoreError) in
                try withStoredBytes(u.theta, dtype) { (d, b) throws(StoreError) in try writer.write(.model(name), dtype: d, shape: shape, bytes: b) }
                try writer.write(.optimizer("exp_avg", name), shape: shape, floats: u.expAvg)
                try writer.write(.optimizer("exp_avg_sq", name), shape: shape, floats: u.expAvgSq)
                if u.hasMaster { try writer.write(.optimizer("master", name), shape: shape, floats: u.theta) }
            }
            return
        }
        let rowElements = shape.dropFirst().reduce(1, *), perBlock = max(1, streamElements / rowElements)
        var outputs: [(key: TensorKey, dtype: DType)] = [
            (.model(name), storedDType(dtype)), (.optimizer("exp_avg", name), .float32), (.optimizer("exp_avg_sq", name), .float32),
        ]
        if state.source.describe(.optimizer("master", name)) != nil { outputs.append((.optimizer("master", name), .float32)) }
        for (i, output) in outputs.enumerated() {
            var opened: TensorStream?
            try store { () throws(StoreError) in opened = try writer.beginTensor(output.key, dtype: output.dtype, shape: shape) }
            guard let stream = opened else { continue }
            var row = 0
            while row < shape[0] {
                let rows = row..<min(shape[0], row + perBlock)
                let u = try state.referenceUpdate(name: name, gradient: gradient, clipCoefficient: clip, rows: rows, keepBefore: false)
                try store { () throws(StoreError) in
                    switch i {
                    case 0: try withStoredBytes(u.theta, dtype) { (_, b) throws(StoreError) in try stream.append(b) }
                    case 1: try stream.append(u.expAvg)
                    case 2: try stream.append(u.expAvgSq)
                    default: try stream.append(u.theta)
                    }
                }
                row = rows.upperBound
            }
            try store { () throws(StoreError) in try stream.finish() }
        }
    }

    /// The dtype a parameter of stored dtype `dtype` is written in (float types other than
    /// bf16, fp16 and fp64 as fp32).
    static func storedDType(_ dtype: DType) -> DType {
        switch dtype {
        case .bfloat16, .float16, .float64: return dtype
        default: return .float32
        }
    }

    /// `theta` rounded to the parameter's dtype, as the bytes written and their dtype.
    static func withStoredBytes(_ theta: [Float], _ dtype: DType, _ body: (DType, UnsafeRawBufferPointer) throws(StoreError) -> Void) throws(StoreError) {
        switch storedDType(dtype) {
        case .bfloat16: try theta.map { HalfPrecision.bf16Bits(from: $0) }.withUnsafeBytesTyped { (b) throws(StoreError) in try body(.bfloat16, b) }
        case .float16: try theta.map { Float16($0).bitPattern }.withUnsafeBytesTyped { (b) throws(StoreError) in try body(.float16, b) }
        case .float64: try theta.map { Double($0) }.withUnsafeBytesTyped { (b) throws(StoreError) in try body(.float64, b) }
        default: try theta.withUnsafeBytesTyped { (b) throws(StoreError) in try body(.float32, b) }
        }
    }
}
