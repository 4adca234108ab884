import Foundation
import Imaging
import Testing
@testable import prism

/// `prism edit` from the command line to the files, on the random-weight tiny pipeline (64×64): a 96×80 16-bit gray
/// input and a mask of the user's own, a few steps. Latent blending is left out (--blend-start 1) so that the user's
/// mask alone says where the edit may change the image, which makes "outside it, the input" exact.
@Suite struct EditEndToEndTests {
    static let width = 96, height = 80
    /// The user's mask: bright over the left half.
    static func insideMask(_ x: Int, _ y: Int) -> Bool { x < width / 2 }
    /// The mask is taken to the latents and back: pixels this far from its edge are decided by the mask alone.
    static let edgeMargin = 16

    func run(feather: Int, in scratch: Scratch) throws -> (output: URL, input: Image) {
        let inputPath = try scratch.png("cxr.png", width: Self.width, height: Self.height, bitDepth: 16) { x, y in
            Float(x * 37 + y * 101 % 997) / Float(Self.width * 37 + 997)
        }
        let maskPath = try scratch.png("mask.png", width: Self.width, height: Self.height) { x, y in Self.insideMask(x, y) ? 1 : 0 }
        let output = scratch.url("out-\(feather)")
        let command = try EditCommand.parse([
            "--image", inputPath, "--model", tinyPipeline.path, "--mask", maskPath, "--output", output.path,
            "--source", "chest x-ray with cardiomegaly", "--target", "chest x-ray with no findings",
            "--inversion", "ddim", "--steps", "3", "--guidance", "3", "--blend-start", "1",
            "--feather", "\(feather)", "--cache", "none",
        ])
        try command.run()
        return (output, try Image(contentsOf: URL(fileURLWithPath: inputPath)))
    }

    /// Pixels of `a` and `b` that differ, by whether they lie inside the mask, away from its edge by `margin`.
    func differences(_ a: Image, _ b: Image, outsideBy margin: Int) -> (outside: Int, largestOutside: Int) {
        var outside = 0, largest = 0
        for y in 0..<Self.height {
            for x in 0..<Self.width where x >= Self.width / 2 + margin {
                let d = abs(Int(a.samples[y * Self.width + x]) - Int(b.samples[y * Self.width + x]))
                if d > 0 { outside += 1; largest = max(largest, d) }
            }
        }
        return (outside, largest)
    }

    @Test func editWritesEveryFileAtTheInputsSizeAndDepthAndKeepsTheInputOutsideTheMask() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let (output, input) = try run(feather: 0, in: scratch)
        let slug = "chest-x-ray-with-no-findings"
        for name in ["\(slug).png", "\(slug)-mask.png", "\(slug)-difference.png", "reconstruction.png", "result.json"] {
            #expect(FileManager.default.fileExists(atPath: output.appendingPathComponent(name).path), "\(name) is missing")
        }
        for name in ["\(slug).png", "reconstruction.png"] {
            let image = try Image(contentsOf: output.appendingPathComponent(name))
            #expect(image.width == 96 && image.height == 80 && image.bitDepth == 16 && image.channels == 1,
                    "\(name): \(image.width)×\(image.height), \(image.bitDepth) bits, \(image.channels) channel(s)")
        }
        let edited = try Image(contentsOf: output.appendingPathComponent("\(slug).png"))
        #expect(differences(edited, input, outsideBy: Self.edgeMargin).outside == 0, "the edit changed pixels outside the mask")
        let changed = zip(edited.samples, input.samples).enumerated().filter { i, pair in
            Self.insideMask(i % Self.width, i / Self.width) && pair.0 != pair.1
        }
        #expect(!changed.isEmpty, "the edit changed nothing inside the mask")

        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: output.appendingPathComponent("result.json")))
            as? [String: Any])
        #expect(json["source"] as? String == "chest x-ray with cardiomegaly")
        #expect(json["model"] as? String == tinyPipeline.path)
        let settings = try #require(json["settings"] as? [String: Any])
        #expect(settings["steps"] as? Int == 3 && settings["guidance"] as? Double == 3 && settings["feather"] as? Int == 0)
        #expect(settings["inversion"] as? String == "ddim" && settings["mask"] as? String == scratch.path("mask.png"))
        let targets = try #require(json["targets"] as? [[String: Any]])
        #expect(targets.count == 1)
        #expect(targets.first?["target"] as? String == "chest x-ray with no findings")
        #expect(targets.first?["image"] as? String == "\(slug).png" && targets.first?["mask"] as? String == "\(slug)-mask.png")
        let area = try #require(targets.first?["mask_area"] as? Double)
        #expect(abs(area - 0.5) < 0.1, "mask area \(area): the user's mask covers half the image")
        let reconstruction = try #require(json["reconstruction"] as? [String: Any])
        #expect(reconstruction["image"] as? String == "reconstruction.png" && reconstruction["psnr_db"] is Double)
        #expect((json["timings"] as? [String: Any])?["inversion_from_cache"] as? Bool == false)
    }

    /// With a feathered edge the edit fades out over `feather` pixels beyond the mask: past them, the input again.
    @Test func aFeatheredEditFadesOutBeyondTheMask() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let feather = 6
        let (output, input) = try run(feather: feather, in: scratch)
        let edited = try Image(contentsOf: output.appendingPathComponent("chest-x-ray-with-no-findings.png"))
        #expect(differences(edited, input, outsideBy: Self.edgeMargin + feather).outside == 0)
    }
}
