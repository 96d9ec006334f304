import CheckpointStore
print("example")
