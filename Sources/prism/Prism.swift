import ArgumentParser

@main
struct Prism: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prism",
        abstract: "Language-guided counterfactual medical imaging.",
        subcommands: [PhantomCommand.self, TokenizeCommand.self]
    )
}
