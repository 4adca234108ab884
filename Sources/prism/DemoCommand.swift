import ArgumentParser
import Foundation

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Edit phantom chest X-rays with the bundled model and write an HTML report (not built yet)."
    )

    @Option(help: "Folder for the report.")
    var output = "demo-output"

    func run() throws {
        FileHandle.standardError.write(Data("""
            prism demo: not available yet. It needs the bundled default model and the editing engine, which are
            still being built (see the open issues). Meanwhile: `prism phantom generate` makes synthetic chest
            X-rays, and `prism inspect` lists the tensors of a diffusers model.

            """.utf8))
        throw ExitCode(2)
    }
}
