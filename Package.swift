// swift-tools-version:6.0
import PackageDescription
import Foundation

// libtorch is found through one variable, LIBTORCH (a folder with include/ and lib/); the default is the
// project-local copy that scripts/bootstrap unpacks from the PyTorch wheel.
let packageRoot = Context.packageDirectory
// An empty LIBTORCH (make exports the variable even when it is unset) means the default.
let libtorch = Context.environment["LIBTORCH"].flatMap { $0.isEmpty ? nil : $0 } ?? "\(packageRoot)/.deps/libtorch"
let libtorchLib = "\(libtorch)/lib"

// A CUDA libtorch registers its CUDA backend from static initialisers in libtorch_cuda.so, which nothing
// references by name: --no-as-needed keeps it linked.
let cudaLibraries = ["torch_cuda", "c10_cuda"].filter {
    FileManager.default.fileExists(atPath: "\(libtorchLib)/lib\($0).so")
}
let torchLinkFlags: [String] =
    ["-L\(libtorchLib)", "-Xlinker", "-rpath", "-Xlinker", libtorchLib, "-Xlinker", "--no-as-needed"]
    + (["torch", "torch_cpu", "c10"] + cudaLibraries).map { "-l\($0)" }
    + ["-Xlinker", "--as-needed"]

let package = Package(
    name: "Prism",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "prism", targets: ["prism"]),
        .library(name: "PrismKit", targets: ["Core", "Torch", "NN", "Imaging", "Tokenizer", "Datasets", "DiffusersConfig", "Diffusion", "Training", "Counterfactual", "Phantom", "Evaluation", "Classifiers", "ClassifierMetrics", "ClassifierTraining", "DiffusionTraining", "Audit", "Debiasing"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(
            name: "CTorch",
            cxxSettings: [
                .unsafeFlags([
                    "-std=c++17", "-isystem", "\(libtorch)/include",
                    "-isystem", "\(libtorch)/include/torch/csrc/api/include",
                    "-D_GLIBCXX_USE_CXX11_ABI=1", "-Wno-deprecated-declarations",
                ]),
            ],
            linkerSettings: [.unsafeFlags(torchLinkFlags)]
        ),
        // Foundation-only helpers every layer may use (JSON reading with Python's tokens, atomic files, CSV, the
        // seeded generator, ...). Every target below declares exactly the modules its files import.
        .target(name: "Core"),
        .target(name: "Torch", dependencies: ["CTorch"]),
        .target(name: "NN", dependencies: ["Torch"]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .target(name: "CJPEG", linkerSettings: [.linkedLibrary("jpeg")]),
        // DICOM through DCMTK (Debian's libdcmtk-dev): C++ behind a C ABI, no exception crossing into Swift.
        .target(name: "CDCMTK", linkerSettings: [
            .linkedLibrary("dcmjpls"), .linkedLibrary("dcmjpeg"), .linkedLibrary("dcmimage"), .linkedLibrary("dcmimgle"),
            .linkedLibrary("dcmdata"), .linkedLibrary("oflog"), .linkedLibrary("ofstd"), .linkedLibrary("z"),
        ]),
        .target(name: "Imaging", dependencies: ["Core", "CZlib", "CJPEG", "CDCMTK"]),
        .target(name: "Tokenizer", dependencies: ["Core"]),
        .target(name: "Datasets", dependencies: ["Core"]),
        // diffusers' config files as Swift values, without libtorch (the fuzz targets decode with them).
        .target(name: "DiffusersConfig", dependencies: ["Core"]),
        .target(name: "Diffusion", dependencies: ["Core", "DiffusersConfig", "Torch", "NN", "Tokenizer", "Imaging"]),
        // The model-independent training layer (the loop, checkpoints and exact resume, batches, run folders, image
        // reading) that every model's training stands on; Stable Diffusion's is in DiffusionTraining.
        .target(name: "Training", dependencies: ["Core", "Torch", "NN", "Datasets", "Imaging"]),
        .target(name: "DiffusionTraining", dependencies: ["Core", "Torch", "NN", "Datasets", "Diffusion", "Imaging", "Tokenizer", "Training"]),
        .target(name: "Counterfactual", dependencies: ["Core", "Torch", "NN", "Diffusion", "Tokenizer", "Imaging"]),
        .target(name: "Phantom", dependencies: ["Core", "Imaging"]),
        .target(name: "Classifiers", dependencies: ["Core", "Torch", "NN"]),
        // The numbers a classifier is judged by (AUROC, thresholds, calibration, shortcut groups, counterfactual
        // sensitivity): plain arithmetic on scores, so Foundation only, without libtorch.
        .target(name: "ClassifierMetrics", dependencies: ["Core", "Imaging"]),
        // Classifier training on the one Trainer (masked multi-label BCE, group weights, augmentation, validation and
        // the best checkpoint by AUROC), and prediction, evaluation and counterfactual sensitivity of a classifier folder.
        .target(name: "ClassifierTraining", dependencies: ["Classifiers", "ClassifierMetrics", "Core", "Datasets", "Imaging", "NN", "Torch", "Training"]),
        .target(name: "Evaluation", dependencies: ["Core", "Counterfactual", "Datasets", "DiffusersConfig", "Diffusion", "DiffusionTraining", "Imaging", "Phantom", "Tokenizer", "Torch"]),
        // The audit of hidden relationships: what else an edit changes, as an effect matrix with intervals and
        // adjusted tests; on the phantom against its causal truth.
        .target(name: "Audit", dependencies: ["ClassifierMetrics", "ClassifierTraining", "Classifiers", "Core", "Counterfactual", "Datasets", "Evaluation", "Imaging", "Phantom"]),
        // Counterfactual datasets at scale (resumable, sharded, gated by a classifier) and what de-biasing makes of them.
        .target(name: "Debiasing", dependencies: ["ClassifierMetrics", "ClassifierTraining", "Classifiers", "Core", "Counterfactual", "Datasets", "Diffusion", "Evaluation", "Imaging", "Phantom", "Training"]),
        .executableTarget(
            name: "prism",
            dependencies: [
                "Core", "Torch", "NN", "Imaging", "Tokenizer", "Datasets", "Diffusion", "Training", "DiffusionTraining", "Counterfactual", "Phantom", "Evaluation",
                "Classifiers", "ClassifierMetrics", "ClassifierTraining", "Audit", "Debiasing",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Helpers the test targets share (fixture decoding, the shared data folder); each target keeps its own Fixtures.
        .target(name: "TestSupport", dependencies: ["Torch"], path: "Tests/TestSupport"),
        .testTarget(name: "CoreTests", dependencies: ["Core"]),
        .testTarget(name: "TorchTests", dependencies: ["Torch", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "NNTests", dependencies: ["NN", "Torch", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DatasetsTests", dependencies: ["Core", "Datasets", "TestSupport", "Tokenizer"]),
        .testTarget(name: "DiffusionTests", dependencies: ["Core", "Diffusion", "NN", "Tokenizer", "Torch"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Imaging", "NN", "Torch"]),
        .testTarget(name: "DiffusionTrainingTests", dependencies: ["DiffusionTraining", "Training", "Core", "Datasets", "Diffusion", "Imaging", "NN", "Tokenizer", "Torch", "TestSupport"]),
        .testTarget(name: "CounterfactualTests", dependencies: ["Counterfactual", "Diffusion", "Imaging", "Tokenizer", "Torch", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "Core", "Counterfactual", "Datasets", "Diffusion", "Imaging", "Phantom", "TestSupport", "Torch", "DiffusersConfig"]),
        .testTarget(name: "PhantomTests", dependencies: ["Phantom", "Imaging"]),
        .testTarget(name: "ClassifiersTests", dependencies: ["Classifiers", "Core", "NN", "Torch", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ClassifierMetricsTests", dependencies: ["ClassifierMetrics", "Core", "Imaging"], resources: [.copy("Fixtures")]),
        .testTarget(name: "AuditTests", dependencies: ["Audit", "ClassifierMetrics", "ClassifierTraining", "Classifiers", "Core", "Counterfactual", "Datasets", "Imaging", "Phantom"]),
        .testTarget(name: "ClassifierTrainingTests", dependencies: ["ClassifierTraining", "Core", "Classifiers", "ClassifierMetrics", "Datasets", "Imaging", "Phantom", "Torch", "Training"]),
        .testTarget(name: "DebiasingTests", dependencies: ["Debiasing", "ClassifierMetrics", "Classifiers", "Core", "Counterfactual", "Datasets", "Imaging"]),
        .testTarget(
            name: "PrismCLITests",
            dependencies: [
                "prism", "Classifiers", "Core", "Counterfactual", "Datasets", "Diffusion", "DiffusionTraining", "Imaging", "Phantom", "Torch", "Training", "TestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
    ],
    cxxLanguageStandard: .cxx17
)
