/// Layouts, plans and streaming reshard between the wafer layout and Megatron-style layouts.
public enum ShardingModule {}
