/// The activations diffusers' `get_activation` names (`act_fn` in configs).
public enum Activation: String, Sendable, Codable {
    case silu, swish, mish, gelu, relu

    /// Parses a config's `act_fn`; nil for names diffusers does not know either.
    public init?(configName: String) { self.init(rawValue: configName.lowercased()) }
}
