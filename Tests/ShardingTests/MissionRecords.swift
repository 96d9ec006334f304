import CheckpointStore
import Containers
import Foundation

@testable import Sharding

/// Fingerprints (dtype, shape, XXH3-64 of the bytes) of canonical tensors: what a fixture's
/// expected.json says the real library held, and what ckpt reads back from a converted output.
/// The mission-path tests compare the two key by key.
struct MissionRecords: Equatable, CustomStringConvertible {
    /// One tensor's fingerprint.
    struct Record: Equatable, CustomStringConvertible {
        var dtype: String
        var shape: [Int]
        var xxh3: String

        var description: String { "\(dtype)\(shape) \(xxh3)" }
    }

    var records: [TensorKey: Record]

    var description: String { "\(records.count) records" }

    static func hex(_ bytes: [UInt8]) -> String {
        let s = String(bytes.withUnsafeBytes { XXH3.hash($0) }, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    static func record(_ json: [String: Any]) -> Record {
        Record(dtype: json["dtype"] as? String ?? "?", shape: json["shape"] as? [Int] ?? [], xxh3: json["xxh3_64"] as? String ?? "?")
    }

    /// A torch_dist fixture's canonical section (`{"model": ..., "optimizer": {"exp_avg": ...}}`):
    /// what megatron-core held in memory when it saved.
    static func megatron(_ name: String) throws -> MissionRecords {
        let c = try InteropFixtures.expected(name)["canonical"] as? [String: Any] ?? [:]
        var out: [TensorKey: Record] = [:]
        for (n, r) in c["model"] as? [String: [String: Any]] ?? [:] { out[.model(n)] = record(r) }
        for (s, g) in c["optimizer"] as? [String: [String: [String: Any]]] ?? [:] {
            for (n, r) in g { out[.optimizer(s, n)] = record(r) }
        }
        return MissionRecords(records: out)
    }

    /// A Cerebras fixture's canonical section (`{"model", "optimizer/exp_avg", ...}`): what
    /// cstorch held when it saved (bf16 model and moments, no master).
    static func cerebras(_ name: String) throws -> MissionRecords {
        let c = try InteropFixtures.expected(name)["canonical"] as? [String: [String: [String: Any]]] ?? [:]
        var out: [TensorKey: Record] = [:]
        for (section, tensors) in c {
            for (n, r) in tensors { out[TensorKey(section: section, name: n)] = record(r) }
        }
        return MissionRecords(records: out)
    }

    /// The canonical tensors of any checkpoint ckpt reads (`CanonicalView`), every section.
    static func read(_ path: String, vocab: Int? = nil) throws -> (MissionRecords, [TensorKey: [UInt8]]) {
        let view = try CanonicalView(source: CheckpointSource(path: path, formats: .all(vocab: vocab)))
        var out: [TensorKey: Record] = [:], bytes: [TensorKey: [UInt8]] = [:]
        for t in view.tensors {
            let b = try view.readAll(t.key)
            bytes[t.key] = b
            out[t.key] = Record(dtype: t.dtype.rawValue, shape: t.shape, xxh3: hex(b))
        }
        return (MissionRecords(records: out), bytes)
    }

    /// float32 bytes that hold bfloat16 values exactly (the low 16 bits of every element zero)
    /// as those bfloat16 bytes; nil if any element is not a bfloat16 value.
    static func narrowed(_ float32: [UInt8]) -> [UInt8]? {
        guard float32.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(float32.count / 2)
        for i in stride(from: 0, to: float32.count, by: 4) {
            guard float32[i] == 0 && float32[i + 1] == 0 else { return nil }
            out += [float32[i + 2], float32[i + 3]]
        }
        return out
    }

    /// The keys whose records differ between `self` (read back) and `want`, one line each
    /// ("missing", "not expected", or both records).
    func differences(from want: MissionRecords) -> [String] {
        var bad: [String] = []
        for k in Set(records.keys).union(want.records.keys).sorted() {
            switch (records[k], want.records[k]) {
            case (nil, _): bad.append("\(k): missing")
            case (_, nil): bad.append("\(k): not expected")
            case (let g?, let w?) where g != w: bad.append("\(k): \(g), expected \(w)")
            default: break
            }
        }
        return bad
    }

    /// A Megatron output read back from a Cerebras (bf16, no master) source, brought back to
    /// what cstorch held: every float32 moment must be exactly bfloat16 values and is recorded
    /// narrowed; every float32 master must be exactly its parameter (checked here) and is
    /// dropped. Returns the narrowed records and one line per tensor that is not exact.
    static func narrowedFromMegatron(_ got: MissionRecords, _ bytes: [TensorKey: [UInt8]]) -> (MissionRecords, [String]) {
        var out: [TensorKey: Record] = [:], bad: [String] = []
        for (k, r) in got.records {
            if k.isModel {
                out[k] = r
                continue
            }
            guard r.dtype == "float32", let b = bytes[k], let n = narrowed(b) else {
                bad.append("\(k): \(r.dtype), not float32 holding bfloat16 values")
                continue
            }
            if k.optimizerState == "master" {
                if n != bytes[.model(k.name)] { bad.append("\(k): not the parameter widened") }
            } else {
                out[k] = Record(dtype: "bfloat16", shape: r.shape, xxh3: hex(n))
            }
        }
        return (MissionRecords(records: out), bad)
    }
}
