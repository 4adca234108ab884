#if canImport(Glibc)
import Glibc
#endif

/// glibc's allocator, tuned for tensors: large blocks come from the heap and freed memory stays there for the next
/// step, instead of each large tensor being a fresh `mmap` whose pages fault in one by one and are unmapped when it
/// is freed. A training step makes and frees the same large tensors every time (DenseNet-121 at batch 16 allocates
/// hundreds of 10–50 MB feature maps), and with glibc's defaults a Prism process spent a fifth of its step in page
/// faults: 2.69 s a step against 2.19 s tuned, 2.5 M minor faults against 0.7 M, peak memory +6%
/// (docs/classifiers.md, Speed). Set before anything large is allocated; a user who sets any `glibc.malloc.*`
/// tunable in `GLIBC_TUNABLES` gets glibc as they configured it, untouched.
enum Allocator {
    /// Blocks below this come from the heap (glibc's default moves between 128 KB and 32 MB).
    static let mmapThreshold: Int32 = 1 << 30
    /// Free memory at the top of the heap is returned to the system only beyond this.
    static let trimThreshold: Int32 = 1 << 30

    static func tuneForTensors() {
        #if canImport(Glibc)
        // malloc.h is not part of Swift's Glibc module: mallopt is looked up, with its option numbers from that
        // header (M_TRIM_THRESHOLD −1, M_MMAP_THRESHOLD −3, part of glibc's ABI).
        guard !userTunes(getenv("GLIBC_TUNABLES").map { String(cString: $0) }), let mallopt = mallopt() else { return }
        _ = mallopt(-3, mmapThreshold)
        _ = mallopt(-1, trimThreshold)
        #endif
    }

    typealias Mallopt = @convention(c) (Int32, Int32) -> Int32

    /// glibc's `mallopt`, nil where the C library has none.
    static func mallopt() -> Mallopt? {
        #if canImport(Glibc)
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt").map { unsafeBitCast($0, to: Mallopt.self) }
        #else
        nil
        #endif
    }

    /// Whether the user set glibc's malloc tunables (the value of GLIBC_TUNABLES): then the allocator stays as asked.
    static func userTunes(_ tunables: String?) -> Bool {
        tunables?.contains("glibc.malloc.") ?? false
    }
}
