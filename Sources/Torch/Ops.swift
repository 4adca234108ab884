import CTorch

// Codes of the shim's pt_unary / pt_binary tables (see ctorch.h).
enum UnaryOp: Int32 {
    case neg = 0, abs, exp, log, sqrt, rsqrt, sin, cos, tanh, sigmoid, relu, silu, erf, floor, ceil, round, sign,
         square, log1p, expm1, logicalNot, reciprocal, isnan, isfinite, contiguous, clone, detach, channelsLast,
         mish, softplus, trunc
}

enum BinaryOp: Int32 {
    case add = 0, sub, mul, div, pow, maximum, minimum, eq, ne, lt, le, gt, ge, logicalAnd, logicalOr, matmul, bmm,
         remainder, atan2, floorDivide
}

extension Tensor {
    @inline(__always) func unary(_ op: UnaryOp, _ name: StaticString) -> Tensor {
        Tensor.make(name, [self]) { pt_unary(op.rawValue, handle, $0) }
    }
    @inline(__always) func binary(_ op: BinaryOp, _ other: Tensor, _ name: StaticString) -> Tensor {
        Tensor.make(name, [self, other]) { pt_binary(op.rawValue, handle, other.handle, $0) }
    }
    @inline(__always) func binary(_ op: BinaryOp, _ s: Double, reversed: Bool = false, _ name: StaticString) -> Tensor {
        Tensor.make(name, [self]) { pt_binary_scalar(op.rawValue, handle, s, reversed, $0) }
    }

    // MARK: Element-wise math

    public func neg() -> Tensor { unary(.neg, "neg") }
    public func abs() -> Tensor { unary(.abs, "abs") }
    public func exp() -> Tensor { unary(.exp, "exp") }
    public func log() -> Tensor { unary(.log, "log") }
    public func sqrt() -> Tensor { unary(.sqrt, "sqrt") }
    public func rsqrt() -> Tensor { unary(.rsqrt, "rsqrt") }
    public func sin() -> Tensor { unary(.sin, "sin") }
    public func cos() -> Tensor { unary(.cos, "cos") }
    public func tanh() -> Tensor { unary(.tanh, "tanh") }
    public func sigmoid() -> Tensor { unary(.sigmoid, "sigmoid") }
    public func relu() -> Tensor { unary(.relu, "relu") }
    public func silu() -> Tensor { unary(.silu, "silu") }
    public func mish() -> Tensor { unary(.mish, "mish") }
    public func softplus() -> Tensor { unary(.softplus, "softplus") }
    public func erf() -> Tensor { unary(.erf, "erf") }
    public func floor() -> Tensor { unary(.floor, "floor") }
    public func ceil() -> Tensor { unary(.ceil, "ceil") }
    public func round() -> Tensor { unary(.round, "round") }
    public func trunc() -> Tensor { unary(.trunc, "trunc") }
    public func sign() -> Tensor { unary(.sign, "sign") }
    public func square() -> Tensor { unary(.square, "square") }
    public func log1p() -> Tensor { unary(.log1p, "log1p") }
    public func expm1() -> Tensor { unary(.expm1, "expm1") }
    public func reciprocal() -> Tensor { unary(.reciprocal, "reciprocal") }
    public func logicalNot() -> Tensor { unary(.logicalNot, "logical_not") }
    public func isnan() -> Tensor { unary(.isnan, "isnan") }
    public func isfinite() -> Tensor { unary(.isfinite, "isfinite") }
    /// GELU, exact (erf) or with the tanh approximation.
    public func gelu(approximate: Bool = false) -> Tensor {
        Tensor.make("gelu", [self]) { pt_gelu(handle, approximate, $0) }
    }
    public func leakyRelu(_ slope: Double = 0.01) -> Tensor {
        Tensor.make("leaky_relu", [self]) { pt_leaky_relu(handle, slope, $0) }
    }
    public func pow(_ exponent: Double) -> Tensor { binary(.pow, exponent, "pow") }
    public func pow(_ exponent: Tensor) -> Tensor { binary(.pow, exponent, "pow") }
    public func maximum(_ other: Tensor) -> Tensor { binary(.maximum, other, "maximum") }
    public func minimum(_ other: Tensor) -> Tensor { binary(.minimum, other, "minimum") }
    public func remainder(_ s: Double) -> Tensor { binary(.remainder, s, "remainder") }
    public func atan2(_ other: Tensor) -> Tensor { binary(.atan2, other, "atan2") }
    public func clamp(min: Double? = nil, max: Double? = nil) -> Tensor {
        Tensor.make("clamp", [self]) { pt_clamp(handle, min != nil, min ?? 0, max != nil, max ?? 0, $0) }
    }
    /// `self + weight * (end - self)`.
    public func lerp(_ end: Tensor, weight: Double) -> Tensor {
        Tensor.make("lerp", [self, end]) { pt_lerp(handle, end.handle, weight, $0) }
    }

    // MARK: Comparisons and logic (results are bool tensors)

    public func eq(_ other: Tensor) -> Tensor { binary(.eq, other, "eq") }
    public func ne(_ other: Tensor) -> Tensor { binary(.ne, other, "ne") }
    public func lt(_ other: Tensor) -> Tensor { binary(.lt, other, "lt") }
    public func le(_ other: Tensor) -> Tensor { binary(.le, other, "le") }
    public func gt(_ other: Tensor) -> Tensor { binary(.gt, other, "gt") }
    public func ge(_ other: Tensor) -> Tensor { binary(.ge, other, "ge") }
    public func eq(_ s: Double) -> Tensor { binary(.eq, s, "eq") }
    public func ne(_ s: Double) -> Tensor { binary(.ne, s, "ne") }
    public func lt(_ s: Double) -> Tensor { binary(.lt, s, "lt") }
    public func le(_ s: Double) -> Tensor { binary(.le, s, "le") }
    public func gt(_ s: Double) -> Tensor { binary(.gt, s, "gt") }
    public func ge(_ s: Double) -> Tensor { binary(.ge, s, "ge") }
    public func logicalAnd(_ other: Tensor) -> Tensor { binary(.logicalAnd, other, "logical_and") }
    public func logicalOr(_ other: Tensor) -> Tensor { binary(.logicalOr, other, "logical_or") }

    /// Elements of `a` where `condition` holds, else of `b`.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        make("where", [condition, a, b]) { pt_where(condition.handle, a.handle, b.handle, $0) }
    }
    public func maskedFill(_ mask: Tensor, _ value: Double) -> Tensor {
        Tensor.make("masked_fill", [self, mask]) { pt_masked_fill(handle, mask.handle, value, $0) }
    }

    // MARK: Matrix products

    public func matmul(_ other: Tensor) -> Tensor { binary(.matmul, other, "matmul") }
    public func bmm(_ other: Tensor) -> Tensor { binary(.bmm, other, "bmm") }
    /// `beta * self + alpha * (b1 @ b2)`, batched.
    public func baddbmm(_ b1: Tensor, _ b2: Tensor, beta: Double = 1, alpha: Double = 1) -> Tensor {
        Tensor.make("baddbmm", [self, b1, b2]) { pt_baddbmm(handle, b1.handle, b2.handle, beta, alpha, $0) }
    }

    // MARK: Softmax

    public func softmax(dim: Int, dtype: DType? = nil) -> Tensor {
        Tensor.make("softmax", [self]) { pt_softmax(handle, Int64(dim), dtype?.rawValue ?? -1, $0) }
    }
    public func logSoftmax(dim: Int, dtype: DType? = nil) -> Tensor {
        Tensor.make("log_softmax", [self]) { pt_log_softmax(handle, Int64(dim), dtype?.rawValue ?? -1, $0) }
    }
}

// MARK: - Operators

public prefix func - (a: Tensor) -> Tensor { a.neg() }
public func + (a: Tensor, b: Tensor) -> Tensor { a.binary(.add, b, "add") }
public func - (a: Tensor, b: Tensor) -> Tensor { a.binary(.sub, b, "sub") }
public func * (a: Tensor, b: Tensor) -> Tensor { a.binary(.mul, b, "mul") }
public func / (a: Tensor, b: Tensor) -> Tensor { a.binary(.div, b, "div") }
public func + (a: Tensor, s: Double) -> Tensor { a.binary(.add, s, "add") }
public func - (a: Tensor, s: Double) -> Tensor { a.binary(.sub, s, "sub") }
public func * (a: Tensor, s: Double) -> Tensor { a.binary(.mul, s, "mul") }
public func / (a: Tensor, s: Double) -> Tensor { a.binary(.div, s, "div") }
public func + (s: Double, a: Tensor) -> Tensor { a.binary(.add, s, reversed: true, "add") }
public func - (s: Double, a: Tensor) -> Tensor { a.binary(.sub, s, reversed: true, "rsub") }
public func * (s: Double, a: Tensor) -> Tensor { a.binary(.mul, s, reversed: true, "mul") }
public func / (s: Double, a: Tensor) -> Tensor { a.binary(.div, s, reversed: true, "div") }

// MARK: - Reductions

enum ReduceOp: Int32 { case sum = 0, mean, prod, amax, amin, logsumexp, all, any }

extension Tensor {
    @inline(__always) func reduce(_ op: ReduceOp, _ dims: [Int], _ keepDim: Bool, _ name: StaticString) -> Tensor {
        Tensor.make(name, [self]) { out in withInt64s(dims) { pt_reduce(op.rawValue, handle, $0, $1, keepDim, out) } }
    }

    /// Sum over `dims` (all dimensions when empty).
    public func sum(dims: [Int] = [], keepDim: Bool = false) -> Tensor { reduce(.sum, dims, keepDim, "sum") }
    public func sum(dim: Int, keepDim: Bool = false) -> Tensor { reduce(.sum, [dim], keepDim, "sum") }
    public func mean(dims: [Int] = [], keepDim: Bool = false) -> Tensor { reduce(.mean, dims, keepDim, "mean") }
    public func mean(dim: Int, keepDim: Bool = false) -> Tensor { reduce(.mean, [dim], keepDim, "mean") }
    public func prod(dims: [Int] = [], keepDim: Bool = false) -> Tensor { reduce(.prod, dims, keepDim, "prod") }
    /// Largest value over `dims` (all when empty), as `torch.amax`.
    public func max(dims: [Int] = [], keepDim: Bool = false) -> Tensor { reduce(.amax, dims, keepDim, "amax") }
    public func min(dims: [Int] = [], keepDim: Bool = false) -> Tensor { reduce(.amin, dims, keepDim, "amin") }
    public func logsumexp(dims: [Int], keepDim: Bool = false) -> Tensor { reduce(.logsumexp, dims, keepDim, "logsumexp") }
    public func all(dims: [Int] = [], keepDim: Bool = false) -> Tensor { reduce(.all, dims, keepDim, "all") }
    public func any(dims: [Int] = [], keepDim: Bool = false) -> Tensor { reduce(.any, dims, keepDim, "any") }

    /// Variance with Bessel's correction by default (`correction: 1`), as `torch.var`.
    public func variance(dims: [Int] = [], correction: Double = 1, keepDim: Bool = false) -> Tensor {
        Tensor.make("var", [self]) { out in withInt64s(dims) { pt_var(handle, $0, $1, correction, keepDim, false, out) } }
    }
    public func std(dims: [Int] = [], correction: Double = 1, keepDim: Bool = false) -> Tensor {
        Tensor.make("std", [self]) { out in withInt64s(dims) { pt_var(handle, $0, $1, correction, keepDim, true, out) } }
    }
    /// The p-norm over `dims` (all elements when empty).
    public func norm(p: Double = 2, dims: [Int] = [], keepDim: Bool = false) -> Tensor {
        Tensor.make("norm", [self]) { out in withInt64s(dims) { pt_norm(handle, p, $0, $1, keepDim, out) } }
    }
    /// Largest values along `dim` and their indices.
    public func max(dim: Int, keepDim: Bool = false) -> (values: Tensor, indices: Tensor) {
        let r = Tensor.make2("max", [self]) { pt_max_dim(handle, Int64(dim), keepDim, false, $0, $1) }
        return (r.0, r.1)
    }
    public func min(dim: Int, keepDim: Bool = false) -> (values: Tensor, indices: Tensor) {
        let r = Tensor.make2("min", [self]) { pt_max_dim(handle, Int64(dim), keepDim, true, $0, $1) }
        return (r.0, r.1)
    }
    /// Index of the largest value along `dim`, or in the flattened tensor when `dim` is nil.
    public func argmax(dim: Int? = nil, keepDim: Bool = false) -> Tensor {
        Tensor.make("argmax", [self]) { pt_argmax(handle, dim != nil, Int64(dim ?? 0), keepDim, false, $0) }
    }
    public func argmin(dim: Int? = nil, keepDim: Bool = false) -> Tensor {
        Tensor.make("argmin", [self]) { pt_argmax(handle, dim != nil, Int64(dim ?? 0), keepDim, true, $0) }
    }
    public func cumsum(dim: Int) -> Tensor { Tensor.make("cumsum", [self]) { pt_cumsum(handle, Int64(dim), $0) } }
    public func topk(_ k: Int, dim: Int = -1, largest: Bool = true) -> (values: Tensor, indices: Tensor) {
        let r = Tensor.make2("topk", [self]) { pt_topk(handle, Int64(k), Int64(dim), largest, $0, $1) }
        return (r.0, r.1)
    }
    public func sorted(dim: Int = -1, descending: Bool = false) -> (values: Tensor, indices: Tensor) {
        let r = Tensor.make2("sort", [self]) { pt_sort(handle, Int64(dim), descending, $0, $1) }
        return (r.0, r.1)
    }
}

// MARK: - Shape and indexing

extension Tensor {
    /// A tensor with the same elements in a new shape; one dimension may be -1.
    public func reshape(_ shape: [Int]) -> Tensor {
        Tensor.make("reshape", [self]) { out in withInt64s(shape) { pt_reshape(handle, $0, $1, out) } }
    }
    public func reshape(_ shape: Int...) -> Tensor { reshape(shape) }
    public func permute(_ dims: [Int]) -> Tensor {
        Tensor.make("permute", [self]) { out in withInt64s(dims) { pt_permute(handle, $0, $1, out) } }
    }
    public func permute(_ dims: Int...) -> Tensor { permute(dims) }
    public func transpose(_ d0: Int, _ d1: Int) -> Tensor {
        Tensor.make("transpose", [self]) { pt_transpose(handle, Int64(d0), Int64(d1), $0) }
    }
    public func expand(_ shape: [Int]) -> Tensor {
        Tensor.make("expand", [self]) { out in withInt64s(shape) { pt_expand(handle, $0, $1, out) } }
    }
    public func repeated(_ repeats: [Int]) -> Tensor {
        Tensor.make("repeat", [self]) { out in withInt64s(repeats) { pt_repeat(handle, $0, $1, out) } }
    }
    public func flatten(start: Int = 0, end: Int = -1) -> Tensor {
        Tensor.make("flatten", [self]) { pt_flatten(handle, Int64(start), Int64(end), $0) }
    }
    /// Removes dimensions of size 1 (only `dim` when given).
    public func squeeze(_ dim: Int? = nil) -> Tensor {
        Tensor.make("squeeze", [self]) { pt_squeeze(handle, dim != nil, Int64(dim ?? 0), $0) }
    }
    public func unsqueeze(_ dim: Int) -> Tensor {
        Tensor.make("unsqueeze", [self]) { pt_unsqueeze(handle, Int64(dim), $0) }
    }
    /// Elements `start..<end` (by `step`) along `dim`; `end` nil means to the end. A view, as `x[:, a:b]`.
    public func slice(dim: Int, start: Int = 0, end: Int? = nil, step: Int = 1) -> Tensor {
        Tensor.make("slice", [self]) { pt_slice(handle, Int64(dim), Int64(start), Int64(end ?? Int(Int64.max)), Int64(step), $0) }
    }
    /// The sub-tensor at `index` along `dim`, with that dimension removed.
    public func select(dim: Int, index: Int) -> Tensor {
        Tensor.make("select", [self]) { pt_select(handle, Int64(dim), Int64(index), $0) }
    }
    public subscript(index: Int) -> Tensor { select(dim: 0, index: index) }
    public func indexSelect(dim: Int, index: Tensor) -> Tensor {
        Tensor.make("index_select", [self, index]) { pt_index_select(handle, Int64(dim), index.handle, $0) }
    }
    public func gather(dim: Int, index: Tensor) -> Tensor {
        Tensor.make("gather", [self, index]) { pt_gather(handle, Int64(dim), index.handle, $0) }
    }
    public func flip(_ dims: [Int]) -> Tensor {
        Tensor.make("flip", [self]) { out in withInt64s(dims) { pt_flip(handle, $0, $1, out) } }
    }
    public func tril(_ diagonal: Int = 0) -> Tensor { Tensor.make("tril", [self]) { pt_tril(handle, Int64(diagonal), false, $0) } }
    public func triu(_ diagonal: Int = 0) -> Tensor { Tensor.make("triu", [self]) { pt_tril(handle, Int64(diagonal), true, $0) } }
    /// Indices of non-zero elements, one row per element.
    public func nonzero() -> Tensor { Tensor.make("nonzero", [self]) { pt_nonzero(handle, $0) } }

    public static func cat(_ tensors: [Tensor], dim: Int = 0) -> Tensor {
        let handles: [OpaquePointer?] = tensors.map(\.handle)
        return withExtendedLifetime(tensors) {
            make("cat", tensors) { out in handles.withUnsafeBufferPointer { pt_cat($0.baseAddress, Int64($0.count), Int64(dim), out) } }
        }
    }
    public static func stack(_ tensors: [Tensor], dim: Int = 0) -> Tensor {
        let handles: [OpaquePointer?] = tensors.map(\.handle)
        return withExtendedLifetime(tensors) {
            make("stack", tensors) { out in handles.withUnsafeBufferPointer { pt_stack($0.baseAddress, Int64($0.count), Int64(dim), out) } }
        }
    }
    /// Splits into `chunks` nearly equal parts along `dim` (the last may be smaller), as `torch.chunk`.
    public func chunk(_ chunks: Int, dim: Int = 0) -> [Tensor] {
        takeList("chunk") { pt_chunk(handle, Int64(chunks), Int64(dim), $0, $1) }
    }
    /// Splits into parts of the given sizes along `dim`.
    public func split(_ sizes: [Int], dim: Int = 0) -> [Tensor] {
        takeList("split") { list, n in withInt64s(sizes) { pt_split(handle, $0, $1, Int64(dim), list, n) } }
    }
    private func takeList(
        _ op: StaticString,
        _ body: (UnsafeMutablePointer<UnsafeMutablePointer<OpaquePointer?>?>, UnsafeMutablePointer<Int64>) -> Int32
    ) -> [Tensor] {
        var list: UnsafeMutablePointer<OpaquePointer?>?
        var n: Int64 = 0
        guard body(&list, &n) == 0, let list else { return [Tensor.failed("\(op)", [shape])] }
        defer { pt_free(list) }
        return (0..<Int(n)).map { Tensor(handle: list[$0]!) }
    }

    public enum PadMode: Int32, Sendable { case constant = 0, reflect, replicate, circular }
    /// Pads as `torch.nn.functional.pad`: `pads` lists (before, after) pairs starting from the last dimension.
    public func pad(_ pads: [Int], mode: PadMode = .constant, value: Double = 0) -> Tensor {
        Tensor.make("pad", [self]) { out in withInt64s(pads) { pt_pad(handle, $0, $1, mode.rawValue, value, out) } }
    }

    // MARK: Conversion and memory layout

    public func to(_ dtype: DType) -> Tensor {
        if dtype == self.dtype { return self }
        return Tensor.make("to", [self]) { pt_to(handle, dtype.rawValue, false, Device.cpu.c, false, $0) }
    }
    public func to(_ device: Device) -> Tensor {
        if device == self.device { return self }
        return Tensor.make("to", [self]) { pt_to(handle, -1, true, device.c, false, $0) }
    }
    public func to(_ dtype: DType, _ device: Device) -> Tensor {
        Tensor.make("to", [self]) { pt_to(handle, dtype.rawValue, true, device.c, false, $0) }
    }
    public func contiguous() -> Tensor { unary(.contiguous, "contiguous") }
    /// NHWC memory layout with the same logical NCHW shape (faster convolutions on some backends).
    public func channelsLast() -> Tensor { unary(.channelsLast, "contiguous(channels_last)") }
    /// A copy that owns its own storage.
    public func clone() -> Tensor { unary(.clone, "clone") }
}
