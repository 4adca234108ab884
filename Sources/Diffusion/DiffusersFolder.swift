import Foundation
import NN
import Torch

/// A problem with a diffusers model folder: what is wrong, where, and what to do. One line.
public struct ModelFolderError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let problem: String

    public init(_ path: String, _ problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "\(path): \(problem)" }
}

/// Reading one component folder of a diffusers model (`unet/`, `vae/`, `text_encoder/`, ...): its
/// `config.json` and its safetensors weights, named by diffusers' keys.
public enum DiffusersFolder {
    /// Weight file names diffusers and transformers write, in the order they are looked for.
    static let weightStems = ["diffusion_pytorch_model", "model"]

    /// Decodes `folder/config.json`. Config types decode snake_case keys and give absent fields diffusers'
    /// defaults, so that any config diffusers writes is accepted.
    public static func config<T: Decodable>(_ type: T.Type, in folder: URL) throws -> T {
        let url = folder.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ModelFolderError(url.path, "missing (every diffusers component folder has a config.json)")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
        } catch let error as DecodingError {
            throw ModelFolderError(url.path, "not a valid \(T.self) config: \(describe(error))")
        }
    }

    /// The safetensors weight file of a component folder: `diffusion_pytorch_model[.variant].safetensors` or
    /// `model[.variant].safetensors`. With no variant asked for, the plain name is preferred and a single
    /// variant file (say `*.fp16.safetensors`) is accepted.
    public static func weightFile(in folder: URL, variant: String? = nil) throws -> URL {
        let fm = FileManager.default
        guard fm.fileExists(atPath: folder.path) else { throw ModelFolderError(folder.path, "no such folder") }
        let suffix = variant.map { ".\($0).safetensors" } ?? ".safetensors"
        for stem in weightStems {
            let url = folder.appendingPathComponent(stem + suffix)
            if fm.fileExists(atPath: url.path) { return url }
        }
        if variant == nil {
            let files = (try? fm.contentsOfDirectory(atPath: folder.path)) ?? []
            let variants = files.filter { name in
                weightStems.contains { name.hasPrefix($0 + ".") } && name.hasSuffix(".safetensors")
            }.sorted()
            if let first = variants.first { return folder.appendingPathComponent(first) }
        }
        let bin = weightStems.map { folder.appendingPathComponent($0 + ".bin") }
            .first { fm.fileExists(atPath: $0.path) }
        let wanted = weightStems.map { $0 + suffix }.joined(separator: " or ")
        if let bin {
            throw ModelFolderError(folder.path, "only \(bin.lastPathComponent) (a pickle) is here; Prism reads \(wanted). "
                + "Save the model with diffusers' save_pretrained(..., safe_serialization=True).")
        }
        throw ModelFolderError(folder.path, "no weight file: expected \(wanted)")
    }

    /// Loads a component folder's weights into `store`, strictly (one error lists every missing, unexpected
    /// and mismatched key), converting to the store's dtype and device.
    public static func loadWeights(
        into store: ParameterStore, from folder: URL, variant: String? = nil, aliases: KeyAliases = KeyAliases()
    ) throws {
        let file = try weightFile(in: folder, variant: variant)
        try store.load(contentsOf: file, aliases: aliases)
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let c): return "missing key \(path(c).isEmpty ? "" : path(c) + ".")\(key.stringValue)"
        case .typeMismatch(_, let c), .valueNotFound(_, let c): return "\(path(c)): \(c.debugDescription)"
        case .dataCorrupted(let c): return "\(path(c).isEmpty ? "" : path(c) + ": ")\(c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

/// Reads `config.json` fields that may be absent: diffusers fills those with defaults.
extension KeyedDecodingContainer {
    public func value<T: Decodable>(_ key: Key, default value: T) throws -> T {
        try decodeIfPresent(T.self, forKey: key) ?? value
    }
}
