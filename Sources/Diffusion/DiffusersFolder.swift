import Core
import DiffusersConfig
import Foundation
import NN
import Torch

/// Reading one component folder of a diffusers model (`unet/`, `vae/`, `text_encoder/`, ...): its
/// `config.json` and its safetensors weights, named by diffusers' keys.
public enum DiffusersFolder {
    /// Weight file names diffusers and transformers write, in the order they are looked for.
    static let weightStems = ["diffusion_pytorch_model", "model"]

    /// Decodes `folder/config.json` (see ``ConfigFile``).
    public static func config<T: Decodable>(_ type: T.Type, in folder: URL) throws -> T {
        try ConfigFile.load(T.self, in: folder)
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
}
