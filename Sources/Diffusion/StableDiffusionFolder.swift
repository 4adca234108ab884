import Core
import DiffusersConfig
import Foundation

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
