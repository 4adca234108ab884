import Core
import Foundation

/// diffusers' `model_index.json`: which pipeline a model folder holds and the library and class of each
/// component folder (`"unet": ["diffusers", "UNet2DConditionModel"]`; `[null, null]` for an absent one, such as a
/// removed safety checker). Other fields (`requires_safety_checker`, ...) are flags Prism does not need but
/// writes back.
public struct ModelIndex: Sendable, Equatable, Encodable {
    /// One component entry: the library and class that diffusers would load the folder with.
    public struct Component: Sendable, Equatable {
        public let library: String?
        public let className: String?

        public init(library: String?, className: String?) {
            self.library = library
            self.className = className
        }
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
    /// The other fields (`requires_safety_checker`, ...), as read.
    public var otherFields: OtherFields

    public init(className: String, diffusersVersion: String? = nil, components: [String: Component],
                otherFields: OtherFields = [:]) {
        self.className = className
        self.diffusersVersion = diffusersVersion
        self.components = components
        self.otherFields = otherFields
    }

    /// The index of a Stable Diffusion folder as diffusers 0.42's `save_pretrained` writes it, with no safety
    /// checker, feature extractor or image encoder.
    public static func stableDiffusion(schedulerClass: String) -> ModelIndex {
        ModelIndex(className: "StableDiffusionPipeline", diffusersVersion: "0.42.1", components: [
            "feature_extractor": Component(library: nil, className: nil),
            "image_encoder": Component(library: nil, className: nil),
            "safety_checker": Component(library: nil, className: nil),
            "scheduler": Component(library: "diffusers", className: schedulerClass),
            "text_encoder": Component(library: "transformers", className: "CLIPTextModel"),
            "tokenizer": Component(library: "transformers", className: "CLIPTokenizer"),
            "unet": Component(library: "diffusers", className: "UNet2DConditionModel"),
            "vae": Component(library: "diffusers", className: "AutoencoderKL"),
        ], otherFields: ["requires_safety_checker": .bool(false)])
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
        let values = (try? JSONFile.decode([String: JSONValue].self, from: data, source: source)) ?? [:]
        let other = values.filter { key, _ in !["_class_name", "_diffusers_version"].contains(key) && components[key] == nil }
        return ModelIndex(className: className, diffusersVersion: fields["_diffusers_version"] as? String,
                          components: components, otherFields: other)
    }

    /// model_index.json as diffusers writes it: `_class_name`, `_diffusers_version`, a `[library, class]` pair per
    /// component, the other fields.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: AnyCodingKey.self)
        for (key, value) in otherFields { try c.encode(value, forKey: AnyCodingKey(key)) }
        for (name, component) in components {
            try c.encode([component.library, component.className], forKey: AnyCodingKey(name))
        }
        try c.encode(className, forKey: AnyCodingKey("_class_name"))
        try c.encodeIfPresent(diffusersVersion, forKey: AnyCodingKey("_diffusers_version"))
    }
}
