import Core
import Foundation

/// What a model's author recommends for using it with Prism: `prism.json` at the model folder's root (diffusers
/// reads only `model_index.json` and the component folders, so the folder stays a plain diffusers folder).
///
/// Every field is optional; a folder without the file has no per-model defaults, and commands use their own.
///
///     {
///       "name": "the bundled model",
///       "captions": "captions.json",
///       "editing": { "guidance": 3, "guidance_reference": "docs/editing.md, Quality" }
///     }
public struct ModelDefaults: Codable, Sendable, Equatable {
    public static let fileName = "prism.json"

    /// How messages call the model ("the bundled model").
    public var name: String?
    /// The caption template the model was trained with: a template file (JSON, as `--template` takes) in the model
    /// folder, named relative to it. Commands that caption images for this model use it unless told otherwise.
    public var captions: String?
    public var editing: Editing?

    public struct Editing: Codable, Sendable, Equatable {
        /// The classifier-free guidance scale this model edits best with: every editing command's default when
        /// --guidance is left out (each says so, and says this one when another is used).
        public var guidance: Double?
        /// Where the recommendation is justified ("docs/editing.md, Quality").
        public var guidanceReference: String?
        /// The weight on the cross-attention of the words an edit adds that this model edits best with: every
        /// editing command's default when --emphasis is left out (1, prompt-to-prompt's own, when absent).
        public var emphasis: Double?

        public init(guidance: Double? = nil, guidanceReference: String? = nil, emphasis: Double? = nil) {
            self.guidance = guidance
            self.guidanceReference = guidanceReference
            self.emphasis = emphasis
        }

        enum CodingKeys: String, CodingKey {
            case guidance, emphasis
            case guidanceReference = "guidance_reference"
        }
    }

    public init(name: String? = nil, captions: String? = nil, editing: Editing? = nil) {
        self.name = name
        self.captions = captions
        self.editing = editing
    }

    /// The guidance to edit with: `given` (--guidance), else this model's recommendation, else `fallback` (the
    /// editor's own default).
    public func guidance(given: Double?, fallback: Double) -> Double {
        given ?? editing?.guidance ?? fallback
    }

    /// The emphasis to edit with: `given` (--emphasis), else this model's recommendation, else `fallback`.
    public func emphasis(given: Double?, fallback: Double) -> Double {
        given ?? editing?.emphasis ?? fallback
    }

    /// The caption template file of the model in `folder`, if it names one.
    public func captionsURL(in folder: URL) -> URL? {
        captions.map { folder.appendingPathComponent($0) }
    }

    /// The defaults of the model in `folder`: none when it has no `prism.json`; a file that is not valid JSON or
    /// holds a field of the wrong type is refused naming the file and the key.
    public static func load(from folder: URL) throws -> ModelDefaults {
        let url = folder.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { return ModelDefaults() }
        let defaults = try JSONFile.decode(ModelDefaults.self, from: url)
        if let guidance = defaults.editing?.guidance, !guidance.isFinite || guidance < 0 {
            throw JSONFileError(file: url.path, key: "editing.guidance", problem: "expected a finite number >= 0, found \(guidance)")
        }
        if let emphasis = defaults.editing?.emphasis, !emphasis.isFinite || emphasis <= 0 {
            throw JSONFileError(file: url.path, key: "editing.emphasis", problem: "expected a finite number > 0, found \(emphasis)")
        }
        if let file = defaults.captionsURL(in: folder), !FileManager.default.fileExists(atPath: file.path) {
            throw JSONFileError(file: url.path, key: "captions", problem: "names \(file.path), which does not exist")
        }
        return defaults
    }
}
