import Foundation
import Testing

/// `ckpt bench codec`: the codec micro-benchmark reports both encodings of every data set, each
/// verified, with the writer's choice marked.
@Suite struct BenchCodecTests {
    @Test func reportsLiteralAndLZForEveryDataSet() throws {
        let r = try CLI.run(["bench", "codec", "--mb", "2", "--chunk-mb", "1", "--rounds", "1", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try #require(try CLIFixtures.json(r)["rows"] as? [[String: Any]])
        #expect(rows.count == 10)
        func row(_ data: String, _ encoding: String) throws -> [String: Any] {
            try #require(rows.first { $0["data"] as? String == data && $0["encoding"] as? String == encoding }, "\(data) \(encoding)")
        }
        for r in rows {
            #expect(r["verified"] as? Bool == true && r["fallbacks"] as? Int == 0, "\(r)")
            #expect((r["compress_gbps_per_core"] as? Double ?? 0) > 0 && (r["decompress_gbps_per_core"] as? Double ?? 0) > 0)
        }
        for data in ["fp32-normal", "bf16-normal"] {
            let lit = try row(data, "literal"), lz = try row(data, "lz1")
            #expect((lit["ratio"] as! Double) < (lz["ratio"] as! Double), "\(data)")
            #expect(lit["selected"] as? Bool == true && lz["selected"] as? Bool == false, "\(data)")
        }
        #expect(try row("exp-avg-sq", "lz1")["selected"] as? Bool == true, "row-scaled second moments go to LZ")
    }

    @Test(arguments: [["--mb", "0"], ["--rounds", "0"], ["--data", "nope"], ["--chunk-mb", "0"]])
    func badFlagsAreUsageErrors(flags: [String]) throws {
        let r = try CLI.run(["bench", "codec"] + flags)
        #expect(r.status == 2, "\(flags): \(r.stderr)")
    }
}
