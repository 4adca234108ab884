import Foundation
import Torch

/// Every parameter and buffer of a model, by its dotted name. Names are the checkpoint keys (diffusers'
/// `down_blocks.0.resnets.0.conv1.weight`), built as modules are constructed from ``ParameterPath``s, so
/// loading needs no renaming table.
public final class ParameterStore: @unchecked Sendable {
    public enum Kind: Sendable { case parameter, buffer }

    public struct Entry {
        public let name: String
        public let tensor: Tensor
        public let kind: Kind
        /// Whether an optimizer should update it (buffers never are).
        public internal(set) var trainable: Bool
    }

    public private(set) var entries: [Entry] = []
    private var index: [String: Int] = [:]
    public let dtype: DType
    public private(set) var device: Device
    /// Initialises new parameters; seeded so a model built from a config is reproducible.
    public let generator: Generator
    /// Dropout and similar layers act only while training.
    public var isTraining = false
    /// Leaves new parameters uninitialised (their values are about to be loaded): building an SD 1.5 UNet
    /// otherwise spends most of its load time drawing random weights that are then overwritten. A strict
    /// load guarantees every parameter is then written.
    public var skipsInitialization = false

    public init(dtype: DType = .float32, device: Device = .cpu, seed: UInt64 = 0) {
        self.dtype = dtype
        self.device = device
        generator = Generator(seed: seed)
    }

    /// The root path; `store.root / "unet"` or plain `store.root` for a model stored at the top level.
    public var root: ParameterPath { ParameterPath(store: self, components: []) }

    public subscript(name: String) -> Tensor? { index[name].map { entries[$0].tensor } }
    public var names: [String] { entries.map(\.name) }

    /// Registers a tensor under `name`. Parameters are leaves that require gradients when trainable.
    @discardableResult
    public func register(_ name: String, _ tensor: Tensor, kind: Kind = .parameter) -> Tensor {
        precondition(index[name] == nil, "parameter \(name) registered twice")
        let t = tensor.to(kind == .parameter ? dtype : tensor.dtype, device).detach()
        if kind == .parameter && dtype.isFloatingPoint { t.requiresGrad = true }
        index[name] = entries.count
        entries.append(Entry(name: name, tensor: t, kind: kind, trainable: kind == .parameter))
        return t
    }

    /// Parameters an optimizer updates.
    public var trainableParameters: [Tensor] { entries.filter(\.trainable).map(\.tensor) }
    public var trainableNames: [String] { entries.filter(\.trainable).map(\.name) }
    public var parameterCount: Int { entries.filter { $0.kind == .parameter }.reduce(0) { $0 + $1.tensor.count } }

    /// Freezes (or unfreezes) every parameter whose name satisfies `predicate`.
    public func setTrainable(_ trainable: Bool, where predicate: (String) -> Bool = { _ in true }) {
        for i in entries.indices where entries[i].kind == .parameter && predicate(entries[i].name) {
            entries[i].trainable = trainable
            entries[i].tensor.requiresGrad = trainable && dtype.isFloatingPoint
            if !trainable { entries[i].tensor.zeroGrad() }
        }
    }
    public func freeze(prefix: String = "") { setTrainable(false) { $0.hasPrefix(prefix) } }
    public func unfreeze(prefix: String = "") { setTrainable(true) { $0.hasPrefix(prefix) } }

    public func zeroGrad() { for e in entries { e.tensor.zeroGrad() } }

    /// Converts every floating-point tensor in place (keeping module references valid), as `module.to()`.
    public func to(dtype newDType: DType? = nil, device newDevice: Device? = nil) {
        withNoGrad {
            for e in entries {
                let target = e.tensor.dtype.isFloatingPoint ? (newDType ?? e.tensor.dtype) : e.tensor.dtype
                e.tensor.setData(e.tensor.to(target, newDevice ?? e.tensor.device))
            }
        }
        if let newDevice { device = newDevice }
    }

    /// Name → tensor of every entry, in registration order.
    public func stateDict() -> [(name: String, tensor: Tensor)] { entries.map { ($0.name, $0.tensor) } }

    /// Copies `tensors` into the store. Strict: every entry must be present with the right shape and nothing
    /// extra may be given; otherwise one ``StateDictError`` lists every missing key, unexpected key and shape
    /// mismatch. `aliases` renames legacy keys before matching (see ``KeyAliases``).
    ///
    /// `copied` is called with each given tensor once it has been copied into the store.
    public func load(
        _ tensors: [String: Tensor], source: String, aliases: KeyAliases = KeyAliases(), strict: Bool = true,
        prefix: String = "", copied: (Tensor) -> Void = { _ in }
    ) throws {
        var renamed: [String: Tensor] = [:]
        for (key, t) in tensors {
            guard key.hasPrefix(prefix) else { continue }
            let k = String(key.dropFirst(prefix.count))
            renamed[index[k] != nil ? k : aliases.rename(k)] = t
        }
        var missing: [String] = [], mismatched: [String] = []
        for e in entries {
            guard let t = renamed[e.name] else { missing.append(e.name); continue }
            let shape = aliases.reshape(t, to: e.tensor.shape)?.shape ?? t.shape
            if shape != e.tensor.shape { mismatched.append("\(e.name): file \(t.shape), model \(e.tensor.shape)") }
        }
        let unexpected = renamed.keys.filter { index[$0] == nil }.sorted()
        if !missing.isEmpty || !mismatched.isEmpty || (strict && !unexpected.isEmpty) {
            throw StateDictError(source: source, missing: missing, unexpected: strict ? unexpected : [],
                                 mismatched: mismatched)
        }
        withNoGrad {
            for e in entries {
                let t = renamed[e.name]!
                let value = aliases.reshape(t, to: e.tensor.shape) ?? t
                e.tensor.copyFrom(value.to(e.tensor.dtype, e.tensor.device))
                copied(t)
            }
        }
    }
}

/// Renames legacy checkpoint keys to current ones, as diffusers does for old VAE attention weights
/// (`query/key/value/proj_attn` → `to_q/to_k/to_v/to_out.0`), and reshapes 1×1-conv weights stored where a
/// linear layer is expected.
public struct KeyAliases: Sendable {
    /// (old component, new component) pairs, applied to dotted-name components.
    public var components: [(String, String)]

    public init(components: [(String, String)] = []) { self.components = components }

    /// The aliases diffusers' `AutoencoderKL` accepts for checkpoints saved before attention was unified.
    public static let legacyVAEAttention = KeyAliases(components: [
        ("query", "to_q"), ("key", "to_k"), ("value", "to_v"), ("proj_attn", "to_out.0"),
    ])

    public func rename(_ key: String) -> String {
        var parts = key.split(separator: ".").map(String.init)
        for i in parts.indices {
            if let (_, new) = components.first(where: { $0.0 == parts[i] }) { parts[i] = new }
        }
        return parts.joined(separator: ".")
    }

    /// A (out, in, 1, 1) conv weight given for an (out, in) linear weight, or the reverse, reshaped.
    func reshape(_ t: Tensor, to shape: [Int]) -> Tensor? {
        let s = t.shape
        guard s != shape, s.reduce(1, *) == shape.reduce(1, *) else { return nil }
        let squeezedFile = s.filter { $0 != 1 }, squeezedModel = shape.filter { $0 != 1 }
        guard squeezedFile == squeezedModel, !components.isEmpty else { return nil }
        return t.reshape(shape)
    }
}

/// A strict load that did not match: every problem, in one error.
public struct StateDictError: Error, CustomStringConvertible, Sendable {
    public let source: String
    public let missing: [String]
    public let unexpected: [String]
    public let mismatched: [String]

    public var description: String {
        var parts: [String] = []
        if !missing.isEmpty { parts.append("\(missing.count) keys missing (\(missing.joined(separator: ", ")))") }
        if !unexpected.isEmpty { parts.append("\(unexpected.count) unexpected keys (\(unexpected.joined(separator: ", ")))") }
        if !mismatched.isEmpty { parts.append("\(mismatched.count) shape mismatches (\(mismatched.joined(separator: "; ")))") }
        return "\(source): " + parts.joined(separator: "; ")
    }
}

/// A dotted name prefix in a ``ParameterStore``: `path / "to_q"` names the child, and
/// `path.parameter("weight", ...)` registers `<prefix>.to_q.weight`.
public struct ParameterPath {
    public let store: ParameterStore
    public let components: [String]

    public static func / (path: ParameterPath, name: String) -> ParameterPath {
        ParameterPath(store: path.store, components: path.components + [name])
    }
    public static func / (path: ParameterPath, index: Int) -> ParameterPath { path / String(index) }

    public func name(_ leaf: String) -> String { (components + [leaf]).joined(separator: ".") }
    public var prefix: String { components.joined(separator: ".") }

    /// Registers a parameter initialised by `initializer`.
    public func parameter(_ leaf: String, _ shape: [Int], _ initializer: Initializer) -> Tensor {
        store.register(name(leaf), store.skipsInitialization ? Tensor.empty(shape) : initializer.make(shape, store.generator))
    }
    public func buffer(_ leaf: String, _ value: Tensor) -> Tensor { store.register(name(leaf), value, kind: .buffer) }
    public var isTraining: Bool { store.isTraining }
}

/// How a new parameter is filled, following PyTorch's defaults for each layer.
public enum Initializer: Sendable {
    case zeros, ones
    case constant(Double)
    case normal(std: Double)
    /// U(-bound, bound), PyTorch's default for Linear/Conv weights and biases is bound = 1/sqrt(fan_in).
    case uniform(bound: Double)

    func make(_ shape: [Int], _ generator: Generator) -> Tensor {
        switch self {
        case .zeros: return Tensor.zeros(shape)
        case .ones: return Tensor.ones(shape)
        case .constant(let v): return Tensor.full(shape, v)
        case .normal(let std):
            let t = Tensor.empty(shape)
            t.normalInPlace(std: std, generator: generator)
            return t
        case .uniform(let bound):
            let t = Tensor.empty(shape)
            t.uniformInPlace(-bound, bound, generator: generator)
            return t
        }
    }
}

// MARK: - Safetensors

extension ParameterStore {
    /// Saves every entry as a safetensors file under its dotted name (atomically).
    public func save(to url: URL, dtype: DType? = nil, metadata: [String: String]? = nil) throws {
        let items = stateDict().map { item in
            (name: item.name, tensor: dtype.map { d in item.tensor.dtype.isFloatingPoint ? item.tensor.to(d) : item.tensor } ?? item.tensor)
        }
        try Safetensors.save(items, metadata: metadata, to: url)
    }

    /// Loads a safetensors file strictly (see ``load(_:source:aliases:strict:prefix:copied:)``). The file is
    /// mapped and each tensor's pages are handed back as soon as it is copied, so the peak memory is the
    /// parameters plus one tensor, not the parameters plus the whole file.
    public func load(contentsOf url: URL, aliases: KeyAliases = KeyAliases(), strict: Bool = true) throws {
        let file = try SafetensorsFile(url: url, mode: .copyOnWrite)
        try load(file.allTensors(), source: url.path, aliases: aliases, strict: strict) { file.releasePages(of: $0) }
    }
}
