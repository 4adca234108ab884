import ArgumentParser
import Phantom
import Testing
@testable import prism

/// Every command and subcommand of `prism`.
let allCommands: [any ParsableCommand.Type] = [
    Prism.self, GenerateCommand.self, EditCommand.self, CaptionCommand.self, TokenizeCommand.self, InspectCommand.self,
    PhantomCommand.self, PhantomCommand.Generate.self, PhantomCommand.Counterfactual.self,
    BenchCommand.self, BenchCommand.UNet.self, BenchCommand.VAEDecode.self, BenchCommand.VAEEncode.self,
    BenchCommand.TextEncoder.self, BenchCommand.Edit.self, BenchCommand.Classifier.self, TrainCommand.self,
    EvaluateCommand.self, EvaluateCommand.VAE.self, EvaluateCommand.Edits.self, DemoCommand.self,
    ClassifierCommand.self, ClassifierTrainCommand.self, ClassifierPredictCommand.self, ClassifierEvaluateCommand.self,
    ClassifierSensitivityCommand.self, ConvertCommand.self, CounterfactualsCommand.self, CounterfactualsMakeCommand.self,
    CounterfactualsMergeCommand.self, AuditCommand.self,
]

/// The help screen's width the examples must survive: a terminal's default, and what argument-parser uses when the
/// output is not a terminal.
let helpColumns = 80

@Suite struct HelpTextTests {
    /// The lines of a command's help as `prism CMD --help` prints it on an 80-column terminal, trailing spaces dropped.
    func renderedLines(_ command: any ParsableCommand.Type) -> Set<String> {
        Set(Prism.helpMessage(for: command, columns: helpColumns).split(separator: "\n", omittingEmptySubsequences: false)
            .map { String($0.reversed().drop(while: { $0 == " " }).reversed()) })
    }

    /// Argument-parser keeps the discussion's line breaks and wraps, at a space, every line that does not fit the
    /// terminal. So an example (or any indented line) must fit 80 columns to be printed intact, and a longer line
    /// must be a paragraph of prose on its own (written with `\` continuations), which wraps cleanly.
    @Test(arguments: allCommands.indices)
    func everyDiscussionLineIsPrintedIntact(_ index: Int) {
        let command = allCommands[index]
        let name = command._commandName
        let lines = command.configuration.discussion.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let rendered = renderedLines(command)
        for (i, line) in lines.enumerated() {
            if line.count < helpColumns {
                #expect(rendered.contains(line), "\(name): the help breaks the line \"\(line)\"")
                continue
            }
            let isCode = line.hasPrefix(" ") || line.hasPrefix("prism ") || line.hasSuffix("\\")
            guard !isCode else {
                Issue.record("\(name): the example line \"\(line)\" is \(line.count) columns; keep it under \(helpColumns)")
                continue
            }
            let alone = (i == 0 || lines[i - 1].isEmpty) && (i == lines.count - 1 || lines[i + 1].isEmpty)
            #expect(alone, """
                \(name): the line "\(line.prefix(40))..." is \(helpColumns) columns or wider and shares its paragraph \
                with other lines: argument-parser would leave a ragged fragment
                """)
        }
    }

    /// Every example in the help is a whole `prism` command line: its continuation lines end in `\` and the first
    /// line names a subcommand that exists.
    @Test func examplesNameRealCommands() {
        let names = Set(allCommands.map { $0._commandName })
        for command in allCommands {
            for line in command.configuration.discussion.split(separator: "\n") {
                let words = line.trimmingCharacters(in: .whitespaces).split(separator: " ")
                guard words.first == "prism", words.count > 1, !words[1].hasPrefix("-") else { continue }
                #expect(names.contains(String(words[1])), "\(command._commandName): \"\(line)\" names no prism command")
            }
        }
    }

    /// The attribute list of --do and --counterfactuals (an option's discussion, indented 8 columns) is packed so that
    /// no attribute is split from its values.
    @Test func interventionAttributesAreListedIntact() {
        for command in [PhantomCommand.Counterfactual.self, PhantomCommand.Generate.self] as [any ParsableCommand.Type] {
            let rendered = renderedLines(command).map { $0.trimmingCharacters(in: .whitespaces) }
            for line in itemLines(Intervention.help).split(separator: "\n") {
                #expect(rendered.contains(String(line)), "\(command._commandName): \"\(line)\" is broken in the help")
            }
        }
        let items = Intervention.help.split(whereSeparator: \.isWhitespace).map(String.init)
        #expect(itemLines(Intervention.help).split(whereSeparator: \.isWhitespace).map(String.init) == items)
    }
}
