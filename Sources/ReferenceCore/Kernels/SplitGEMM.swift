import COpenBLAS

/// Runs a large single-precision matrix product as one single-threaded BLAS call per core, on
/// disjoint blocks of C (columns, or rows when C is taller than wide), from the same worker
/// threads as the elementwise passes.
///
/// OpenBLAS's own thread pool would otherwise be woken for every product and its idle workers
/// spin (yielding) for a while after each one, competing with the elementwise passes that
/// follow; with one BLAS thread per call that pool is never started. The first use sets
/// OpenBLAS to one thread for the whole process (`openblas_set_num_threads(1)`).
enum SplitGEMM {
    /// Products below this many multiply-adds run as one call on the calling thread.
    static let minimumWork = 1 << 21
    /// Fewest rows or columns of C per block.
    static let minimumBlock = 64

    /// Sets OpenBLAS to one thread, once.
    private static let singleThreaded: Void = { openblas_set_num_threads(1) }()

    /// One BLAS call: (transA, transB, m, n, k, a, lda, b, ldb, c, ldc).
    typealias Call =
        @Sendable (
            Bool, Bool, Int, Int, Int, UnsafePointer<Float>, Int, UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>, Int
        ) -> Void

    /// C = op(A)·op(B) (with the caller's alpha/beta inside `call`), split across the cores.
    static func run(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
        call: Call
    ) {
        _ = singleThreaded
        // Blocks at least `minimumBlock` wide, so many cores do not cut a product into slivers.
        let parts = min(Parallel.cores, max(1, max(m, n) / minimumBlock))
        if parts <= 1 || m * n * k < minimumWork {
            call(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
            return
        }
        let ap = SharedPointer(UnsafeMutablePointer(mutating: a)), bp = SharedPointer(UnsafeMutablePointer(mutating: b))
        let cp = SharedPointer(c)
        if n >= m {
            // Columns j0..<j1 of C use columns j0..<j1 of op(B): each part writes its own columns.
            Parallel.forEach(parts) { i in
                let j0 = n * i / parts, j1 = n * (i + 1) / parts
                guard j1 > j0 else { return }
                call(transA, transB, m, j1 - j0, k, ap.p, lda, transB ? bp.p + j0 * ldb : bp.p + j0, ldb, cp.p + j0, ldc)
            }
        } else {
            // Rows i0..<i1 of C use rows i0..<i1 of op(A): each part writes its own rows.
            Parallel.forEach(parts) { i in
                let i0 = m * i / parts, i1 = m * (i + 1) / parts
                guard i1 > i0 else { return }
                call(transA, transB, i1 - i0, n, k, transA ? ap.p + i0 : ap.p + i0 * lda, lda, bp.p, ldb, cp.p + i0 * ldc, ldc)
            }
        }
    }
}
