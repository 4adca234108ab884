import ArgumentParser
import Foundation
import Imaging
import Phantom

struct PhantomCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "phantom",
        abstract: "PhantomCXR: synthetic chest X-rays from a known causal model, with exact counterfactuals.",
        discussion: """
            Each phantom is drawn from a structural causal model (age → cardiomegaly → pacemaker, \
            cardiomegaly and severity → pleural effusion, severity → tubes and lines, sex → habitus). Because \
            the model and all of the patient's exogenous variables are known, Prism can render exactly what \
            the same patient would look like had one attribute been different: the ground truth that real \
            X-rays never have. See docs/phantom.md.
            """,
        subcommands: [Generate.self, Counterfactual.self]
    )

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate a labelled dataset of phantom chest X-rays (and optionally their counterfactuals).",
            discussion: """
                Writes DIR/manifest.csv (Path, CheXpert-style 1/0 columns No Finding, Cardiomegaly, Pleural \
                Effusion, Support Devices, then Sex, Age, device subtypes, effusion side and volume, CTR), \
                DIR/images/ID.png, DIR/cases/ID.json (everything needed to re-render the case) and \
                DIR/graph.json (the SCM parameters). The same seed gives the same files on any machine.

                With --counterfactuals, each case also gets DIR/counterfactuals/ID/DO.png, the change mask \
                DIR/counterfactuals/ID/DO.change.png, the structure masks DIR/masks/ID/*.png and a row in \
                DIR/counterfactuals.csv.

                Examples:
                  prism phantom generate --output phantoms --count 1000 --seed 1
                  prism phantom generate --output biased --count 5000 --seed 2 --spurious 0.8
                  prism phantom generate --output cf --count 50 --seed 3 \\
                      --counterfactuals "support_devices=0;cardiomegaly=0;pleural_effusion=1"
                """
        )

        @Option(help: "Dataset folder to create or fill.")
        var output: String

        @Option(help: "Number of images.")
        var count: Int

        @Option(help: "Seed: the whole dataset is a function of it.")
        var seed: UInt64 = 0

        @Option(help: "Image side in pixels (128 to 512 recommended).")
        var size = 256

        @Option(help: "PNG bit depth, 8 or 16.")
        var bitDepth = 8

        @Option(help: "How strongly support devices co-occur with pleural effusion, 0...1: the fraction of cases whose devices are tied to the effusion label. Overrides the graph file's value.")
        var spurious: Double?

        @Option(help: "SCM parameters as a JSON object (see DIR/graph.json of any dataset for every key); absent keys keep their defaults.")
        var graph: String?

        @Option(help: ArgumentHelp("Counterfactuals to render for every case, separated by ';'; join simultaneous interventions with ','.",
                                   discussion: "Attributes:\n" + itemLines(Intervention.help)))
        var counterfactuals: String?

        @Flag(help: "Counterfactuals change only the intervened attribute; its descendants keep their factual values.")
        var directOnly = false

        @Flag(help: "Write the structure masks DIR/masks/ID/*.png (heart, effusion, each device: 255 inside) also without --counterfactuals, e.g. for `prism train --ground-attention`.")
        var masks = false

        func validate() throws {
            try requireCount(count, "--count", atLeast: 1)
            try requireCount(size, "--size", atLeast: 16, atMost: 4096)
            guard bitDepth == 8 || bitDepth == 16 else { throw ValidationError("--bit-depth \(bitDepth): use 8 or 16") }
            try requireFinite(spurious, "--spurious", range: .closed(0, 1))
            if let counterfactuals { _ = try interventionLists(counterfactuals, "--counterfactuals", separator: ";") }
        }

        func run() throws {
            var params = SCMParameters()
            if let graph { params = try cliTry { try SCMParameters.load(URL(fileURLWithPath: graph)) } }
            if let spurious { params.spurious = spurious }
            var dataset = PhantomDataset(output: URL(fileURLWithPath: output), count: count, seed: seed)
            dataset.size = size
            dataset.bitDepth = bitDepth
            dataset.parameters = params
            dataset.directOnly = directOnly
            dataset.writeMasks = masks
            if let counterfactuals {
                dataset.counterfactuals = try interventionLists(counterfactuals, "--counterfactuals", separator: ";")
            }
            let start = Date()
            var lastPrint = Date.distantPast
            let summary = try cliTry {
                try dataset.generate { done, total in
                    let now = Date()
                    if now.timeIntervalSince(lastPrint) > 0.5 || done == total {
                        lastPrint = now
                        let rate = Double(done) / max(now.timeIntervalSince(start), 1e-9)
                        FileHandle.standardError.write(Data(String(format: "\rgenerated %d/%d (%.1f images/s)", done, total, rate).utf8))
                        if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
                    }
                }
            }
            print("\(summary.images) images\(summary.counterfactualImages > 0 ? " + \(summary.counterfactualImages) counterfactuals" : "") in \(output) (\(String(format: "%.1f", summary.seconds)) s)")
            for key in ["No Finding", "Cardiomegaly", "Pleural Effusion", "Support Devices", "Pacemaker",
                        "Endotracheal Tube", "Central Venous Catheter", "Nasogastric Tube"] {
                let n = summary.labelCounts[key] ?? 0
                print("  " + key.padding(toLength: 24, withPad: " ", startingAt: 0)
                      + String(format: "%6d  (%.1f%%)", n, 100 * Double(n) / Double(summary.images)))
            }
        }
    }

    struct Counterfactual: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Render one case under an intervention: the same patient with one attribute changed.",
            discussion: """
                Abduction, action, prediction: the case's exogenous variables are kept, \
                do(attribute = value) is applied, its descendants in the causal graph \
                are recomputed with the same noise (or held fixed with --direct-only), \
                and the image is re-rendered. Pixels outside the change mask are \
                identical to the factual image.

                Examples:
                  prism phantom counterfactual --case phantoms/cases/000007.json \\
                      --do "cardiomegaly=0" --output cf.png --mask change.png
                  prism phantom counterfactual --case phantoms/cases/000007.json \\
                      --do "pacemaker=1,ctr=0.6" --output cf.png
                """
        )

        @Option(help: "A case file written by `prism phantom generate` (DIR/cases/ID.json).")
        var `case`: String

        @Option(name: .customLong("do"), help: ArgumentHelp("Intervention(s) name=value, joined by ','.", discussion: itemLines(Intervention.help)))
        var interventions: String

        @Flag(help: "Change only the intervened attribute; its descendants keep their factual values.")
        var directOnly = false

        @Option(help: "Output PNG for the counterfactual image.")
        var output: String

        @Option(help: "Output PNG for the change mask (255 where the counterfactual differs from the factual).")
        var mask: String?

        @Option(help: "Output PNG for the factual image, re-rendered from the case file.")
        var factual: String?

        @Option(help: "Image side in pixels (default: the case's own size).")
        var size: Int?

        func validate() throws {
            try requireCount(size, "--size", atLeast: 16, atMost: 4096)
            _ = try interventionLists(interventions, "--do")
        }

        func run() throws {
            let c = try cliTry { try PhantomCase.load(URL(fileURLWithPath: `case`)) }
            let list = try interventionLists(interventions, "--do")[0]
            let attrs = c.counterfactualAttributes(list, directOnly: directOnly)
            let cf = c.render(attrs, size: size)
            try cliTry { try cf.image.writePNG(to: URL(fileURLWithPath: output)) }
            if mask != nil || factual != nil {
                let f = c.render(size: size)
                if let mask { try cliTry { try changeMask(f.image, cf.image).writePNG(to: URL(fileURLWithPath: mask)) } }
                if let factual { try cliTry { try f.image.writePNG(to: URL(fileURLWithPath: factual)) } }
            }
            let p = c.parameters
            func describe(_ a: Attributes) -> String {
                "CTR \(String(format: "%.3f", a.ctr)) (cardiomegaly \(a.cardiomegaly(p) ? 1 : 0)), effusion \(a.effusion.rawValue), "
                    + "devices: pacemaker \(a.pacemaker ? 1 : 0), ETT \(a.endotrachealTube ? 1 : 0), CVC \(a.centralVenousCatheter ? 1 : 0), NGT \(a.nasogastricTube ? 1 : 0)"
            }
            print("factual:        \(describe(c.attributes))")
            print("counterfactual: \(describe(attrs))")
            print("wrote \(output)\(mask.map { " and \($0)" } ?? "")")
        }
    }
}

/// Interventions as an option gives them: lists joined by `separator` (none: one list), each `name=value,...`;
/// a value that does not parse is refused naming the option.
func interventionLists(_ text: String, _ option: String, separator: Character? = nil) throws -> [[Intervention]] {
    let lists = separator.map { text.split(separator: $0).map(String.init) } ?? [text]
    do { return try lists.map(Intervention.parseList) } catch let error as PhantomError {
        throw ValidationError("\(option) \(text): \(error.description)")
    }
}

/// Library errors become one clean line on stderr and exit status 1, without a usage banner or a stack
/// trace (the usage text is for mistakes in the command line itself).
func cliTry<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as PhantomError {
        Log()("error: \(e.description)")
        throw ExitCode.failure
    } catch let e as ImagingError {
        Log()("error: \(e.description)")
        throw ExitCode.failure
    }
}
