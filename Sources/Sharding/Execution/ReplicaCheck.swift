/// A comparison the merge must make: a non-primary source rectangle (a TP replica, or the
/// last-stage copy of a tied embedding) must equal its primary rectangle bit for bit.
public struct ReplicaCheck: Sendable, Hashable {
    /// The replica's file.
    public var replica: ShardFile
    /// The replica tensor's stored name.
    public var replicaTensor: String
    /// The primary rectangle, and where the replica holds it (`destRow`/`destCol` are the
    /// replica's coordinates).
    public var reference: PlanPiece

    /// Creates a check.
    public init(replica: ShardFile, replicaTensor: String, reference: PlanPiece) {
        self.replica = replica
        self.replicaTensor = replicaTensor
        self.reference = reference
    }
}
