import Core

/// Random numbers and transcendental functions that give the same bits on every machine.
///
/// The pixel path uses only IEEE-754 `+ - * /` and `sqrt` (correctly rounded everywhere; Swift does not
/// contract `a * b + c` into a fused multiply-add without being asked). The few transcendental values it
/// needs (exp, log, sin, cos, pow) come from the polynomial approximations below instead of the platform's
/// libm, whose last-bit results differ between glibc, Apple's libm and others. Their accuracy (about 1e-14
/// relative) is far beyond what an image needs; what matters is that they are bit-for-bit reproducible.

extension SplitMix64 {
    /// Standard normal (Box–Muller with the deterministic log and cos).
    public mutating func normal() -> Double {
        let u1 = 1 - uniform()   // (0, 1]
        let u2 = uniform()
        return (-2 * DMath.log(u1)).squareRoot() * DMath.cos(2 * Double.pi * u2)
    }
}

/// A 32-bit integer hash (lowbias32, Wellons) for per-pixel noise that does not depend on drawing order.
@inline(__always) func hash32(_ x: UInt32) -> UInt32 {
    var h = x
    h ^= h >> 16; h = h &* 0x7FEB_352D
    h ^= h >> 15; h = h &* 0x846C_A68B
    h ^= h >> 16
    return h
}

/// Uniform float in [0, 1) from three integer coordinates.
@inline(__always) func hashUniform(_ a: Int, _ b: Int, _ seed: UInt32) -> Float {
    let h = hash32(UInt32(truncatingIfNeeded: a) &* 0x9E37_79B1 ^ hash32(UInt32(truncatingIfNeeded: b) ^ seed))
    return Float(h >> 8) * 0x1p-24
}

/// Deterministic elementary functions in `Double` (see the note at the top of this file).
public enum DMath {
    static let ln2Hi = 6.93147180369123816490e-01
    static let ln2Lo = 1.90821492927058770002e-10

    public static func exp(_ x: Double) -> Double {
        if x > 700 { return .infinity }
        if x < -700 { return 0 }
        let k = (x / 0.6931471805599453).rounded()
        let r = (x - k * ln2Hi) - k * ln2Lo   // |r| <= 0.35
        // Taylor series to degree 13: error < 1e-16 on this range.
        var term = 1.0, sum = 1.0
        for n in 1...13 { term = term * r / Double(n); sum += term }
        return sum * pow2(Int(k))
    }

    public static func log(_ x: Double) -> Double {
        precondition(x > 0, "DMath.log of \(x)")
        // x = m * 2^e with m in [sqrt(1/2), sqrt(2)).
        var e = Int((x.bitPattern >> 52) & 0x7FF) - 1023
        var m = Double(bitPattern: (x.bitPattern & 0x000F_FFFF_FFFF_FFFF) | 0x3FF0_0000_0000_0000)
        if e == -1023 { return log(x * 0x1p60) - 60 * 0.6931471805599453 }   // subnormal
        if m > 1.4142135623730951 { m /= 2; e += 1 }
        let s = (m - 1) / (m + 1), s2 = s * s
        // 2 artanh(s) = 2 (s + s^3/3 + s^5/5 + ...), |s| <= 0.172: 10 terms reach 1e-17.
        var term = s, sum = 0.0
        for n in 0..<10 { sum += term / Double(2 * n + 1); term *= s2 }
        return 2 * sum + Double(e) * ln2Hi + Double(e) * ln2Lo
    }

    public static func sin(_ x: Double) -> Double {
        let r = reduce(x)
        let r2 = r * r
        var term = r, sum = r
        for n in 1...12 { term = -term * r2 / Double((2 * n) * (2 * n + 1)); sum += term }
        return sum
    }

    public static func cos(_ x: Double) -> Double {
        let r = reduce(x)
        let r2 = r * r
        var term = 1.0, sum = 1.0
        for n in 1...12 { term = -term * r2 / Double((2 * n - 1) * (2 * n)); sum += term }
        return sum
    }

    public static func pow(_ a: Double, _ b: Double) -> Double {
        if a == 0 { return b > 0 ? 0 : .infinity }
        return exp(b * log(a))
    }

    public static func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

    /// x reduced to [-pi, pi].
    static func reduce(_ x: Double) -> Double {
        let twoPi = 2 * Double.pi
        return x - twoPi * (x / twoPi).rounded()
    }

    static func pow2(_ k: Int) -> Double {
        if k > 1023 { return .infinity }
        if k < -1022 { return pow2(k + 60) * 0x1p-60 }
        return Double(bitPattern: UInt64(k + 1023) << 52)
    }
}
