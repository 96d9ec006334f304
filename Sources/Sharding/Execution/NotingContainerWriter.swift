import Containers

/// A container writer that says, once committed, what it synthesised or left out, one line each
/// ("opt_param_scheduler synthesised (constant LR): ..."). The converter puts these lines, each
/// once, into the conversion report's `notes`.
public protocol NotingContainerWriter: TensorContainerWriter {
    /// What the commit kept, synthesised or left out.
    var notes: [String] { get }
}
