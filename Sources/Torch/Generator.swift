import CTorch

/// A seeded CPU random generator, the same mt19937 engine as `torch.Generator().manual_seed(seed)`:
/// `Tensor.randn(shape, generator: Generator(seed: 0))` equals `torch.manual_seed(0); torch.randn(shape)`.
public final class Generator: @unchecked Sendable {
    let handle: OpaquePointer

    public init(seed: UInt64) {
        var out: OpaquePointer?
        precondition(pt_generator_new(seed, &out) == 0, String(cString: pt_last_error()))
        handle = out!
    }

    deinit { pt_generator_free(handle) }

    public func manualSeed(_ seed: UInt64) { _ = pt_generator_set_seed(handle, seed) }

    /// The full engine state as a uint8 tensor (for checkpoints that must resume the same random stream).
    public var state: Tensor {
        get { Tensor.make("generator.get_state", []) { pt_generator_get_state(handle, $0) } }
        set { Tensor.check("generator.set_state", [newValue], pt_generator_set_state(handle, newValue.handle)) }
    }
}
