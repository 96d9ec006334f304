import CHDF5
import Foundation
import Testing

@testable import CheckpointStore

/// ckpt's HDF5 files are opened without HDF5's `flock` locking and close-on-exec, so a process
/// started while a reader or writer is open holds no lock on the file afterwards (the cause of
/// flaky "HDF5 cannot open it" failures while other threads spawned `ckpt` processes).
@Suite struct FileLockInheritanceTests {
    @Test func aChildStartedWhileAFileIsOpenHoldsNoLockOnIt() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/c.h5"
        let w = try CheckpointWriter(path: p)
        try w.write(.model("w"), shape: [4], floats: [1, 2, 3, 4])
        try w.commit()

        var reader: CheckpointReader? = try CheckpointReader(path: p)
        #expect(reader?.tensors.count == 1)
        // A long-lived child started while the reader is open, with plain posix_spawn (which,
        // unlike Foundation's Process, passes every descriptor not marked close-on-exec).
        var pid: pid_t = 0
        let args: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup("20"), nil]
        defer { args.forEach { free($0) } }
        #expect(posix_spawn(&pid, "/bin/sleep", nil, nil, args, environ) == 0)
        defer {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        reader = nil

        // Stock HDF5 (file locking on) opening the file for writing: refused ("unable to lock
        // file") if the child inherited a locked descriptor.
        HDF5Library.prepareThread()
        let f = H5Fopen(p, ckpt_H5F_ACC_RDWR(), ckpt_H5P_DEFAULT())
        #expect(f >= 0)
        if f >= 0 { H5Fclose(f) }
        // Nor does the child hold the file open at all.
        let held = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        let targets = held.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)") }
        #expect(!targets.contains { $0.hasSuffix("/c.h5") })
    }
}
