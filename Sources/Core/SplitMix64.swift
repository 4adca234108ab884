/// SplitMix64 (Steele, Lea and Flood 2014): a tiny, fast, well-mixed 64-bit generator that gives the same numbers
/// on every platform, unlike the system generator. Patient splits, training sample orders and the phantom are all
/// pure functions of a seed through it, so its output must never change: `SplitMix64Tests` pins the stream.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }

    /// The generator of one visit of a training image: a pure function of the run's seed, a salt naming what is
    /// drawn, the image and the epoch, so that a draw is the same on any loader thread and after a resume, and new
    /// each epoch.
    public init(seed: UInt64, salt: UInt64, index: Int, epoch: Int) {
        self.init(seed: seed ^ salt ^ (UInt64(index) &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(epoch) &* 0xD1B5_4A32_D192_ED03))
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }

    public mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * uniform() }

    /// An integer in `range` (by a modulo: the bias is below 2⁻⁴⁰ for the small ranges this is used for).
    public mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    /// A generator for a named sub-stream, so that adding a draw to one part of a model does not shift the draws
    /// of another.
    public func fork(_ label: UInt64) -> SplitMix64 {
        var g = SplitMix64(seed: state ^ (label &* 0xD1B5_4A32_D192_ED03))
        _ = g.next()
        return g
    }
}
