import ArgumentParser
import CheckpointStore

/// `--dtype`: the parameter dtypes ckpt writes.
enum DTypeChoice: String, ExpressibleByArgument, CaseIterable {
    case fp32, bf16, fp16

    /// The stored dtype.
    var dtype: DType {
        switch self {
        case .fp32: return .float32
        case .bf16: return .bfloat16
        case .fp16: return .float16
        }
    }
}
