import Foundation

/// The CLI's one way to say what it is doing: a line on standard error, so that standard output carries only results
/// (paths, JSON) for scripts. A command that may run inside another's output names itself in every line.
struct Log: Sendable {
    /// "prism edit: " or "".
    let prefix: String

    init(tool: String? = nil) { prefix = tool.map { "\($0): " } ?? "" }

    func callAsFunction(_ message: String) {
        FileHandle.standardError.write(Data((prefix + message + "\n").utf8))
    }
}
