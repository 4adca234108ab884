import Core
import Foundation

/// The folder a command writes into, made (or checked) before any long work, so that a path it cannot write to
/// fails at once, naming the path and the reason, instead of after minutes of inversion or editing.
func prepareOutputFolder(_ path: String, option: String = "--output") throws -> URL {
    let url = URL(fileURLWithPath: path, isDirectory: true)
    do { try createFolder(url) } catch let error as FileSystemError {
        throw CLIError("\(option): \(error)")
    }
    guard access(url.path, W_OK | X_OK) == 0 else {
        throw CLIError("\(option): \(url.path): cannot write into the folder (\(String(cString: strerror(errno))))")
    }
    return url
}
