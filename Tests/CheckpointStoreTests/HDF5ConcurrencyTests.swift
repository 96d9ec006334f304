import CHDF5
import Foundation
import Testing

@testable import CheckpointStore

/// Item 4 of issue 9: the HDF5 threading mode follows `H5is_library_threadsafe`, and
/// `CKPT_HDF5_SERIALIZE=1` forces the serialised mode (tested end to end in CLITests).
@Suite struct HDF5ConcurrencyTests {
    @Test func modeFollowsThreadSafetyAndTheOverride() {
        #expect(HDF5Library.concurrency(threadSafe: true, environment: [:]) == .library)
        #expect(HDF5Library.concurrency(threadSafe: false, environment: [:]) == .serialized)
        #expect(HDF5Library.concurrency(threadSafe: true, environment: ["CKPT_HDF5_SERIALIZE": "1"]) == .serialized)
        #expect(HDF5Library.concurrency(threadSafe: true, environment: ["CKPT_HDF5_SERIALIZE": "TRUE"]) == .serialized)
        #expect(HDF5Library.concurrency(threadSafe: true, environment: ["CKPT_HDF5_SERIALIZE": "0"]) == .library)
        #expect(HDF5Library.concurrency(threadSafe: false, environment: ["CKPT_HDF5_SERIALIZE": "0"]) == .serialized)
    }

    @Test func thisProcessAsksTheLibrary() {
        var ts: hbool_t = false
        #expect(H5is_library_threadsafe(&ts) >= 0)
        #expect(HDF5Library.isThreadSafe == ts)
        #expect(HDF5Library.mode == HDF5Library.concurrency(threadSafe: ts, environment: ProcessInfo.processInfo.environment))
        #expect(HDF5Library.summary.contains("HDF5 \(HDF5Library.version)"))
        #expect(HDF5Library.version.split(separator: ".").count == 3)
    }

    @Test func recursiveLockNestsAndKnowsItsHolder() {
        final class Answer: @unchecked Sendable { var held = true }  // written by one thread, read after the semaphore
        let lock = RecursiveLock()
        #expect(!lock.isHeldByCurrentThread)
        lock.lock()
        lock.lock()
        #expect(lock.isHeldByCurrentThread)
        let answer = Answer(), done = DispatchSemaphore(value: 0)
        Thread {
            answer.held = lock.isHeldByCurrentThread
            done.signal()
        }.start()
        done.wait()
        #expect(!answer.held)
        lock.unlock()
        #expect(lock.isHeldByCurrentThread)
        lock.unlock()
        #expect(!lock.isHeldByCurrentThread)
    }
}
