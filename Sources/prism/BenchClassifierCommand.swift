import ArgumentParser
import Classifiers
import Core
import Foundation
import NN
import Torch

extension BenchCommand {
    /// Training steps and eval-mode inference of a torchvision-named classifier on random inputs.
    struct Classifier: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "classifier",
            abstract: "Time a classifier's training step (forward, BCE, backward, AdamW) and eval-mode inference.",
            discussion: """
                Builds the architecture with torchvision's initialisation (seed 0) and one
                logit per label, and times on seeded random images and 0/1 targets:
                (a) a training step: train mode (batch statistics), forward, binary cross
                entropy with logits, backward, AdamW step (lr 1e-4, weight decay 1e-2),
                gradients set to none; (b) inference: eval mode, no-grad forward.
                Each is warmed up first, then --repeat timed runs; the median is reported,
                as seconds, training steps per second and images per second.

                scripts/bench_classifier.py times torchvision's model in the same run and
                reports Prism/torchvision time ratios; see docs/classifiers.md.

                Examples:
                  prism bench classifier --arch resnet18 --batch 16 --resolution 224
                  prism bench classifier --arch densenet121 --threads 2 --json
                """
        )

        @Option(help: "resnet18 | densenet121 | resnet50 (torchvision's definitions).")
        var arch: ClassifierArchitecture = .resnet18

        @Option(help: "Images per batch.")
        var batch = 16

        @Option(help: "Image height and width in pixels.")
        var resolution = 224

        @Option(help: "Input channels: 1 (grey, as Prism's classifiers) or 3 (as torchvision's ImageNet models).")
        var channels = 3

        @Option(help: "Labels (logits per image).")
        var labels = 2

        @Option(help: "libtorch compute threads (default: libtorch's, one per core).")
        var threads: Int?

        @Option(name: .customLong("repeat"), help: "Timed runs of each after the warm-up (the median is reported).")
        var repeatCount = 5

        @Option(help: "Untimed warm-up runs of each.")
        var warmup = 2

        @Flag(help: "Print one JSON object instead of text.")
        var json = false

        func validate() throws {
            try requireCount(batch, "--batch", atLeast: 1)
            try requireCount(resolution, "--resolution", atLeast: 32)
            guard channels == 1 || channels == 3 else { throw ValidationError("--channels \(channels): use 1 or 3") }
            try requireCount(labels, "--labels", atLeast: 1)
            try requireCount(threads, "--threads", atLeast: 1)
            try requireCount(repeatCount, "--repeat", atLeast: 1)
            try requireCount(warmup, "--warmup", atLeast: 0)
        }

        func run() throws {
            if let threads { Torch.threadCount = threads }
            let config = ClassifierConfig(architecture: arch, labels: (0..<labels).map { "label\($0)" },
                                          inChannels: channels, resolution: resolution)
            let result = try ClassifierBenchmark.run(config: config, batch: batch, warmup: warmup, repeatCount: repeatCount)
            let report = ClassifierBenchmarkReport(
                arch: arch.rawValue, batch: batch, resolution: resolution, channels: channels, labels: labels,
                threads: Torch.threadCount, repeat: repeatCount, warmup: warmup,
                trainStepMedianSeconds: result.train.median, trainStepTimes: result.train.times,
                trainForwardMedianSeconds: result.trainPhases[0], backwardMedianSeconds: result.trainPhases[1],
                optimizerMedianSeconds: result.trainPhases[2],
                inferenceMedianSeconds: result.inference.median, inferenceTimes: result.inference.times,
                trainStepCPUMedianSeconds: result.train.cpuMedian, inferenceCPUMedianSeconds: result.inference.cpuMedian,
                peakRSSMegabytes: peakRSSMegabytes())
            if json {
                print(String(decoding: try JSONFile.encode(report, pretty: false), as: UTF8.self))
            } else {
                print("\(arch.rawValue) (batch \(batch), \(channels)×\(resolution)×\(resolution), \(labels) labels; float32, cpu, "
                      + "\(Torch.threadCount) threads)")
                print(String(format: "  training step: median %.4f s (%.2f steps/s, %.1f images/s)",
                             report.trainStepMedianSeconds, report.trainStepsPerSecond, report.trainImagesPerSecond))
                print(String(format: "    forward + loss %.4f s, backward %.4f s, AdamW %.4f s", report.trainForwardMedianSeconds,
                             report.backwardMedianSeconds, report.optimizerMedianSeconds))
                print(String(format: "  inference:     median %.4f s per batch (%.1f images/s)",
                             report.inferenceMedianSeconds, report.inferenceImagesPerSecond))
                print(String(format: "  CPU time (all threads): training step %.4f s, inference %.4f s",
                             report.trainStepCPUMedianSeconds, report.inferenceCPUMedianSeconds))
                if let rss = report.peakRSSMegabytes { print(String(format: "  peak RSS %.0f MB", rss)) }
            }
        }
    }
}

/// The timing loop of `prism bench classifier`, apart from the command so a test can run it small.
enum ClassifierBenchmark {
    /// Wall-clock seconds of each timed run, and the process's CPU seconds (all threads): on a shared machine the CPU
    /// time of a one-thread run is the steadier comparison, as other processes stretch the wall clock, not the work.
    struct Timing {
        var times: [Double]
        var median: Double
        var cpuTimes: [Double]
        var cpuMedian: Double
    }

    static func run(config: ClassifierConfig, batch: Int, warmup: Int, repeatCount: Int) throws
        -> (train: Timing, inference: Timing, trainPhases: [Double])
    {
        let classifier = Classifiers.Classifier(config: config, seed: 0)
        let store = classifier.store
        let g = Generator(seed: 0)
        let images = Tensor.randn([batch, config.inChannels, config.resolution, config.resolution], generator: g)
        let targets = (Tensor.rand([batch, config.labels.count], generator: g) * 2).floor()
        let optimizer = AdamW(parameters: store.trainableParameters, learningRate: 1e-4, weightDecay: 1e-2)

        store.isTraining = true
        var phases: [[Double]] = [[], [], []]  // forward + loss, backward, optimizer step
        var runs = 0
        let train = try time(warmup: warmup, repeatCount: repeatCount) {
            let t0 = Date()
            let logits = classifier(images)
            let loss = F.binaryCrossEntropyWithLogits(logits, targets)
            _ = loss.item()
            let t1 = Date()
            loss.backward()
            let t2 = Date()
            optimizer.step()
            optimizer.zeroGrad()
            let t3 = Date()
            runs += 1
            if runs > warmup {
                phases[0].append(t1.timeIntervalSince(t0))
                phases[1].append(t2.timeIntervalSince(t1))
                phases[2].append(t3.timeIntervalSince(t2))
            }
        }
        store.isTraining = false
        let inference = try time(warmup: warmup, repeatCount: repeatCount) {
            let logits = withNoGrad { classifier(images) }
            _ = logits.shape
        }
        return (train, inference, phases.map { median($0) })
    }

    private static func time(warmup: Int, repeatCount: Int, _ body: () -> Void) throws -> Timing {
        var times: [Double] = [], cpuTimes: [Double] = []
        for i in 0..<(warmup + repeatCount) {
            let start = Date(), cpuStart = processCPUSeconds()
            try Torch.catching { body() }
            if i >= warmup {
                times.append(Date().timeIntervalSince(start))
                cpuTimes.append(processCPUSeconds() - cpuStart)
            }
        }
        return Timing(times: times, median: median(times), cpuTimes: cpuTimes, cpuMedian: median(cpuTimes))
    }
}

/// `prism bench classifier --json`: one line (scripts/bench_classifier.py reads the last).
struct ClassifierBenchmarkReport: Codable, Equatable {
    var arch: String
    var batch: Int
    var resolution: Int
    var channels: Int
    var labels: Int
    var threads: Int
    var `repeat`: Int
    var warmup: Int
    var trainStepMedianSeconds: Double
    var trainStepTimes: [Double]
    /// Medians of the training step's parts: forward and loss, backward, AdamW step and zero_grad.
    var trainForwardMedianSeconds: Double
    var backwardMedianSeconds: Double
    var optimizerMedianSeconds: Double
    var inferenceMedianSeconds: Double
    var inferenceTimes: [Double]
    /// Medians of the process's CPU seconds per training step and per inference batch.
    var trainStepCPUMedianSeconds: Double
    var inferenceCPUMedianSeconds: Double
    var peakRSSMegabytes: Double?

    var trainStepsPerSecond: Double { 1 / trainStepMedianSeconds }
    var trainImagesPerSecond: Double { Double(batch) / trainStepMedianSeconds }
    var inferenceImagesPerSecond: Double { Double(batch) / inferenceMedianSeconds }

    enum CodingKeys: String, CodingKey {
        case arch, batch, resolution, channels, labels, threads, `repeat`, warmup
        case trainStepMedianSeconds = "train_step_median_s"
        case trainStepTimes = "train_step_times_s"
        case trainForwardMedianSeconds = "train_forward_median_s"
        case backwardMedianSeconds = "backward_median_s"
        case optimizerMedianSeconds = "optimizer_median_s"
        case inferenceMedianSeconds = "inference_median_s"
        case inferenceTimes = "inference_times_s"
        case trainStepCPUMedianSeconds = "train_step_cpu_median_s"
        case inferenceCPUMedianSeconds = "inference_cpu_median_s"
        case peakRSSMegabytes = "peak_rss_mb"
    }
}
