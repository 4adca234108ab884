/// A problem with what the user asked for, found while running: printed as one line, exit status 1, no usage text.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
