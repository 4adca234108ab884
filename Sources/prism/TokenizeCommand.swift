import ArgumentParser
import Foundation
import Tokenizer

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the CLIP token ids of a prompt, as Stable Diffusion's text encoder receives them.",
        discussion: """
            Reads MODEL/tokenizer, or MODEL itself when it is a tokenizer folder (tokenizer.json, or vocab.json \
            and merges.txt; and, when present, \
            tokenizer_config.json and special_tokens_map.json) and prints the ids as a JSON array: the start \
            token, the prompt's tokens, the end token, then padding up to the model's length (77). A prompt that \
            does not fit is cut, with a warning on stderr naming the dropped words.

            Examples:
              prism tokenize --model path/to/stable-diffusion-v1-5 \\
                  "Chest X-ray of a 73-year-old female with cardiomegaly"
              prism tokenize --model path/to/model --no-padding "no findings"
            """
    )

    @OptionGroup var model: ModelOption

    @Option(help: "Pad or cut to this many ids, start and end tokens included (default: the tokenizer's model_max_length).")
    var maxLength: Int?

    @Flag(help: "Do not pad: stop after the end token.")
    var noPadding = false

    @Argument(help: "The prompt.")
    var text: String

    func validate() throws {
        if let maxLength, maxLength < 2 {
            throw ValidationError("--max-length must be at least 2 (room for the start and end tokens)")
        }
    }

    func run() throws {
        let tokenizer = try CLIPTokenizer(folder: tokenizerFolder())
        let encoding = tokenizer.encode(text, maxLength: maxLength, padding: !noPadding)
        if encoding.truncated {
            let length = maxLength ?? tokenizer.modelMaxLength
            let dropped = tokenizer.decode(Array(tokenizer.tokenize(text).dropFirst(length - 2)))
            Log()("warning: the prompt is \(encoding.fullLength) tokens long and only \(length) fit; "
                  + "this part was cut: \"\(dropped)\"")
        }
        print("[" + encoding.ids.map(String.init).joined(separator: ", ") + "]")
    }

    /// MODEL/tokenizer, or MODEL itself when it is a tokenizer folder.
    func tokenizerFolder() throws -> URL {
        let fm = FileManager.default
        let root = try model.url()
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TokenizerError(root.path, "no such folder (expected a diffusers model folder with a tokenizer/ subfolder)")
        }
        // A tokenizer folder holds tokenizer.json (all that transformers 5 saves) or vocab.json + merges.txt.
        if ["tokenizer.json", "vocab.json"].contains(where: { fm.fileExists(atPath: root.appendingPathComponent($0).path) }) {
            return root
        }
        let folder = root.appendingPathComponent("tokenizer")
        guard fm.fileExists(atPath: folder.path) else {
            throw TokenizerError(folder.path, "missing: a Stable Diffusion model folder has tokenizer/tokenizer.json, or tokenizer/vocab.json and tokenizer/merges.txt")
        }
        return folder
    }
}
