import COpenBLAS
import Foundation

/// The floating-point types the reference core computes in: `Float` for real steps, `Double`
/// for the finite-difference gradient check. Each supplies its BLAS matrix product and the few
/// transcendental functions the model needs.
public protocol ReferenceScalar: BinaryFloatingPoint, SIMDScalar, Codable, Sendable {
    /// C = alpha · op(A) · op(B) + beta · C for row-major matrices, where op(X) is X or Xᵀ;
    /// op(A) is m×k, op(B) is k×n, C is m×n. The corresponding C functions are
    /// `cblas_sgemm` / `cblas_dgemm`.
    static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Self,
        a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    /// eˣ.
    static func exp(_ x: Self) -> Self
    /// Natural logarithm.
    static func log(_ x: Self) -> Self
    /// Hyperbolic tangent.
    static func tanh(_ x: Self) -> Self
    /// Error function.
    static func erf(_ x: Self) -> Self
}

extension Float: ReferenceScalar {
    /// Single-precision matrix product through OpenBLAS `cblas_sgemm`, one single-threaded
    /// call per core on blocks of C when the product is large (`SplitGEMM`).
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        SplitGEMM.run(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc) {
            ta, tb, m, n, k, a, lda, b, ldb, c, ldc in
            cblas_sgemm(
                CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        }
    }
    /// `expf`.
    @inlinable public static func exp(_ x: Float) -> Float { Foundation.exp(x) }
    /// `logf`.
    @inlinable public static func log(_ x: Float) -> Float { Foundation.log(x) }
    /// `tanhf`.
    @inlinable public static func tanh(_ x: Float) -> Float { Foundation.tanh(x) }
    /// `erff`.
    @inlinable public static func erf(_ x: Float) -> Float { Foundation.erf(x) }
}

extension Double: ReferenceScalar {
    /// Double-precision matrix product through OpenBLAS `cblas_dgemm`.
    @inlinable
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
        a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        cblas_dgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    /// `exp`.
    @inlinable public static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    /// `log`.
    @inlinable public static func log(_ x: Double) -> Double { Foundation.log(x) }
    /// `tanh`.
    @inlinable public static func tanh(_ x: Double) -> Double { Foundation.tanh(x) }
    /// `erf`.
    @inlinable public static func erf(_ x: Double) -> Double { Foundation.erf(x) }
}
