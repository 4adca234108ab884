import Foundation

/// What one component benchmark ran on: the sizes its report and its text name.
struct BenchmarkShape: Equatable {
    var latentSize: Int?
    var batch: Int
    var tokens: Int?

    /// "batch 2, latent_size 64": the report's keys in alphabetical order, as the text output names them.
    var text: String {
        [("batch", batch as Int?), ("latent_size", latentSize), ("tokens", tokens)]
            .compactMap { key, value in value.map { "\(key) \($0)" } }.joined(separator: ", ")
    }
}

/// `prism bench unet|vae-decode|vae-encode|text-encoder --json`: one line (scripts/bench_unet.py reads the last).
struct ComponentBenchmarkReport: Codable, Equatable {
    var component: String
    var model: String
    var dtype: String
    var device: String
    var `repeat`: Int
    var warmup: Int
    var medianSeconds: Double
    var minSeconds: Double
    var times: [Double]
    var loadSeconds: Double
    var threads: Int
    var latentSize: Int?
    var batch: Int
    var tokens: Int?
    /// Peak resident memory (VmHWM); nil where /proc is not available.
    var peakRSSMegabytes: Double?

    enum CodingKeys: String, CodingKey {
        case component, model, dtype, device, `repeat`, warmup, threads, batch, tokens
        case medianSeconds = "median_s"
        case minSeconds = "min_s"
        case times = "times_s"
        case loadSeconds = "load_s"
        case latentSize = "latent_size"
        case peakRSSMegabytes = "peak_rss_mb"
    }

    init(component: String, model: String, dtype: String, device: String, repeat: Int, warmup: Int,
         medianSeconds: Double, minSeconds: Double, times: [Double], loadSeconds: Double, threads: Int,
         shape: BenchmarkShape, peakRSSMegabytes: Double?) {
        self.component = component
        self.model = model
        self.dtype = dtype
        self.device = device
        self.repeat = `repeat`
        self.warmup = warmup
        self.medianSeconds = medianSeconds
        self.minSeconds = minSeconds
        self.times = times
        self.loadSeconds = loadSeconds
        self.threads = threads
        latentSize = shape.latentSize
        batch = shape.batch
        tokens = shape.tokens
        self.peakRSSMegabytes = peakRSSMegabytes
    }
}

/// `prism bench edit --json`.
struct EditBenchmarkReport: Codable, Equatable {
    var model: String
    var resolution: Int
    var steps: Int
    var rows: [Row]

    struct Row: Codable, Equatable {
        var name: String
        var seconds: Double
        var unetEvaluations: Int
        var unetEvaluationsPerStep: Double

        enum CodingKeys: String, CodingKey {
            case name, seconds
            case unetEvaluations = "unet_evaluations"
            case unetEvaluationsPerStep = "unet_evaluations_per_step"
        }
    }
}
