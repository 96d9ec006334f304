/// The CPU reference training step.
public enum ReferenceCoreModule {}
