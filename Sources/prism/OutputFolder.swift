import Foundation

/// The folder a command writes into, made (or checked) before any long work, so that a path it cannot write to
/// fails at once, naming the path and the reason, instead of after minutes of inversion or editing.
func prepareOutputFolder(_ path: String, option: String = "--output") throws -> URL {
    let url = URL(fileURLWithPath: path, isDirectory: true)
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
        guard isDirectory.boolValue else { throw CLIError("\(url.path): a file, not a folder (\(option) names a folder)") }
    } else {
        // mkdir -p by hand: Foundation's error on Linux does not say why.
        var made = ""
        for component in url.pathComponents {
            made = component == "/" ? "/" : (made.hasSuffix("/") ? made : made + "/") + component
            if mkdir(made, 0o755) != 0 && errno != EEXIST {
                throw CLIError("\(url.path): cannot create the \(option) folder (\(made): \(String(cString: strerror(errno))))")
            }
        }
    }
    guard access(url.path, W_OK | X_OK) == 0 else {
        throw CLIError("\(url.path): cannot write into the \(option) folder (\(String(cString: strerror(errno))))")
    }
    return url
}
