import ArgumentParser
import CheckpointStore
import Containers
import Foundation

/// `ckpt bench`: the ckpt half of the side-by-side store benchmark (`tools/bench_store.py`).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Time ckpt's writer and reader (used by tools/bench_store.py), or its chunk codec.",
        subcommands: [BenchWrite.self, BenchRead.self, BenchCodecCommand.self])

    /// Bare `ckpt bench` prints the help and fails with the usage exit code, as bare `ckpt` does.
    func run() throws {
        FileHandle.standardError.write(Data((BenchCommand.helpMessage() + "\n").utf8))
        throw ExitCode(ExitPolicy.usage)
    }
}

/// Timing result printed by the bench subcommands.
struct BenchResult: Encodable {
    var seconds: Double
    var rawBytes: Int
    var storedBytes: Int
    var peakRSSBytes: Int
    /// User + system CPU seconds spent in the timed section (all threads).
    var cpuSeconds: Double
    enum CodingKeys: String, CodingKey {
        case seconds
        case cpuSeconds = "cpu_seconds"
        case rawBytes = "raw_bytes", storedBytes = "stored_bytes", peakRSSBytes = "peak_rss_bytes"
    }

    /// Prints the result; `file` is the checkpoint read (`path`) or written (`output`).
    func print(json: Bool, what: String, file: String) {
        if json {
            Swift.print(JSONDocument.text(self, extra: [what == "read" ? "path" : "output": file]))
        } else {
            Swift.print(
                String(
                    format: "%@: %@ in %.2fs (%.2f CPU-s) = %.2f GB/s, stored/raw %.4f, peak RSS %.0f MiB", what,
                    Format.bytes(rawBytes), seconds, cpuSeconds, Double(rawBytes) / seconds / 1e9,
                    Double(storedBytes) / Double(max(1, rawBytes)), Double(peakRSSBytes) / 1_048_576))
        }
    }
}

/// User + system CPU seconds of this process so far.
func cpuTime() -> Double {
    let t = cpuTimes()
    return t.user + t.system
}

/// User and system CPU seconds of this process so far.
func cpuTimes() -> (user: Double, system: Double) {
    var u = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
    return (Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6, Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6)
}

/// Peak resident set size of this process.
func peakRSS() -> Int {
    var u = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
    return Int(u.ru_maxrss) * 1024
}

/// `ckpt bench write`: generates each tensor in memory (untimed), then times its write.
struct BenchWrite: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "write", abstract: "Time writing a synthetic model: groups of tensors generated untimed, then written and flushed (timed).",
        discussion: """
            With --tensors the tensors are instead those of a safetensors file (trained weights, say),
            read untimed in the same groups and written under their own names.

            Example:
              ckpt bench write --preset 1.3b --optimizer --codec zstd:1 --out /tmp/bench.h5 --json
              ckpt bench write --tensors trained.safetensors --out /tmp/trained.h5 --json
            """)
    @Option(help: "Model family.") var family: ModelFamily = .gpt2
    @Option(help: "Preset of the family.") var preset: String = "1.3b"
    @Option(help: "Parameter dtype.") var dtype: DTypeChoice = .fp32
    @Flag(help: "Include AdamW state.") var optimizer = false
    @Option(help: "Write the tensors of this safetensors file instead of a synthetic model.") var tensors: String?
    @Option(name: .customLong("group-mb"), help: "Input generated and held per timed group, MiB, 1...65536.") var groupMB = 512
    @OptionGroup var store: StoreOptions
    @Option(help: "Output file (required).") var out: String
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Replace an existing output file.") var force = false

    func validate() throws {
        guard ModelConfig.preset(family: family.rawValue, name: preset) != nil else {
            throw ValidationError("unknown preset '\(preset)' for \(family.rawValue) (have: \(family.presetNames.joined(separator: ", ")))")
        }
        try FlagBounds.check("group-mb", groupMB, 1...65_536)
    }

    /// One tensor to write: where it goes, and how to make its bytes (untimed).
    struct Item {
        var key: TensorKey
        var dtype: DType
        var shape: [Int]
        var bytes: Int
        var make: () throws -> [UInt8]
    }

    func run() throws {
        try OutputGuard.check(out, kind: .file, inputs: tensors.map { [$0] } ?? [], force: force)
        var options = try store.writerOptions()
        options.overwrite = force
        let w = try CheckpointWriter(path: out, options: options)
        let items: [Item]
        if let tensors {
            let file = try SafetensorsFile(path: tensors)
            items = file.tensors.map { t in
                Item(key: t.key, dtype: t.dtype, shape: t.shape, bytes: t.byteCount, make: { try file.readAll(t.key) })
            }
        } else {
            guard let config = ModelConfig.preset(family: family.rawValue, name: preset) else { throw CLIError.usage("unknown preset \(family)/\(preset)") }
            let synth = SyntheticCheckpoint(config: config, dtype: dtype.dtype, withOptimizer: optimizer, step: optimizer ? 100 : 0)
            w.metadata = synth.metadata
            items = synth.items().map { item in
                Item(key: item.key, dtype: item.dtype, shape: item.shape, bytes: item.bytes, make: { Self.generate(synth, item) })
            }
        }
        // Tensors are made (untimed) in groups of about `groupMB`, then each group is written
        // and flushed to the file (timed), so no encoding overlaps generation and the input held
        // in memory stays bounded, as a training process writing its model would see.
        var next = 0
        var timed = 0.0, cpu = 0.0, user = 0.0, system = 0.0
        var raw = 0
        while next < items.count {
            var group: [(Item, [UInt8])] = []
            var bytes = 0
            while next < items.count && (bytes == 0 || bytes + items[next].bytes <= groupMB << 20) {
                group.append((items[next], try items[next].make()))
                bytes += items[next].bytes
                next += 1
            }
            let c0 = cpuTime(), s0 = cpuTimes(), t0 = Date()
            for (item, data) in group {
                try data.withUnsafeBytes { try w.write(item.key, dtype: item.dtype, shape: item.shape, bytes: $0) }
            }
            if next < items.count { try w.flush() } else { try w.commit() }
            timed += Date().timeIntervalSince(t0)
            cpu += cpuTime() - c0
            let s1 = cpuTimes()
            user += s1.user - s0.user
            system += s1.system - s0.system
            raw += bytes
        }
        if items.isEmpty { try w.commit() }
        if ProcessInfo.processInfo.environment["CKPT_BENCH_SPLIT"] != nil {
            FileHandle.standardError.write(Data(String(format: "user %.2f s, system %.2f s\n", user, system).utf8))
        }
        let stored = try CheckpointReader(path: out).tensors.reduce(0) { $0 + $1.storedBytes }
        BenchResult(seconds: timed, rawBytes: raw, storedBytes: stored, peakRSSBytes: peakRSS(), cpuSeconds: cpu).print(json: json, what: "write", file: out)
    }

    /// The bytes of one synthetic tensor in its dtype.
    static func generate(_ synth: SyntheticCheckpoint, _ item: SyntheticCheckpoint.Item) -> [UInt8] {
        var floats: [Float] = []
        let n = item.shape.reduce(1, *)
        synth.generate(item, start: 0, count: n, into: &floats)
        switch item.dtype {
        case .float32: return floats.withUnsafeBytes { Array($0.prefix(4 * n)) }
        case .float16: return (0..<n).map { HalfPrecision.f16Bits(from: floats[$0]) }.withUnsafeBytes { Array($0) }
        default: return (0..<n).map { HalfPrecision.bf16Bits(from: floats[$0]) }.withUnsafeBytes { Array($0) }
        }
    }
}

/// `ckpt bench read`: times reading every tensor whole (checksums included).
struct BenchRead: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read", abstract: "Time reading every tensor of a checkpoint.",
        discussion: """
            Example:
              ckpt bench read /tmp/bench.h5 --json
            """)
    @Argument(help: "Checkpoint file.") var file: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let c0 = cpuTime()
        let t0 = Date()
        let r = try CheckpointReader(path: file)
        var buffer = [UInt8]()
        var raw = 0
        for t in r.tensors {
            if buffer.count < t.rawBytes { buffer = [UInt8](repeating: 0, count: t.rawBytes) }
            try buffer.withUnsafeMutableBytes { try r.read(t.key, selection: nil, into: $0) }
            raw += t.rawBytes
        }
        let secs = Date().timeIntervalSince(t0)
        BenchResult(
            seconds: secs, rawBytes: raw, storedBytes: r.tensors.reduce(0) { $0 + $1.storedBytes },
            peakRSSBytes: peakRSS(), cpuSeconds: cpuTime() - c0
        ).print(json: json, what: "read", file: file)
    }
}
