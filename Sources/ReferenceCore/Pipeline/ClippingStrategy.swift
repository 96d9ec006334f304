/// How a pipelined step gets the global gradient norm before the first update when gradients
/// are clipped (`optimizer.grad_clip` > 0): the norm needs every gradient, the update of the
/// first tensor needs the norm.
public enum ClippingStrategy: String, Sendable, CaseIterable {
    /// `spill` when the scratch directory has room for the gradients, else `two-pass`.
    case auto
    /// A first pass computes only the norm; a second pass recomputes every gradient and
    /// updates (or checks) each tensor as soon as it is final.
    case twoPass = "two-pass"
    /// One pass writes each final gradient to an unlinked scratch file (removed on every exit,
    /// a crash included); the updates then read them back in canonical order.
    case spill
}
