import ArgumentParser
import Core
import Torch

@main
struct Prism: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "prism",
        abstract: "Language-guided counterfactual medical imaging.",
        discussion: """
            Edit a chest X-ray by editing its caption: the same patient, with only \
            that attribute changed. Weights are diffusers folders (safetensors); \
            nothing is fetched from the network.
            """,
        version: "prism \(version)\nlibtorch \(Torch.version)\nCUDA available: \(Device.cudaAvailable ? "yes (\(Device.cudaDeviceCount) device(s))" : "no")",
        subcommands: [GenerateCommand.self, EditCommand.self, CaptionCommand.self, TokenizeCommand.self, PhantomCommand.self,
                      InspectCommand.self, ConvertCommand.self, BenchCommand.self, TrainCommand.self, EvaluateCommand.self, DemoCommand.self, ClassifierCommand.self,
                      AuditCommand.self, CounterfactualsCommand.self, DebiasCommand.self]
    )

    /// ArgumentParser's main, with one change: a Foundation file error that reached the top is printed with its
    /// file and cause ("x.png: Is a directory") instead of "NSCocoaErrorDomain error 256".
    static func main() {
        Allocator.tuneForTensors()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: describingFileErrors(error))
        }
    }
}
