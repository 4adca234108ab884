import ArgumentParser
import Diffusion
import Foundation
import Imaging
import Torch

// Options that several commands declare, each declared and read in one place.

/// `--model`: a diffusers folder; the bundled phantom model when not given. Commands that also take a component
/// folder (`vae/`, `tokenizer/`, ...) say so in their discussion.
struct ModelOption: ParsableArguments {
    @Option(help: "A diffusers model folder (default: the bundled phantom model).")
    var model: String?

    /// --model, else the bundled model.
    func url() throws -> URL { try DefaultModel.resolve(model) }
}

/// `--dtype`, the compute precision.
struct DTypeOption: ParsableArguments {
    @Option(help: "Compute dtype: fp32 or bf16.")
    var dtype = "fp32"

    func validate() throws { _ = try value() }

    /// fp32 or bf16 (also spelled float32, bfloat16, in any case).
    func value() throws -> DType {
        switch dtype.lowercased() {
        case "fp32", "float32": return .float32
        case "bf16", "bfloat16": return .bfloat16
        default: throw ValidationError("--dtype \(dtype): use fp32 or bf16")
        }
    }
}

/// `--steps` of a diffusion sampler: how many denoising steps a generation or an edit takes.
struct DenoisingStepsOption: ParsableArguments {
    @Option(help: "Denoising steps.")
    var steps = 50

    func validate() throws { try requireCount(steps, "--steps", atLeast: 1) }
}

/// `--window`: how a DICOM input's modality values become gray (PNG and JPEG inputs are read as they are).
struct WindowOption: ParsableArguments {
    @Option(help: ArgumentHelp("DICOM inputs: auto (the file's first VOI LUT or window, else min-max), CENTER,WIDTH, "
                               + "percentile:LOW,HIGH (e.g. percentile:0.5,99.5) or none (min-max of the modality values).",
                               valueName: "window"))
    var window = "auto"

    func validate() throws { _ = try value() }

    func value() throws -> DICOMWindow {
        do { return try DICOMWindow(parsing: window) } catch let error as DICOMWindowError {
            throw ValidationError("--window \(error.description)")
        }
    }
}

/// A default that differs between the commands sharing an option group: argument-parser takes an option's default
/// from its declaration, so the group takes it as a type (`LoadOptions<CPUDevice>`).
protocol OptionDefault { static var value: String { get } }

/// Generation runs on the fastest device here.
enum AutoDevice: OptionDefault { static let value = "auto" }
/// Benchmarks run on the CPU unless asked, so that their numbers compare across machines.
enum CPUDevice: OptionDefault { static let value = "cpu" }

/// How a model's weights are loaded: onto which device, from which files.
struct LoadOptions<DefaultDevice: OptionDefault>: ParsableArguments {
    @Option(help: "Device: cpu, cuda or auto.")
    var device = DefaultDevice.value

    @Option(help: "Weight file variant to load, such as fp16 for *.fp16.safetensors (default: the plain files, else the only variant present).")
    var variant: String?

    func validate() throws { _ = try resolvedDevice() }

    /// The device, refused when this process cannot use it.
    func resolvedDevice() throws -> Device { try requireDevice(device) }
}

enum DemoFolder: OptionDefault { static let value = "demo-output" }
enum EvaluationFolder: OptionDefault { static let value = "evaluation" }

/// Where a phantom evaluation's cases come from and where its report goes (`prism demo`, `prism evaluate edits`).
struct PhantomReportOptions<DefaultFolder: OptionDefault>: ParsableArguments {
    @Option(help: "Folder for the report.")
    var output = DefaultFolder.value

    @Option(help: "Phantom set the cases come from (the bundled model trained on other sets).")
    var seed: UInt64 = 90_001
}

/// `--phantom` or `--data CSV --images DIR`: where a command that runs on either takes its images from.
struct PhantomOrLabelFileOptions: ParsableArguments {
    @Flag(help: "Run on phantom images, whose causal model and true counterfactuals are known.")
    var phantom = false

    @Option(help: ArgumentHelp("A label file (CheXpert-style or NIH) instead of --phantom.", valueName: "csv"))
    var data: String?

    @Option(help: ArgumentHelp("The folder --data's image paths are relative to.", valueName: "dir"))
    var images: String?

    func validate() throws {
        if phantom == (data != nil) { throw ValidationError("give --phantom, or --data CSV --images DIR (not both)") }
        if data != nil && images == nil { throw ValidationError("--data needs --images (the folder its paths are relative to)") }
    }

    /// The label file and its image folder (nil with --phantom).
    var labelFile: (data: String, images: String)? { data.map { ($0, images ?? ".") } }
}
