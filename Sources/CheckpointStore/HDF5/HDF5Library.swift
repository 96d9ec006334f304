import CHDF5
import Foundation

/// Process-wide HDF5 set-up and the rule for calling HDF5 from several threads.
///
/// ckpt reads chunks, encodes chunks and loads source windows on many threads. A libhdf5 built
/// thread-safe (Debian's `libhdf5-serial`, which the package links through pkg-config
/// `hdf5-serial`) takes one global lock inside every API call, so those threads may call it
/// freely. A build without thread safety (the MPI flavours, common on HPC machines) corrupts its
/// state, and crashes, when two calls overlap. At start-up ckpt asks the library
/// (`H5is_library_threadsafe`); when it is not thread-safe, or when the environment variable
/// `CKPT_HDF5_SERIALIZE=1` asks for it, every HDF5 call ckpt makes runs under one process-wide
/// recursive lock (`lock()`/`unlock()`, `serialized(_:)`). Work that needs no HDF5 (pread,
/// decompression, checksums) stays parallel in both modes.
public enum HDF5Library {
    /// How HDF5 calls from several threads are kept apart.
    public enum Concurrency: String, Sendable, Equatable {
        /// The library serialises its own calls; ckpt adds no lock.
        case library
        /// ckpt runs every HDF5 call under its own process-wide lock.
        case serialized
    }

    /// The environment variable that forces the serialised mode (`1`, `true` or `yes`).
    public static let serializeVariable = "CKPT_HDF5_SERIALIZE"

    /// The mode for a library that reports `threadSafe`, given the process environment.
    public static func concurrency(threadSafe: Bool, environment: [String: String]) -> Concurrency {
        let forced = environment[serializeVariable].map { ["1", "true", "yes"].contains($0.lowercased()) } ?? false
        return threadSafe && !forced ? .library : .serialized
    }

    /// Whether the linked libhdf5 was built thread-safe (`H5is_library_threadsafe`).
    public static let isThreadSafe: Bool = {
        // The first HDF5 call of the process initialises the library, and with it registers
        // its exit-time shutdown unless told not to first. No shutdown at exit: ckpt closes
        // what it commits itself, and HDF5's exit-time close of a file whose earlier close
        // failed (disk full) crashes in 1.10.
        H5dont_atexit()
        var ts: hbool_t = false
        return H5is_library_threadsafe(&ts) >= 0 && ts
    }()

    /// The mode of this process, fixed at first use.
    public static let mode: Concurrency = concurrency(threadSafe: isThreadSafe, environment: ProcessInfo.processInfo.environment)

    /// The linked library's version, e.g. `1.10.8` (`H5get_libversion`).
    public static let version: String = {
        var major: UInt32 = 0, minor: UInt32 = 0, release: UInt32 = 0
        serialized { _ = H5get_libversion(&major, &minor, &release) }
        return "\(major).\(minor).\(release)"
    }()

    /// One line for `--version` and `info`: library version and thread mode.
    public static var summary: String {
        let ts = isThreadSafe ? "thread-safe" : "not thread-safe"
        return "HDF5 \(version) (\(ts); \(mode == .serialized ? "calls serialised by ckpt" : "parallel calls"))"
    }

    private static let gate = RecursiveLock()

    /// Touch to ensure set-up has run: initialise the library, silence its error printing (ckpt
    /// reports its own one-line errors) and register the zstd (id 32015) and LZ4 (id 32004) filters.
    static let ready: Void = {
        _ = mode
        gate.lock()
        defer { gate.unlock() }
        _ = isThreadSafe  // its initialiser makes the first HDF5 call (after H5dont_atexit)
        H5open()
        ckpt_H5_silence_errors()
        ZstdFilter.register()
        LZ4Filter.register()
        _ = version  // resolved here, before any concurrent use (its initialiser enters the section)
    }()

    /// Runs the one-time set-up and silences HDF5's error printing for the calling thread
    /// (the thread-safe library keeps one error stack, and one printing setting, per thread).
    public static func prepareThread() {
        _ = ready
        lock()
        ckpt_H5_silence_errors()
        unlock()
    }

    /// Enters the HDF5 section (a no-op when the library serialises itself). Pair with
    /// `unlock()` on the same thread; sections nest. Never wait for another thread that makes
    /// HDF5 calls while inside one.
    public static func lock() {
        if mode == .serialized { gate.lock() }
    }

    /// Leaves the HDF5 section entered by `lock()`.
    public static func unlock() {
        if mode == .serialized { gate.unlock() }
    }

    /// Runs `body`, which calls HDF5, inside the HDF5 section.
    public static func serialized<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        lock()
        defer { unlock() }
        return try body()
    }

    /// Open HDF5 objects (files, groups, datasets, datatypes, attributes) of every file, for
    /// leak checks. The corresponding C function is `H5Fget_obj_count`.
    static var openObjectCount: Int {
        serialized { Int(H5Fget_obj_count(hid_t(ckpt_H5F_OBJ_ALL()), ckpt_H5F_OBJ_ALL())) }
    }

    /// In the serialised mode, whether the calling thread is inside the HDF5 section (always
    /// true in the library mode). Debug builds check it wherever an HDF5 handle is made or closed.
    static var isSectionHeld: Bool { mode == .library || gate.isHeldByCurrentThread }
}
