/// A progress callback of the reference step and the step verifier: (phase, done, total).
public typealias StepProgress = @Sendable (_ phase: String, _ done: Int, _ total: Int) -> Void
