import ArgumentParser

struct PhantomCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "phantom", abstract: "Synthetic chest X-rays (not yet built).")
}
