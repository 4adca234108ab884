import Core
import Foundation

/// diffusers' `model_index.json`: which pipeline a model folder holds and the library and class of each
/// component folder (`"unet": ["diffusers", "UNet2DConditionModel"]`; `[null, null]` for an absent one, such as a
/// removed safety checker). Other fields (`requires_safety_checker`, ...) are flags Prism does not need.
public struct ModelIndex: Sendable, Equatable {
    /// One component entry: the library and class that diffusers would load the folder with.
    public struct Component: Sendable, Equatable {
        public let library: String?
        public let className: String?
        /// False for `[null, null]`, a component the model leaves out.
        public var isPresent: Bool { className != nil }
    }

    public static let fileName = "model_index.json"

    /// `_class_name`, such as `StableDiffusionPipeline`.
    public var className: String
    /// `_diffusers_version`, the diffusers version that wrote the folder.
    public var diffusersVersion: String?
    /// Components by folder name.
    public var components: [String: Component]

    public init(className: String, diffusersVersion: String? = nil, components: [String: Component]) {
        self.className = className
        self.diffusersVersion = diffusersVersion
        self.components = components
    }

    /// Reads `folder/model_index.json`.
    public static func load(from folder: URL) throws -> ModelIndex {
        let url = folder.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ModelFolderError(url.path, "missing: a diffusers model folder has a model_index.json beside its "
                + "unet/, vae/, text_encoder/, tokenizer/ and scheduler/ folders (diffusers' save_pretrained writes it)")
        }
        let data: Data
        do { data = try JSONFile.read(url) } catch let error as JSONFileError { throw ModelFolderError(error) }
        return try decode(data, source: url.path)
    }

    /// Parses model_index.json text; `source` names the file in errors.
    public static func decode(_ data: Data, source: String = fileName) throws -> ModelIndex {
        let fields: [String: Any]
        do { fields = try JSONFile.object(from: data, source: source) } catch let error as JSONFileError {
            throw ModelFolderError(error)
        }
        guard let className = fields["_class_name"] as? String else {
            throw ModelFolderError(source, "no \"_class_name\" (the pipeline class, such as StableDiffusionPipeline)")
        }
        var components: [String: Component] = [:]
        for (key, value) in fields where !key.hasPrefix("_") {
            guard let pair = value as? [Any], pair.count == 2 else { continue }
            components[key] = Component(library: pair[0] as? String, className: pair[1] as? String)
        }
        return ModelIndex(className: className, diffusersVersion: fields["_diffusers_version"] as? String,
                          components: components)
    }
}

/// The component folders of a Stable Diffusion model, as `StableDiffusionPipeline` finds them.
public struct StableDiffusionFolder: Sendable {
    public let root: URL
    public let index: ModelIndex

    /// The folders a Stable Diffusion pipeline reads, and the class diffusers stores in each.
    public static let requiredComponents: [(folder: String, className: String)] = [
        ("unet", "UNet2DConditionModel"), ("vae", "AutoencoderKL"), ("text_encoder", "CLIPTextModel"),
        ("tokenizer", "CLIPTokenizer"), ("scheduler", "a scheduler"),
    ]

    public var unet: URL { root.appendingPathComponent("unet") }
    public var vae: URL { root.appendingPathComponent("vae") }
    public var textEncoder: URL { root.appendingPathComponent("text_encoder") }
    public var tokenizer: URL { root.appendingPathComponent("tokenizer") }
    public var scheduler: URL { root.appendingPathComponent("scheduler") }

    /// Opens and checks a model folder: model_index.json and, in every component folder, its config and weight
    /// file (`variant` picks `*.{variant}.safetensors`). One error names everything that is missing.
    public init(_ root: URL, variant: String? = nil) throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ModelFolderError(root.path, "no such folder (expected a diffusers Stable Diffusion model folder)")
        }
        self.root = root
        index = try ModelIndex.load(from: root)
        let problems = Self.missingFiles(in: root, variant: variant)
        if !problems.isEmpty {
            throw ModelFolderError(root.path, "incomplete Stable Diffusion folder: " + problems.joined(separator: "; "))
        }
    }

    /// What a Stable Diffusion folder lacks, one entry per missing folder or file, relative to `root`.
    public static func missingFiles(in root: URL, variant: String? = nil) -> [String] {
        let fm = FileManager.default
        var problems: [String] = []
        for (name, className) in requiredComponents {
            let folder = root.appendingPathComponent(name)
            guard fm.fileExists(atPath: folder.path) else {
                problems.append("\(name)/ is missing (\(className))")
                continue
            }
            func has(_ file: String) -> Bool { fm.fileExists(atPath: folder.appendingPathComponent(file).path) }
            switch name {
            case "scheduler":
                if !has("scheduler_config.json") { problems.append("scheduler/scheduler_config.json is missing") }
            case "tokenizer":
                // transformers 5 saves tokenizer.json alone; older folders have vocab.json and merges.txt.
                if !has("tokenizer.json") {
                    let missing = ["vocab.json", "merges.txt"].filter { !has($0) }
                    if !missing.isEmpty {
                        problems.append("tokenizer/ has neither tokenizer.json nor " + missing.joined(separator: " and "))
                    }
                }
            default:
                if !has("config.json") { problems.append("\(name)/config.json is missing") }
            }
            if name == "unet" || name == "vae" || name == "text_encoder" {
                do { _ = try DiffusersFolder.weightFile(in: folder, variant: variant) } catch let error as ModelFolderError {
                    problems.append("\(name)/: \(error.problem)")
                } catch { problems.append("\(name)/: \(error)") }
            }
        }
        return problems
    }
}
