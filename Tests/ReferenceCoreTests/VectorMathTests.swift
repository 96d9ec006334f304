import Foundation
import Testing

@testable import ReferenceCore

/// The SIMD exp and tanh of the fp32 elementwise passes against libm, over their whole range.
@Suite struct VectorMathTests {
    /// Inputs from −100 to 100 (beyond the clamps) in uneven steps, with the partial last vector.
    static let inputs: [Float] = (0..<20_003).map { i in -100 + Float(i) * 0.01 }

    func each(_ f: (VectorMath.Vector) -> VectorMath.Vector) -> [Float] {
        var out = [Float](repeating: .nan, count: Self.inputs.count)
        Self.inputs.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { ob in
                var i = 0
                while i < xb.count {
                    let n = min(VectorMath.width, xb.count - i)
                    VectorMath.store(f(VectorMath.load(xb.baseAddress! + i, count: n)), to: ob.baseAddress! + i, count: n)
                    i += n
                }
            }
        }
        return out
    }

    @Test func expMatchesLibmWithinFourUlp() {
        let got = each(VectorMath.exp)
        for (x, y) in zip(Self.inputs, got) {
            let want = Foundation.exp(Double(x))
            if x < -87.3 {
                #expect(y > 0 && y < 1.3e-38, "exp(\(x)) = \(y)")
            } else if x > 88.3 {
                #expect(y.isFinite && y > 2e38, "exp(\(x)) = \(y)")
            } else {
                #expect(abs(Double(y) - want) <= 4 * Double(Float.ulpOfOne) * want, "exp(\(x)) = \(y), want \(want)")
            }
        }
    }

    @Test func tanhMatchesLibm() {
        let got = each(VectorMath.tanh)
        for (x, y) in zip(Self.inputs, got) {
            let want = Foundation.tanh(Double(x))
            // Absolute error near 0 (1 − 2/(e²ˣ+1) cancels), relative elsewhere.
            #expect(abs(Double(y) - want) <= 3e-7 * max(abs(want), 0.5), "tanh(\(x)) = \(y), want \(want)")
        }
    }
}
