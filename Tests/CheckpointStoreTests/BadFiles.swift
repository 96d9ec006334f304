import CHDF5
import Foundation

@testable import CheckpointStore

/// Files that `CheckpointReader` must refuse, one per way of being bad.
enum BadFiles {
    /// The h5py `libver='latest'` fixture (tools/make_hdf5_fixtures.py).
    static let libverLatest = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/h5py-libver-latest.h5").path

    /// A valid small checkpoint with every optional metadata attribute set.
    static func writeCheckpoint(_ path: String) throws {
        let w = try CheckpointWriter(path: path, options: WriterOptions(chunkBytes: 4096))
        w.metadata.modelConfig = ModelConfig(family: "gpt2", layers: 1, hidden: 8, heads: 2, vocab: 16, maxSeq: 4)
        w.metadata.optimizer = OptimizerConfig()
        w.metadata.userJSON = #"{"run": 7}"#
        try w.write(.model("w"), shape: [64, 8], floats: (0..<512).map { Float($0) })
        try w.commit()
    }

    /// Replaces (or adds) a root string attribute of an existing file.
    static func setRootString(_ path: String, _ name: String, _ value: String) {
        editRoot(path) { H5Attributes.writeString($0, name, value) }
    }

    /// Replaces (or adds) a root int64 attribute of an existing file.
    static func setRootInt64(_ path: String, _ name: String, _ value: Int64) {
        editRoot(path) { H5Attributes.writeInt64($0, name, value) }
    }

    /// Opens `path` for writing with stock HDF5 and runs `edit` on its root group.
    private static func editRoot(_ path: String, _ edit: (hid_t) -> Bool) {
        HDF5Library.prepareThread()
        HDF5Library.serialized {
            let f = H5Fopen(path, ckpt_H5F_ACC_RDWR(), ckpt_H5P_DEFAULT())
            let root = H5Gopen2(f, "/", ckpt_H5P_DEFAULT())
            _ = edit(root)
            H5Gclose(root)
            H5Fclose(f)
        }
    }

    /// Flips one bit of the byte `before` bytes ahead of the stored name of attribute
    /// `name` (inside the attribute message's header: version, flags, sizes).
    static func damageRootAttributeHeader(_ path: String, _ name: String, before: Int = 6) throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let needle = Array(name.utf8) + [0]
        guard let at = (0...(bytes.count - needle.count)).first(where: { Array(bytes[$0..<($0 + needle.count)]) == needle }) else {
            throw StoreError.invalidArgument("\(path): attribute name \(name) not found in the file")
        }
        bytes[at - before] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// One file of each kind, in `dir`: truncated, random bytes, empty, HDF5 without a format
    /// attribute, unsupported format_version, malformed model_config, damaged root attribute,
    /// and (when this HDF5 cannot read it) the libver='latest' fixture.
    static func make(in dir: String) throws -> [String] {
        var out: [String] = []
        let truncated = dir + "/truncated.h5"
        try writeCheckpoint(truncated)
        let size = try FileManager.default.attributesOfItem(atPath: truncated)[.size] as! Int
        truncate(truncated, off_t(size / 2))
        out.append(truncated)

        let random = dir + "/random.h5"
        _ = FileManager.default.createFile(atPath: random, contents: Data(randomBytes(4096, seed: 3)))
        out.append(random)
        let empty = dir + "/empty.h5"
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        out.append(empty)

        let plain = dir + "/plain.h5"
        HDF5Library.prepareThread()
        HDF5Library.serialized {
            let f = H5Fcreate(plain, ckpt_H5F_ACC_TRUNC(), ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT())
            let g = H5Gcreate2(f, "data", ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT())
            H5Gclose(g)
            H5Fclose(f)
        }
        out.append(plain)

        let future = dir + "/future.h5"
        try writeCheckpoint(future)
        setRootInt64(future, "format_version", 99)
        out.append(future)

        let badJSON = dir + "/badjson.h5"
        try writeCheckpoint(badJSON)
        setRootString(badJSON, "model_config", #"{"family": "gpt2", "layers": "one"}"#)
        out.append(badJSON)

        let damaged = dir + "/damaged.h5"
        try writeCheckpoint(damaged)
        try damageRootAttributeHeader(damaged, "format")
        out.append(damaged)

        if !HDF5Library.readsLibverLatestFixture {
            let latest = dir + "/latest.h5"
            try FileManager.default.copyItem(atPath: libverLatest, toPath: latest)
            out.append(latest)
        }
        return out
    }

    /// Open descriptors of this process.
    static func openDescriptors() -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).count
    }

    /// Open HDF5 objects (files, groups, datasets, datatypes, attributes) of every file.
    static func openHDF5Objects() -> Int { HDF5Library.openObjectCount }
}

extension HDF5Library {
    /// Whether the linked HDF5 (1.12 or later) reads the libver='latest' fixture's layout message.
    static var readsLibverLatestFixture: Bool {
        let parts = version.split(separator: ".").compactMap { Int($0) }
        return parts.count >= 2 && (parts[0], parts[1]) >= (1, 12)
    }
}
