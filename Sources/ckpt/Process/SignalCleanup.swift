import CheckpointStore
import Foundation
import Glibc

/// SIGINT, SIGTERM and SIGHUP delete the temporaries ckpt is building (`TemporaryRegistry`)
/// and exit with 128 + the signal number (130, 143, 129).
///
/// The handler only writes the signal number into a pipe (`write` is async-signal-safe); a
/// dedicated thread reads it, deletes the temporaries (ordinary code: file deletion, locks)
/// and calls `_exit`. A handler, rather than blocking the signals for `sigwait`, also covers
/// threads that libraries start before `main` (OpenBLAS starts its pool at load time), which
/// would otherwise take the signal's default action. `SA_RESTART` keeps the interrupted
/// thread's system calls going meanwhile. Unlinking a file HDF5 still has open is fine on
/// Linux: the space is freed when the process exits.
///
/// A signal blocked when ckpt starts is unblocked (a parent's mask is inherited through exec).
/// A signal ignored when ckpt starts stays ignored, as shells and `nohup` expect (a script's
/// background job ignores SIGINT; `nohup ckpt ...` ignores SIGHUP).
enum SignalCleanup {
    /// The signals handled.
    static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// Installs the handlers and starts the thread that acts on them. Call first in `main`.
    static func install() {
        let handled = signals.filter { !isIgnored($0) }
        var fds: [Int32] = [-1, -1]
        guard !handled.isEmpty, pipe(&fds) == 0 else { return }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        signalPipe = fds[1]
        let readEnd = fds[0]
        let waiter = Thread {
            var byte: UInt8 = 0
            while read(readEnd, &byte, 1) != 1 {}
            finish(signal: Int32(byte))
        }
        waiter.name = "ckpt-signals"
        waiter.start()
        for sig in handled {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { sig in
                var b = UInt8(truncatingIfNeeded: sig)
                _ = write(signalPipe, &b, 1)
            }
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            sigaction(sig, &action, nil)
        }
        // A parent may hand down a mask blocking them (Foundation's `Process` does): unblock them
        // here, so this thread and every thread it starts takes them.
        var set = sigset_t()
        sigemptyset(&set)
        for sig in handled { sigaddset(&set, sig) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Deletes the temporaries, says so on stderr and exits with 128 + `sig`.
    private static func finish(signal sig: Int32) -> Never {
        let removed = TemporaryRegistry.removeAll()
        let name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGHUP"
        let note = removed.isEmpty ? "" : "; removed \(removed.count) temporar\(removed.count == 1 ? "y" : "ies")"
        let line = "\nckpt: interrupted by \(name)\(note)\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
        _exit(128 + sig)
    }

    /// Whether `sig` is set to SIG_IGN (inherited from the parent).
    private static func isIgnored(_ sig: Int32) -> Bool {
        var current = sigaction()
        guard sigaction(sig, nil, &current) == 0 else { return false }
        return unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == 1  // SIG_IGN
    }
}

/// The pipe's write end, set once before any handler is installed (a plain global: the handler
/// must not trigger lazy initialisation, which is not async-signal-safe).
nonisolated(unsafe) private var signalPipe: Int32 = -1
