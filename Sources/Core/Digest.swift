import Foundation

/// A 128-bit FNV-1a digest (two 64-bit lanes with different offsets): a cache key, not a security measure.
public struct Digest: Sendable, CustomStringConvertible {
    private var a: UInt64 = 0xCBF2_9CE4_8422_2325
    private var b: UInt64 = 0x84222325_CBF29CE4

    public init() {}

    public mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        for byte in bytes {
            a = (a ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
            b = (b ^ UInt64(byte ^ 0x5A)) &* 0x0000_0100_0000_01B3
        }
    }

    public mutating func update(_ text: String) {
        update(Array(text.utf8))
        update([0])
    }

    public var description: String { String(format: "%016llx%016llx", a, b) }
}
