import Foundation
import Testing
import Torch

/// A file or folder under this target's Fixtures (reference values written by scripts/make_*_fixtures.py).
func fixtureURL(_ name: String) -> URL {
    Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
}

/// Every tensor of a reference safetensors file under Fixtures.
func fixtureTensors(_ name: String) throws -> [String: Tensor] {
    try Safetensors.load(fixtureURL(name))
}

/// ||a - b|| / ||b|| in float64, the parity measure of the architecture guide.
func relativeError(_ a: Tensor, _ b: Tensor) -> Double {
    let x = a.detach().to(.float64).to(.cpu), y = b.detach().to(.float64).to(.cpu)
    let num = (x - y).toArray(Double.self).reduce(0.0) { $0 + $1 * $1 }
    let den = y.toArray(Double.self).reduce(0.0) { $0 + $1 * $1 }
    return den == 0 ? num.squareRoot() : (num / den).squareRoot()
}

/// Expects `actual` to have the reference's shape and a relative error below `tolerance`.
func expectClose(_ actual: Tensor, _ expected: Tensor, tolerance: Double = 1e-4, _ label: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.shape == expected.shape, "\(label): shape \(actual.shape) vs \(expected.shape)",
            sourceLocation: sourceLocation)
    guard actual.shape == expected.shape else { return }
    let err = relativeError(actual, expected)
    #expect(err < tolerance, "\(label): relative error \(err)", sourceLocation: sourceLocation)
}

/// How many float32 steps apart two numbers are (0 for equal numbers, `Int.max` when either is not finite or
/// their signs differ): a CPU-independent measure for values that one libtorch kernel rounds differently from
/// another (ATen's vectorised `linspace` and normal sampler differ from the portable ones in the last bit).
func ulpDistance(_ a: Float, _ b: Float) -> Int {
    guard a.isFinite, b.isFinite else { return a == b || (a.isNaN && b.isNaN) ? 0 : .max }
    if a == b { return 0 }
    guard (a < 0) == (b < 0) || a == 0 || b == 0 else { return .max }
    return abs(Int(a.magnitude.bitPattern) - Int(b.magnitude.bitPattern))
}

/// The largest `ulpDistance` between matching elements, `Int.max` when the counts differ.
func maxULPDistance(_ a: [Float], _ b: [Float]) -> Int {
    guard a.count == b.count else { return .max }
    return zip(a, b).map { ulpDistance($0, $1) }.max() ?? 0
}
