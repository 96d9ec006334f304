import ArgumentParser
import CheckpointStore
import Foundation

/// `ckpt bench codec`: the chunk codec's micro-benchmark, one core: literal-only zstd frames
/// (`zstd:1` for floats) against LZ zstd level 1, ratio and GB/s per core of CPU time.
struct BenchCodecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codec", abstract: "Time the zstd stage of chunk encoding on one core: literal-only frames against LZ level 1.",
        discussion: """
            Each data set (synthetic, deterministic) is cut into chunks, shuffled untimed, then every \
            chunk is compressed and decompressed both ways in this thread; GB/s are raw bytes per \
            second of the thread's CPU time, best of --rounds. "selected" marks the encoding ckpt's \
            writer picks for such a tensor under zstd:1.

            Example:
              ckpt bench codec --mb 64 --chunk-mb 4 --data fp32-normal --data bf16-normal
            """)
    @Option(help: "Data set (repeatable): \(CodecDataSet.allCases.map(\.rawValue).joined(separator: ", ")); default all.")
    var data: [String] = []
    @Option(help: "Raw MiB per data set, 1...4096.") var mb = 64
    @Option(name: .customLong("chunk-mb"), help: "Chunk size in MiB, in (0, 1024].") var chunkMB: Double = 4
    @Option(help: "Timed passes per measurement (the best is kept), 1...100.") var rounds = 5
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        try FlagBounds.check("mb", mb, 1...4096)
        try FlagBounds.check("rounds", rounds, 1...100)
        guard chunkMB > 0 && chunkMB <= 1024, chunkMB * 1_048_576 >= 1 else { throw ValidationError("--chunk-mb must be in (0, 1024]") }
        for d in data where CodecDataSet(rawValue: d) == nil {
            throw ValidationError("unknown data set '\(d)' (have: \(CodecDataSet.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
    }

    func run() throws {
        let sets = data.isEmpty ? CodecDataSet.allCases : data.compactMap { CodecDataSet(rawValue: $0) }
        var rows: [CodecBenchmark.Row] = []
        if !json {
            print("data               encoding  ratio   compress GB/s/core  decompress GB/s/core  selected  verified")
        }
        for set in sets {
            for r in CodecBenchmark.run(set, chunkBytes: Int(chunkMB * 1_048_576), totalBytes: mb << 20, rounds: rounds) {
                rows.append(r)
                if !json {
                    let name = r.data.padding(toLength: 18, withPad: " ", startingAt: 0)
                    let encoding = r.encoding.padding(toLength: 8, withPad: " ", startingAt: 0)
                    let numbers = String(format: "%.4f  %18.2f  %20.2f", r.ratio, r.compressGBps, r.decompressGBps)
                    print(
                        "\(name) \(encoding)  \(numbers)  \((r.selected ? "yes" : "").padding(toLength: 8, withPad: " ", startingAt: 0))  \(r.verified ? "yes" : "NO")"
                    )
                }
            }
        }
        if json {
            let data = try JSONEncoder().encode(rows)
            let list = (try JSONSerialization.jsonObject(with: data)) as? [Any] ?? []
            print(JSONDocument.text(object: [:], exitCode: ExitPolicy.ok, extra: ["rows": list]))
        }
        if rows.contains(where: { !$0.verified }) { throw ExitCode(ExitPolicy.bad) }
    }
}
