import CheckpointStore
import Foundation
import Testing

/// Items 10 and 12 of issue 9 through the binary: damaged metadata, a file that needs a newer
/// HDF5, and malformed JSON metadata each get a plain one-line message and exit 1.
@Suite struct MetadataMessagesTests {
    static let fixture = StepCommandTests.repo + "/Tests/CheckpointStoreTests/Fixtures/h5py-libver-latest.h5"

    @Test func newerHDF5FormatSaysWhichHDF5ItNeeds() throws {
        let r = try CLI.run(["info", Self.fixture])
        let parts = HDF5Library.version.split(separator: ".").compactMap { Int($0) }
        guard (parts[0], parts[1]) < (1, 12) else { return }  // a newer HDF5 may read it
        #expect(r.status == 1)
        #expect(r.stderr.contains("needs HDF5 >= 1.12 (this build has \(HDF5Library.version)"), "\(r.stderr)")
        #expect(!r.stderr.contains("damaged"))
    }

    @Test func damagedRootAttributeAndBadJSONArePlain() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/a.h5"
        let s = try CLI.run(["synth", "--preset", "tiny", "--out", p])
        #expect(s.status == 0, "\(s.stderr)")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: p)))
        let needle = Array("format".utf8) + [0]
        let at = try #require((0...(bytes.count - needle.count)).first { Array(bytes[$0..<($0 + needle.count)]) == needle })
        bytes[at - 6] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        let r = try CLI.run(["info", p])
        #expect(r.status == 1)
        #expect(r.stderr.contains("metadata damaged: root attribute 'format' cannot be read"), "\(r.stderr)")
        #expect(!r.stderr.contains("not a ckpt checkpoint"))

        // Metadata rewritten by h5py: malformed JSON is named by key, null is "not recorded".
        let q = dir + "/b.h5", n = dir + "/n.h5"
        for out in [q, n] { #expect(try CLI.run(["synth", "--preset", "tiny", "--out", out]).status == 0) }
        let set = "import h5py, sys\nwith h5py.File(sys.argv[1], 'r+') as f: f.attrs['model_config'] = sys.argv[2]"
        #expect(try CLI.python(["-c", set, q, #"{"family": "gpt2", "layers": "x"}"#]).status == 0)
        #expect(try CLI.python(["-c", set, n, "null"]).status == 0)
        let bad = try CLI.run(["info", q])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("bad metadata (model_config.layers: expected an integer, found a string)"), "\(bad.stderr)")
        for typeName in ["DecodingError", "CodingKeys", "Swift."] { #expect(!bad.stderr.contains(typeName), "\(bad.stderr)") }
        let null = try CLI.run(["info", n])
        #expect(null.status == 0, "\(null.stderr)")
        #expect(null.stdout.contains("no model_config"))
    }
}
