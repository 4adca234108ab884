import Counterfactual
import Debiasing
import Foundation
import Imaging

/// The random-weight diffusers folder the Diffusion tests use (64×64 images): edits in a fraction of a second.
let tinyPipeline = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("DiffusionTests/Fixtures/pipeline-tiny")

/// A small CheXpert-style dataset in a scratch folder: `count` 64×64 gray PNGs under images/, and manifest.csv with
/// the phantom's kind of columns (Path, Sex, Age, No Finding, Cardiomegaly, Support Devices, Pacemaker). Support
/// devices (and a pacemaker) on even rows; cardiomegaly on every third row.
struct DebiasingFixture {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("prism-debias-\(UUID().uuidString)")
    let count: Int

    init(count: Int = 5, decimals: Bool = false) throws {
        self.count = count
        let images = root.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        var text = "Path,Sex,Age,No Finding,Cardiomegaly,Support Devices,Pacemaker\n"
        let one = decimals ? "1.0" : "1", zero = decimals ? "0.0" : "0"
        for i in 0..<count {
            var values: [Float] = []
            for y in 0..<64 { for x in 0..<64 { values.append(Float((x * (3 + i) + y * 5 + i * 11) % 64) / 63) } }
            try Image(floats: values, width: 64, height: 64).writePNG(to: images.appendingPathComponent("case\(i).png"))
            let devices = i % 2 == 0, cardiomegaly = i % 3 == 0
            text += "images/case\(i).png,\(i % 2 == 0 ? "Female" : "Male"),\(40 + i),\(cardiomegaly ? zero : one),"
                + "\(cardiomegaly ? one : zero),\(devices ? one : zero),\(devices ? one : zero)\n"
        }
        try Data(text.utf8).write(to: manifest)
    }

    var manifest: URL { root.appendingPathComponent("manifest.csv") }
    func url(_ name: String) -> URL { root.appendingPathComponent(name) }

    /// A request at a few DDIM steps, without the inversion cache.
    func request(edits: [String], output: String, filter: String? = nil, shard: Shard = .whole) -> CounterfactualDatasetRequest {
        var r = CounterfactualDatasetRequest(data: manifest, imageRoot: root, edits: edits, output: url(output))
        r.filter = filter
        r.shard = shard
        r.settings.method = .ddim
        r.settings.steps = 3
        r.settings.guidance = 3
        return r
    }

    func build(_ request: CounterfactualDatasetRequest, cache: InversionCache? = nil,
               gate: CounterfactualGate? = nil) throws -> CounterfactualDatasetResult {
        let model = try StableDiffusionEditingModel.load(from: tinyPipeline)
        return try CounterfactualDatasetBuilder(plan: CounterfactualPlan(request), model: model, cache: cache, gate: gate).run()
    }

    func remove() { try? FileManager.default.removeItem(at: root) }
}

/// Every file under `root` by relative path, with its bytes.
func files(under root: URL) -> [String: Data] {
    var out: [String: Data] = [:]
    let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey])
    while let url = enumerator?.nextObject() as? URL {
        guard (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true else { continue }
        out[String(url.path.dropFirst(root.path.count + 1))] = try? Data(contentsOf: url)
    }
    return out
}

func text(_ url: URL) throws -> String { try String(contentsOf: url, encoding: .utf8) }
