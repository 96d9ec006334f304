import CHDF5
import Foundation
import Testing

@testable import CheckpointStore

/// Item 12 of issue 9: damaged root metadata is called damaged, not "not a checkpoint", and a
/// file in a newer HDF5 file format names the HDF5 release it needs.
@Suite struct DamagedMetadataTests {
    @Test func flippedByteInRootAttributeHeaderIsMetadataDamage() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/format.h5"
        try BadFiles.writeCheckpoint(p)
        try BadFiles.damageRootAttributeHeader(p, "format")
        #expect(throws: StoreError.corruptFile(path: p, detail: "metadata damaged: root attribute 'format' cannot be read")) {
            try CheckpointReader(path: p)
        }
        // Another attribute's header: the damage is reported, whichever attribute of the heap
        // block HDF5 first fails to decode.
        for name in ["model_config", "step"] {
            let q = dir + "/\(name).h5"
            try BadFiles.writeCheckpoint(q)
            try BadFiles.damageRootAttributeHeader(q, name)
            #expect {
                try CheckpointReader(path: q)
            } throws: { e in
                guard case .corruptFile(q, let detail) = e as! StoreError else { return false }
                return detail.hasPrefix("metadata damaged: root attribute '")
            }
        }
    }

    /// h5py's default (libver='earliest') writes version-1 object headers, which carry no
    /// checksum: a flipped attribute-message byte reaches the attribute itself.
    @Test func damagedTensorAttributeInAnUnchecksummedHeaderIsMetadataDamage() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in ["xxh3_64", "dtype"] {
            let p = dir + "/\(name).h5"
            HDF5Library.prepareThread()
            HDF5Library.serialized {
                let f = H5Fcreate(p, ckpt_H5F_ACC_TRUNC(), ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT())
                let root = H5Gopen2(f, "/", ckpt_H5P_DEFAULT())
                H5Attributes.writeString(root, "format", "ckpt")
                H5Attributes.writeInt64(root, "format_version", 1)
                let dims: [hsize_t] = [4]
                let space = H5Screate_simple(1, dims, nil)
                let lcpl = H5Pcreate(ckpt_H5P_LINK_CREATE())
                H5Pset_create_intermediate_group(lcpl, 1)
                let d = H5Dcreate2(f, "/model/w", ckpt_H5T_IEEE_F32LE(), space, lcpl, ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT())
                H5Attributes.writeString(d, "dtype", "float32")
                H5Attributes.writeUInt64(d, "xxh3_64", 42)
                H5Dclose(d)
                H5Pclose(lcpl)
                H5Sclose(space)
                H5Gclose(root)
                H5Fclose(f)
            }
            _ = try CheckpointReader(path: p)  // intact: opens
            try BadFiles.damageRootAttributeHeader(p, name, before: 8)  // the attribute message's version byte
            #expect(throws: StoreError.corruptFile(path: p, detail: "metadata damaged: attribute '\(name)' of tensor w cannot be read")) {
                try CheckpointReader(path: p)
            }
        }
    }

    @Test func absentFormatAttributeIsStillNotACheckpoint() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = try #require(try BadFiles.make(in: dir).first { $0.hasSuffix("/plain.h5") })
        #expect(throws: StoreError.notACheckpoint(path: p, detail: "no root 'format' attribute")) { try CheckpointReader(path: p) }
    }

    @Test func libverLatestFileNamesTheHDF5ItNeeds() throws {
        let p = BadFiles.libverLatest
        do {
            let r = try CheckpointReader(path: p)
            // HDF5 >= 1.12 may read it; then it is an ordinary one-tensor checkpoint.
            #expect(HDF5Library.readsLibverLatestFixture)
            #expect(try r.readFloats(.model("w")) == (0..<16).map(Float.init))
        } catch {
            guard case .needsNewerHDF5(let path, let detail) = error else {
                Issue.record("wrong error: \(error)")
                return
            }
            #expect(path == p)
            let next = HDF5ErrorStack.nextRelease(after: HDF5Library.version)
            #expect(detail.hasPrefix("needs HDF5 >= \(next) (this build has \(HDF5Library.version); the file was written by HDF5 "))
            #expect(detail.contains("/model/w has a layout message"))
            #expect(!error.description.contains("damaged"))
        }
    }

    @Test func releaseAfterFollowsHDF5Numbering() {
        #expect(HDF5ErrorStack.nextRelease(after: "1.10.8") == "1.12")
        #expect(HDF5ErrorStack.nextRelease(after: "1.12.2") == "1.14")
        #expect(HDF5ErrorStack.nextRelease(after: "1.14.6") == "2.0")
        #expect(HDF5ErrorStack.nextRelease(after: "2.0.0") == "2.1")
    }

    @Test func onlyVersionRefusalsOfFormatStructuresCount() {
        #expect(HDF5ErrorStack.unknownVersion(in: ["bad version number for layout message"]) == "layout message")
        #expect(HDF5ErrorStack.unknownVersion(in: ["bad version number for datatype message"]) == "datatype message")
        #expect(HDF5ErrorStack.unknownVersion(in: ["bad version number for attribute message"]) == nil)
        #expect(HDF5ErrorStack.unknownVersion(in: ["unable to decode message", "can't open object"]) == nil)
    }

    /// ckpt writes the 1.8 file format only, so in its own files a refused version is damage.
    @Test func versionRefusalInACkptFileIsDamage() {
        let ours = CheckpointReader.listingFailure(path: "a.h5", group: "model", object: "w", structure: "layout message", writer: "ckpt 0.1.0")
        #expect(ours == .corruptFile(path: "a.h5", detail: "cannot open /model/w"))
        let theirs = CheckpointReader.listingFailure(
            path: "a.h5", group: "model", object: "w", structure: "layout message", writer: "h5py 3.16.0, HDF5 2.0.0")
        guard case .needsNewerHDF5 = theirs else {
            Issue.record("\(theirs)")
            return
        }
    }
}
