import Foundation

/// libtorch's global generator, for the few tests that must use it (`Torch.manualSeed`, dropout): they run one at a
/// time under this lock. Every other test draws from a `Generator` of its own, so that tests running in parallel
/// never reseed or advance each other's random numbers.
public enum GlobalGenerator {
    private static let lock = NSLock()

    public static func exclusive<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
