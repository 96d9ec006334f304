/// The data-parallel settings megatron-core's parameter-and-gradient buffers (and so the flat
/// tensors of `distrib_optim.pt`) are laid out by.
public struct DistribOptimSettings: Sendable, Hashable {
    /// Size of the group the buffers are sharded over: data-parallel x context-parallel.
    public var dataParallel: Int
    /// `ddp_bucket_size` when `overlap_grad_reduce` (default `max(40M, 1M x DP)`); nil without
    /// `overlap_grad_reduce`: one bucket per buffer.
    public var bucketSize: Int?
    /// `ddp_num_buckets` (with `overlap_grad_reduce`): the bucket size is the rank's parameter
    /// count divided by it.
    public var bucketCount: Int?
    /// `accumulate_allreduce_grads_in_fp32`: gradients (and so the buffer key) are fp32.
    public var gradsInFP32: Bool
    /// `ddp_pad_buckets_for_high_nccl_busbw`: bucket ends padded to lcm(DP, 128, 65536)
    /// instead of lcm(DP, 128).
    public var padForHighNCCLBusBandwidth: Bool

    /// Creates settings.
    public init(dataParallel: Int, bucketSize: Int? = nil, bucketCount: Int? = nil, gradsInFP32: Bool = false, padForHighNCCLBusBandwidth: Bool = false) {
        self.dataParallel = dataParallel
        self.bucketSize = bucketSize
        self.bucketCount = bucketCount
        self.gradsInFP32 = gradsInFP32
        self.padForHighNCCLBusBandwidth = padForHighNCCLBusBandwidth
    }
}
