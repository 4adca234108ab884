import Core
import Foundation
import Imaging

/// Writes a PhantomCXR dataset folder:
///
/// ```
/// DIR/manifest.csv                 Path,Sex,Age,...,No Finding,Cardiomegaly,Pleural Effusion,Support Devices,...
/// DIR/graph.json                   the SCM parameters used
/// DIR/images/ID.png                factual images (8- or 16-bit gray)
/// DIR/cases/ID.json                exogenous variables and attributes: enough to re-render the case
/// DIR/masks/ID/STRUCTURE.png       with masks or counterfactuals: support of each structure present (255 inside)
/// DIR/counterfactuals/ID/DO.png    with counterfactuals: the image under do(DO), e.g. cardiomegaly=0
/// DIR/counterfactuals/ID/DO.change.png   pixels that differ from the factual
/// DIR/counterfactuals.csv          Path,Case,Intervention,Change Mask,Changed Pixels, then the label columns
/// ```
public struct PhantomDataset {
    public var output: URL
    public var count: Int
    public var seed: UInt64
    public var size = 256
    public var bitDepth = 8
    public var parameters = SCMParameters()
    /// Each element is one counterfactual per case (a list of simultaneous interventions).
    public var counterfactuals: [[Intervention]] = []
    public var directOnly = false
    /// Write each case's structure masks (they are always written with counterfactuals).
    public var writeMasks = false

    public init(output: URL, count: Int, seed: UInt64) {
        self.output = output
        self.count = count
        self.seed = seed
    }

    public struct Summary: Sendable {
        public var images: Int
        public var counterfactualImages: Int
        public var seconds: Double
        public var labelCounts: [String: Int]
    }

    /// Generates the dataset; `progress(done, total)` is called after each case. A file that cannot be written is
    /// a PhantomError naming it, as every other failure here (images: an ImagingError).
    public func generate(progress: (Int, Int) -> Void = { _, _ in }) throws -> Summary {
        do { return try writeFiles(progress: progress) } catch let error as FileSystemError {
            throw PhantomError(error.description)
        }
    }

    private func writeFiles(progress: (Int, Int) -> Void) throws -> Summary {
        guard count > 0 else { throw PhantomError("--count must be positive") }
        guard bitDepth == 8 || bitDepth == 16 else { throw PhantomError("--bit-depth must be 8 or 16") }
        guard (16...4096).contains(size) else { throw PhantomError("--size must be between 16 and 4096") }
        let masks = writeMasks || !counterfactuals.isEmpty
        let sub = ["images", "cases"] + (masks ? ["masks"] : []) + (counterfactuals.isEmpty ? [] : ["counterfactuals"])
        do {
            for s in sub { try createFolder(output.appendingPathComponent(s)) }
        } catch {
            throw PhantomError("cannot create the dataset folder: \(error)")
        }
        removeAbandonedTemporaryFiles(under: output)  // what a killed earlier run of this command left
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeAtomically(encoder.encode(parameters), to: output.appendingPathComponent("graph.json"))

        var manifest = csvLine(PhantomLabels.header) + "\n"
        var cfManifest = csvLine(["Path", "Case", "Intervention", "Change Mask", "Changed Pixels"] + PhantomLabels.header.dropFirst()) + "\n"
        var counts: [String: Int] = [:]
        var cfImages = 0
        let start = Date()
        for index in 0..<count {
            let c = PhantomCase(seed: seed, index: index, parameters: parameters, size: size, bitDepth: bitDepth)
            let factual = c.render(masks: masks)
            let imagePath = "images/\(c.id).png"
            try factual.image.writePNG(to: output.appendingPathComponent(imagePath), compressionLevel: 3)
            try writeAtomically(c.jsonData(), to: output.appendingPathComponent("cases/\(c.id).json"))
            let row = PhantomLabels.row(path: imagePath, c.attributes, parameters, anatomy: c.anatomy)
            manifest += csvLine(row) + "\n"
            for (k, v) in zip(PhantomLabels.header, row) where ["1"].contains(v) && k != "Path" { counts[k, default: 0] += 1 }

            if masks {
                let maskDir = output.appendingPathComponent("masks/\(c.id)")
                try createFolder(maskDir)
                for s in Structure.allCases where factual.masks[s] != nil {
                    try factual.maskImage(s).writePNG(to: maskDir.appendingPathComponent("\(s.rawValue).png"), compressionLevel: 3)
                }
            }
            if !counterfactuals.isEmpty {
                let cfDir = output.appendingPathComponent("counterfactuals/\(c.id)")
                try createFolder(cfDir)
                for interventions in counterfactuals {
                    let slug = interventions.map(\.description).joined(separator: "+")
                    let attrs = c.counterfactualAttributes(interventions, directOnly: directOnly)
                    let cf = c.render(attrs)
                    let change = changeMask(factual.image, cf.image)
                    let cfPath = "counterfactuals/\(c.id)/\(slug).png", maskPath = "counterfactuals/\(c.id)/\(slug).change.png"
                    try cf.image.writePNG(to: output.appendingPathComponent(cfPath), compressionLevel: 3)
                    try change.writePNG(to: output.appendingPathComponent(maskPath), compressionLevel: 3)
                    let changed = change.samples.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
                    let labels = PhantomLabels.row(path: cfPath, attrs, parameters, anatomy: c.anatomy)
                    cfManifest += csvLine([cfPath, c.id, slug, maskPath, String(changed)] + labels.dropFirst()) + "\n"
                    cfImages += 1
                }
            }
            progress(index + 1, count)
        }
        try writeAtomically(Data(manifest.utf8), to: output.appendingPathComponent("manifest.csv"))
        if !counterfactuals.isEmpty {
            try writeAtomically(Data(cfManifest.utf8), to: output.appendingPathComponent("counterfactuals.csv"))
        }
        return Summary(images: count, counterfactualImages: cfImages, seconds: Date().timeIntervalSince(start), labelCounts: counts)
    }
}
