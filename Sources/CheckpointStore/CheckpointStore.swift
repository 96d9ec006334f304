/// HDF5 checkpoint container.
public enum CheckpointStoreModule {}
