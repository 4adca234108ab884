import Foundation
import Imaging
import Testing
@testable import Phantom

/// The first case of `seed` (searching indices) whose attributes satisfy `predicate`.
func findCase(seed: UInt64 = 11, size: Int = 128, parameters: SCMParameters = SCMParameters(),
              _ predicate: (Attributes, SCMParameters) -> Bool) -> PhantomCase {
    for i in 0..<5000 {
        let c = PhantomCase(seed: seed, index: i, parameters: parameters, size: size)
        if predicate(c.attributes, parameters) { return c }
    }
    fatalError("no case satisfies the predicate")
}

func changed(_ a: Image, _ b: Image) -> [Int] {
    (0..<a.pixelCount).filter { a.samples[$0] != b.samples[$0] }
}

@Suite struct DeterminismTests {
    @Test func sameSeedSameCaseSameImage() {
        let a = PhantomCase(seed: 42, index: 3, size: 128), b = PhantomCase(seed: 42, index: 3, size: 128)
        #expect(a == b)
        #expect(a.render().image == b.render().image)
        let other = PhantomCase(seed: 43, index: 3, size: 128)
        #expect(other.anatomy != a.anatomy)
        #expect(PhantomCase(seed: 42, index: 4, size: 128).noise != a.noise)
    }

    @Test func caseJSONRoundTripReRendersBitForBit() throws {
        let c = findCase { a, _ in a.supportDevices }
        let back = try JSONDecoder().decode(PhantomCase.self, from: c.jsonData())
        #expect(back == c)
        #expect(back.render().image == c.render().image)
    }

    @Test func sixteenBitIsTheSamePictureAsEightBit() {
        var c = PhantomCase(seed: 5, index: 0, size: 64)
        let eight = c.render().image
        c.bitDepth = 16
        let sixteen = c.render().image
        #expect(sixteen.bitDepth == 16)
        #expect(sixteen.converted(toBitDepth: 8).samples.enumerated().allSatisfy { abs(Int($1) - Int(eight.samples[$0])) <= 1 })
    }

    @Test func deterministicMathMatchesLibmClosely() {
        for x in stride(from: -20.0, through: 20.0, by: 0.37) {
            #expect(abs(DMath.exp(x) - Foundation.exp(x)) <= 1e-13 * Foundation.exp(x))
            #expect(abs(DMath.sin(x) - Foundation.sin(x)) < 1e-12)
            #expect(abs(DMath.cos(x) - Foundation.cos(x)) < 1e-12)
        }
        for x in [1e-300, 1e-5, 0.3, 1, 2.5, 1e4, 1e300] {
            #expect(abs(DMath.log(x) - Foundation.log(x)) < 1e-12 * max(1, abs(Foundation.log(x))))
        }
    }
}

@Suite struct CounterfactualTests {
    static let interventionsAtCurrentValue: [@Sendable (Attributes, SCMParameters) -> [Intervention]] = [
        { a, p in [.cardiomegaly(a.cardiomegaly(p))] },
        { a, _ in [.pacemaker(a.pacemaker)] },
        { a, _ in [.pleuralEffusion(a.pleuralEffusion)] },
        { a, _ in [.supportDevices(a.supportDevices)] },
        { a, _ in [.age(a.age), .sex(a.sex)] },
        { a, _ in [.ctr(a.ctr), .effusionSide(a.effusion)] },
    ]

    @Test func doingTheCurrentValueReproducesTheFactualExactly() {
        let p = SCMParameters()
        for index in 0..<6 {
            let c = PhantomCase(seed: 7, index: index, size: 96)
            let factual = c.render().image
            for make in Self.interventionsAtCurrentValue {
                let list = make(c.attributes, p)
                for direct in [false, true] {
                    let attrs = c.counterfactualAttributes(list, directOnly: direct)
                    #expect(attrs == c.attributes, "case \(index) do(\(list)) direct=\(direct)")
                    #expect(c.render(attrs).image == factual)
                }
            }
        }
    }

    @Test func removingThePacemakerChangesOnlyPacemakerPixels() {
        let c = findCase { a, _ in a.pacemaker }
        let f = c.render(masks: true)
        let cf = c.render(c.counterfactualAttributes([.pacemaker(false)]), masks: true)
        let diff = changed(f.image, cf.image)
        let support = f.masks[.pacemaker]!
        #expect(diff.count > 30, "the pacemaker is visible")
        #expect(diff.allSatisfy { support[$0] }, "every changed pixel lies inside the pacemaker's support")
        #expect(cf.masks[.pacemaker] == nil)
    }

    @Test func removingCardiomegalyChangesOnlyTheHeartAndItsDescendants() {
        let c = findCase { a, p in a.cardiomegaly(p) && a.ctr > 0.55 }
        let f = c.render(masks: true)
        let attrs = c.counterfactualAttributes([.cardiomegaly(false)])
        #expect(!attrs.cardiomegaly(c.parameters))
        let cf = c.render(attrs, masks: true)
        let diff = changed(f.image, cf.image)
        let allowed: [Structure] = [.heart, .pacemaker, .effusion]
        let inside = { (i: Int) in allowed.contains { f.masks[$0]?[i] == true || cf.masks[$0]?[i] == true } }
        #expect(diff.count > 100)
        #expect(diff.allSatisfy(inside))
        let heartArea = { (r: Rendering) in r.masks[.heart]!.filter { $0 }.count }
        #expect(heartArea(cf) < heartArea(f))
        // The unchanged pixels are most of the image.
        #expect(diff.count < f.image.pixelCount / 3)
    }

    @Test func directOnlyKeepsDescendants() {
        // With cardiomegaly → pacemaker, removing cardiomegaly may remove the pacemaker; direct-only never.
        let p = SCMParameters()
        var removed = 0
        for i in 0..<400 {
            let c = PhantomCase(seed: 21, index: i, size: 32)
            guard c.attributes.cardiomegaly(p) && c.attributes.pacemaker else { continue }
            let full = c.counterfactualAttributes([.cardiomegaly(false)])
            let direct = c.counterfactualAttributes([.cardiomegaly(false)], directOnly: true)
            #expect(direct.pacemaker && direct.effusion == c.attributes.effusion)
            if !full.pacemaker { removed += 1 }
        }
        #expect(removed > 0, "the hidden edge acts in full counterfactuals")
    }

    @Test func addingAnEffusionChangesOnlyTheEffusionRegion() {
        let c = findCase { a, _ in !a.pleuralEffusion }
        let f = c.render()
        let cf = c.render(c.counterfactualAttributes([.pleuralEffusion(true)]), masks: true)
        let diff = changed(f.image, cf.image)
        let support = cf.masks[.effusion]!
        #expect(diff.count > 50)
        #expect(diff.allSatisfy { support[$0] })
        // The effusion is a basal opacity: the changed pixels sit in the lower half of the image.
        let meanRow = Double(diff.reduce(0) { $0 + $1 / f.image.width }) / Double(diff.count)
        #expect(meanRow > Double(f.image.height) * 0.5)
    }

    @Test func heartWidthIsTheLabelledCTR() {
        var c = findCase(size: 256) { a, p in a.sex == .male }
        c.anatomy.rotation = 0
        for ctr in [0.42, 0.5, 0.6] {
            var attrs = c.attributes
            attrs.ctr = ctr
            let heart = c.render(attrs, masks: true).masks[.heart]!
            let columns = (0..<256).filter { x in (0..<256).contains { heart[$0 * 256 + x] } }
            let width = Double(columns.max()! - columns.min()! + 1)
            let expected = ctr * 2 * c.anatomy.thoraxHalfWidth * 256
            #expect(abs(width - expected) <= 3, "CTR \(ctr): heart \(width) px, expected \(expected)")
        }
    }
}

@Suite struct SCMStatisticsTests {
    /// The labels of cases 0..<n of a generated set, exactly as `prism phantom generate` draws them.
    func sample(_ p: SCMParameters, _ n: Int, seed: UInt64 = 99) -> [Attributes] {
        (0..<n).map { PhantomCase(seed: seed, index: $0, parameters: p, size: 64).attributes }
    }

    func rate(_ xs: [Attributes], _ f: (Attributes) -> Bool) -> Double {
        Double(xs.filter(f).count) / Double(max(xs.count, 1))
    }

    @Test func labelStatisticsMatchTheParameters() {
        let p = SCMParameters()
        let xs = sample(p, 40000)
        let cardio = xs.filter { $0.cardiomegaly(p) }, healthy = xs.filter { !$0.cardiomegaly(p) }
        #expect(cardio.count > 4000)
        #expect(abs(rate(cardio) { $0.pacemaker } - p.pacemakerGivenCardiomegaly) < 0.025)
        #expect(abs(rate(healthy) { $0.pacemaker } - p.pacemakerGivenNoCardiomegaly) < 0.006)
        #expect(abs(rate(xs) { $0.sex == .female } - p.probFemale) < 0.01)
        // E[severity] = E[U^2] = 1/3.
        let meanSeverity = 1 / (p.severityShape + 1)
        #expect(abs(rate(healthy) { $0.pleuralEffusion } - (p.effusionBase + p.effusionFromSeverity * meanSeverity)) < 0.01)
        #expect(abs(rate(cardio) { $0.pleuralEffusion }
                    - (p.effusionBase + p.effusionFromCardiomegaly + p.effusionFromSeverity * meanSeverity)) < 0.025)
        #expect(abs(rate(xs) { $0.endotrachealTube } - (p.endotrachealTubeBase + p.endotrachealTubeFromSeverity * meanSeverity)) < 0.01)
        #expect(abs(rate(xs) { $0.centralVenousCatheter } - (p.centralVenousCatheterBase + p.centralVenousCatheterFromSeverity * meanSeverity)) < 0.01)
        let effusions = xs.filter { $0.pleuralEffusion }
        #expect(abs(rate(effusions) { $0.effusion == .left } - p.effusionLeft) < 0.025)
        #expect(abs(rate(effusions) { $0.effusion == .right } - p.effusionRight) < 0.025)
        // age → CTR: older patients have larger hearts.
        let mean = { (ys: [Attributes]) in ys.reduce(0) { $0 + $1.ctr } / Double(ys.count) }
        let old = xs.filter { $0.age >= 68 }, young = xs.filter { $0.age <= 48 }
        let expectedGap = p.ctrPerDecade * ((old.reduce(0) { $0 + $1.age } / Double(old.count))
                                            - (young.reduce(0) { $0 + $1.age } / Double(young.count))) / 10
        #expect(abs((mean(old) - mean(young)) - expectedGap) < 0.004)
    }

    @Test func spuriousKnobSetsDeviceEffusionCoOccurrence() {
        var p = SCMParameters()
        let agree = { (xs: [Attributes]) in self.rate(xs) { $0.supportDevices == $0.pleuralEffusion } }
        p.spurious = 0
        let base = agree(sample(p, 12000))
        #expect(base < 0.85)
        for s in [0.3, 0.7, 1.0] {
            p.spurious = s
            let xs = sample(p, 12000, seed: 100)
            // A tied case always agrees; an untied one agrees as often as without the knob.
            #expect(abs(agree(xs) - (s + (1 - s) * base)) < 0.02, "spurious \(s)")
            #expect(abs(rate(xs) { $0.spuriousTie } - s) < 0.015)
        }
    }
}

@Suite struct InterfaceTests {
    @Test func parsesInterventions() throws {
        #expect(try Intervention.parseList("cardiomegaly=0, pacemaker=1") == [.cardiomegaly(false), .pacemaker(true)])
        #expect(try Intervention(parsing: "Pleural Effusion=1") == .pleuralEffusion(true))
        #expect(try Intervention(parsing: "effusion=left") == .effusionSide(.left))
        #expect(try Intervention(parsing: "support_devices=0").description == "support_devices=0")
        #expect(throws: PhantomError.self) { try Intervention(parsing: "cardiomegaly") }
        #expect(throws: PhantomError.self) { try Intervention(parsing: "wings=1") }
        #expect(throws: PhantomError.self) { try Intervention(parsing: "pacemaker=maybe") }
    }

    @Test func graphFileOverridesAndRejectsUnknownKeys() throws {
        let p = try SCMParameters.decode(Data(#"{"pacemakerGivenCardiomegaly": 0.9, "spurious": 0.2}"#.utf8))
        #expect(p.pacemakerGivenCardiomegaly == 0.9 && p.spurious == 0.2 && p.ctrBase == SCMParameters().ctrBase)
        do {
            _ = try SCMParameters.decode(Data(#"{"pacemakerGivenCardiomegally": 0.9}"#.utf8), name: "g.json")
            Issue.record("expected an error")
        } catch let e as PhantomError {
            #expect(e.description.contains("g.json") && e.description.contains("pacemakerGivenCardiomegally"))
        }
        #expect(throws: PhantomError.self) { try SCMParameters.decode(Data(#"{"spurious": 2}"#.utf8)) }
        // 0 and 1 are numbers (Foundation bridges them to Bool too); true and false are not.
        let zero = try SCMParameters.decode(Data(#"{"effusionFromCardiomegaly": 0, "spurious": 1}"#.utf8))
        #expect(zero.effusionFromCardiomegaly == 0 && zero.spurious == 1)
        #expect(throws: PhantomError.self) { try SCMParameters.decode(Data(#"{"spurious": true}"#.utf8)) }
    }

    /// effusionDensity changes the effusion's pixels and nothing else: same labels, same pixels outside the fluid,
    /// a fainter effusion; a case file written before the parameter existed renders as the default.
    @Test func effusionDensityMakesTheFluidFainterAndNothingElse() throws {
        var faint = SCMParameters()
        faint.effusionDensity = 0.3
        let dense = findCase(size: 96) { a, _ in a.pleuralEffusion }
        var light = dense
        light.parameters = faint
        #expect(SCM(parameters: faint).sample(dense.noise) == dense.attributes)
        let a = dense.render(masks: true), b = light.render()
        let fluid = a.masks[.effusion] ?? []
        let moved = changed(a.image, b.image)
        #expect(!moved.isEmpty)
        #expect(moved.allSatisfy { fluid[$0] })
        let darker = moved.filter { b.image.samples[$0] < a.image.samples[$0] }.count
        #expect(darker == moved.count)
        // Absent from an older case file: the default density.
        var json = try JSONSerialization.jsonObject(with: dense.jsonData()) as! [String: Any]
        var parameters = json["parameters"] as! [String: Any]
        parameters.removeValue(forKey: "effusionDensity")
        json["parameters"] = parameters
        let old = try JSONDecoder().decode(PhantomCase.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(old.parameters.effusionDensity == nil && old.render().image == a.image)
        #expect(throws: PhantomError.self) { try SCMParameters.decode(Data(#"{"effusionDensity": 0}"#.utf8)) }
        #expect(try SCMParameters.decode(Data(#"{"effusionDensity": 0.3}"#.utf8)).fluidDensity == 0.3)
    }

    @Test func writesADatasetFolder() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("phantom-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        var d = PhantomDataset(output: dir, count: 3, seed: 1)
        d.size = 48
        d.bitDepth = 16
        d.counterfactuals = [[.supportDevices(false)], [.cardiomegaly(false), .pleuralEffusion(true)]]
        let summary = try d.generate()
        #expect(summary.images == 3 && summary.counterfactualImages == 6)
        let manifest = try String(contentsOf: dir.appendingPathComponent("manifest.csv"), encoding: .utf8)
        let lines = manifest.split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix("Path,Sex,Age") && lines[0].contains("No Finding,Cardiomegaly,Pleural Effusion,Support Devices"))
        let image = try Image(contentsOfPNG: dir.appendingPathComponent("images/000001.png"))
        #expect(image.width == 48 && image.bitDepth == 16)
        let c = try PhantomCase.load(dir.appendingPathComponent("cases/000001.json"))
        #expect(c.render().image == image)
        let cf = try Image(contentsOfPNG: dir.appendingPathComponent("counterfactuals/000001/cardiomegaly=0+pleural_effusion=1.png"))
        let mask = try Image(contentsOfPNG: dir.appendingPathComponent("counterfactuals/000001/cardiomegaly=0+pleural_effusion=1.change.png"))
        #expect(changeMask(image, cf) == mask)
        let cfManifest = try String(contentsOf: dir.appendingPathComponent("counterfactuals.csv"), encoding: .utf8)
        #expect(cfManifest.split(separator: "\n").count == 7)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("graph.json").path))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("masks/000001/lungs.png").path))
    }

    @Test func masksAloneAreTheRenderersStructures() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("phantom-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        var d = PhantomDataset(output: dir, count: 4, seed: 1)
        d.size = 48
        d.writeMasks = true
        _ = try d.generate()
        let fm = FileManager.default
        #expect(!fm.fileExists(atPath: dir.appendingPathComponent("counterfactuals").path))
        for index in 0..<4 {
            let c = PhantomCase(seed: 1, index: index, size: 48)
            let rendering = c.render(masks: true)
            let written = try fm.contentsOfDirectory(atPath: dir.appendingPathComponent("masks/\(c.id)").path).sorted()
            #expect(written == rendering.masks.keys.map { "\($0.rawValue).png" }.sorted())
            for (s, _) in rendering.masks {
                let png = try Image(contentsOfPNG: dir.appendingPathComponent("masks/\(c.id)/\(s.rawValue).png"))
                #expect(png == rendering.maskImage(s))
            }
        }
    }

    @Test func missingCaseFileIsNamed() {
        do {
            _ = try PhantomCase.load(URL(fileURLWithPath: "/nonexistent/000001.json"))
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("/nonexistent/000001.json"))
        }
    }
}
