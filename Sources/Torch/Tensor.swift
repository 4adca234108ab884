import CTorch
import Foundation

/// An n-dimensional array held by libtorch. One Swift object owns one libtorch handle, freed in `deinit`.
///
/// Operators and methods do not throw: a libtorch error traps with the op name, the input shapes and
/// libtorch's message, because a shape bug is a programming error. Where a caller must recover (user-supplied
/// weights, shapes from files), wrap the work in ``Torch/catching(_:)``, which turns the first error into a
/// thrown ``TorchError``.
public final class Tensor: @unchecked Sendable {
    public let handle: OpaquePointer

    /// Takes ownership of a +1 handle from the shim.
    public init(handle: OpaquePointer) { self.handle = handle }

    deinit { pt_tensor_free(handle) }

    // MARK: Inspection

    public var rank: Int { Int(pt_dim(handle)) }
    public var shape: [Int] {
        var sizes = [Int64](repeating: 0, count: 16)
        let n = Int(pt_sizes(handle, &sizes, 16))
        if n > 16 {
            sizes = [Int64](repeating: 0, count: n)
            _ = pt_sizes(handle, &sizes, Int64(n))
        }
        return sizes.prefix(n).map(Int.init)
    }
    public var strides: [Int] {
        var s = [Int64](repeating: 0, count: Swift.max(rank, 1))
        let n = Int(pt_strides(handle, &s, Int64(s.count)))
        return s.prefix(n).map(Int.init)
    }
    public func size(_ dim: Int) -> Int {
        let s = shape
        return s[dim < 0 ? dim + s.count : dim]
    }
    public var count: Int { Int(pt_numel(handle)) }
    public var isDefined: Bool { pt_defined(handle) }
    public var dtype: DType { DType(rawValue: pt_dtype_of(handle)) ?? .float32 }
    public var device: Device { Device(pt_device_of(handle)) }
    public var isContiguous: Bool { pt_is_contiguous(handle, false) }
    public var isChannelsLast: Bool { pt_is_contiguous(handle, true) }
    public var byteCount: Int { count * dtype.byteSize }

    /// libtorch's version counter: it grows with every in-place change, so a value derived from a parameter
    /// (a prepacked weight) can tell when it has gone stale.
    public var versionCounter: Int { Int(pt_version_counter(handle)) }

    /// The address of the tensor's first element: it changes when the tensor is given new data
    /// (``setData(_:)``), which libtorch's version counter does not count.
    public var dataAddress: UInt {
        var p: UnsafeMutableRawPointer?
        Tensor.check("data_ptr", [self], pt_data_ptr(handle, &p))
        return UInt(bitPattern: p)
    }
}

// MARK: - Errors

/// A libtorch error, with the op that raised it and the shapes it was given.
public struct TorchError: Error, CustomStringConvertible, Sendable {
    public let op: String
    public let shapes: [[Int]]
    public let message: String

    public var description: String {
        let inputs = shapes.map { "[" + $0.map(String.init).joined(separator: ", ") + "]" }.joined(separator: ", ")
        let firstLine = message.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? message
        return "\(op)(\(inputs)): \(firstLine)"
    }
}

/// Collects the first libtorch error raised inside ``Torch/catching(_:)`` instead of trapping.
final class ErrorSink: @unchecked Sendable {
    var first: TorchError?
    @TaskLocal static var current: ErrorSink?
}

extension Tensor {
    /// Runs a shim call that produces one tensor. On failure: records the error inside `Torch.catching`,
    /// otherwise traps with the op, the shapes and libtorch's message.
    @inline(__always)
    static func make(
        _ op: StaticString, _ inputs: @autoclosure () -> [Tensor],
        _ body: (UnsafeMutablePointer<OpaquePointer?>) -> Int32
    ) -> Tensor {
        var out: OpaquePointer?
        let status = body(&out)
        if status == 0, let out { return Tensor(handle: out) }
        return failed("\(op)", inputs().map(\.shape))
    }

    /// Same, for calls that write two tensors (values and indices).
    @inline(__always)
    static func make2(
        _ op: StaticString, _ inputs: @autoclosure () -> [Tensor],
        _ body: (UnsafeMutablePointer<OpaquePointer?>, UnsafeMutablePointer<OpaquePointer?>) -> Int32
    ) -> (Tensor, Tensor) {
        var a: OpaquePointer?
        var b: OpaquePointer?
        let status = body(&a, &b)
        if status == 0, let a, let b { return (Tensor(handle: a), Tensor(handle: b)) }
        let shapes = inputs().map(\.shape)
        return (failed("\(op)", shapes), undefined())
    }

    /// For in-place calls that return only a status.
    @inline(__always)
    static func check(_ op: StaticString, _ inputs: @autoclosure () -> [Tensor], _ status: Int32) {
        if status != 0 { _ = failed("\(op)", inputs().map(\.shape)) }
    }

    static func failed(_ op: String, _ shapes: [[Int]]) -> Tensor {
        let error = TorchError(op: op, shapes: shapes, message: String(cString: pt_last_error()))
        if let sink = ErrorSink.current {
            if sink.first == nil { sink.first = error }
            return undefined()
        }
        fatalError("libtorch error in \(error)")
    }

    /// A tensor with no storage, what a failed op yields inside `Torch.catching`.
    public static func undefined() -> Tensor {
        var out: OpaquePointer?
        _ = pt_undefined(&out)
        return Tensor(handle: out!)
    }
}

// MARK: - Library-wide settings

public enum Torch {
    /// The libtorch version the shim was compiled against.
    public static var version: String { String(cString: pt_version()) }

    /// Threads libtorch uses for intra-op parallelism.
    public static var threadCount: Int {
        get { Int(pt_get_num_threads()) }
        set { pt_set_num_threads(Int32(newValue)) }
    }

    /// Seeds libtorch's default CPU generator, as `torch.manual_seed`.
    public static func manualSeed(_ seed: UInt64) { pt_manual_seed(seed) }

    /// Runs `body`; the first libtorch error raised by a tensor op inside it is thrown as a ``TorchError``
    /// when `body` returns, instead of trapping. Results computed after the error are undefined tensors.
    public static func catching<R>(_ body: () throws -> R) throws -> R {
        let sink = ErrorSink()
        let result = try ErrorSink.$current.withValue(sink) { try body() }
        if let error = sink.first { throw error }
        return result
    }
}

// MARK: - Shim helpers

/// Passes a Swift `[Int]` as the shim's (int64_t*, count).
@inline(__always)
func withInt64s<R>(_ values: [Int], _ body: (UnsafePointer<Int64>, Int64) -> R) -> R {
    values.withUnsafeBufferPointer { buffer in
        buffer.withMemoryRebound(to: Int64.self) { ints in
            if let base = ints.baseAddress { return body(base, Int64(ints.count)) }
            var dummy: Int64 = 0
            return body(&dummy, 0)
        }
    }
}

extension Optional where Wrapped == Tensor {
    /// The borrowed handle, or NULL.
    var handle: OpaquePointer? { self?.handle }
}

func options(_ dtype: DType, _ device: Device) -> pt_options {
    pt_options(dtype: dtype.rawValue, device: device.c)
}
