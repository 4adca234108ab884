import Foundation

/// The small chest X-ray model that ships with Prism, trained on the phantom: what `--model` means when it is not
/// given.
enum DefaultModel {
    static let relativePath = "models/prism-cxr-phantom"

    /// `$PRISM_MODEL`, else the model folder of the checkout this executable was built in, else of the current folder.
    static func locate() throws -> URL {
        let env = ProcessInfo.processInfo.environment
        if let path = env["PRISM_MODEL"], !path.isEmpty { return URL(fileURLWithPath: path) }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var candidates: [URL] = []
        var folder = executable.deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(folder.appendingPathComponent(relativePath))
            folder = folder.deletingLastPathComponent()
        }
        candidates.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(relativePath))
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0.appendingPathComponent("model_index.json").path) }) {
            return found
        }
        throw CLIError("no --model given, and the bundled default model (\(relativePath)) is not beside this executable "
                       + "or in the current folder: run from a Prism checkout (the model ships in it; docs/default-model.md "
                       + "retrains it), pass --model DIR (any Stable Diffusion folder in diffusers layout), or set PRISM_MODEL.")
    }

    static func resolve(_ model: String?) throws -> URL {
        try model.map { URL(fileURLWithPath: $0) } ?? locate()
    }
}
