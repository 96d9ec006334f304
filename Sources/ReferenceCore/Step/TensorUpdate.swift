import CheckpointStore

/// The reference result of one parameter's optimizer step.
public struct TensorUpdate: Sendable {
    /// Canonical name.
    public var name: String
    /// Shape.
    public var shape: [Int]
    /// Stored dtype of the parameter.
    public var parameterDType: DType
    /// Whether the checkpoint keeps an fp32 master copy.
    public var hasMaster: Bool
    /// Whether weight decay applied.
    public var decayed: Bool
    /// θ before the step (master if present, else the parameter); empty when the update ran in
    /// place (`keepBefore: false`).
    public var thetaBefore: [Float]
    /// θ after the step in fp32 (the new master, or the new parameter before rounding).
    public var theta: [Float]
    /// New exp_avg.
    public var expAvg: [Float]
    /// New exp_avg_sq.
    public var expAvgSq: [Float]
    /// New parameter values as stored (θ rounded to `parameterDType`).
    public var parameter: [Float]
}
