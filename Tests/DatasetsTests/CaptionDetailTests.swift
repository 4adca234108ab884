import Core
import Foundation
import Testing
import Tokenizer
@testable import Datasets

/// The detail vocabulary: effusion side and size, cardiomegaly grade and each device, said only when the template asks.
@Suite struct CaptionDetailTests {
    let plain = CaptionTemplate()
    let detailed: CaptionTemplate = { var t = CaptionTemplate(); t.detail = true; return t }()

    /// A phantom-like record: every device labelled, as the phantom's manifest labels them.
    func record(cardiomegaly: CardiomegalyGrade?? = nil, effusion: (EffusionSize?, Laterality?)? = nil,
                devices: Set<String> = [], age: Int = 70) -> Record {
        var labels: [String: LabelState] = ["Cardiomegaly": cardiomegaly == nil ? .negative : .positive,
                                            "Pleural Effusion": effusion == nil ? .negative : .positive,
                                            "Support Devices": devices.isEmpty ? .negative : .positive]
        for d in Findings.deviceSubtypes { labels[d] = devices.contains(d) ? .positive : .negative }
        let detail = FindingDetail(effusionSide: effusion?.1, effusionSize: effusion?.0, cardiomegalyGrade: cardiomegaly ?? nil)
        return Record(path: "x.png", patientID: "1", sex: .female, age: age, labels: labels, detail: detail)
    }

    @Test func detailedCaptionsSayGradeSizeSideAndDevices() {
        let full = record(cardiomegaly: .moderate, effusion: (.small, .left), devices: ["Pacemaker", "Central Venous Catheter"])
        #expect(detailed.caption(for: full) == "Chest X-ray of a 70-year-old female with moderate cardiomegaly, a small left "
                + "pleural effusion and support devices (a pacemaker and a central venous catheter)")
        #expect(detailed.caption(for: record(effusion: (.large, .bilateral)))
                == "Chest X-ray of a 70-year-old female with a large bilateral pleural effusion")
        #expect(detailed.caption(for: record(cardiomegaly: .severe, devices: ["Endotracheal Tube"]))
                == "Chest X-ray of a 70-year-old female with severe cardiomegaly and support devices (an endotracheal tube)")
        #expect(detailed.caption(for: record(devices: Set(Findings.deviceSubtypes))) == "Chest X-ray of a 70-year-old female "
                + "with support devices (a pacemaker, an endotracheal tube, a central venous catheter and a nasogastric tube)")
        #expect(detailed.caption(for: record()) == "Chest X-ray of a 70-year-old female with no findings")
        // Half the detail says half; "an" before a vowel.
        #expect(detailed.caption(for: record(effusion: (nil, .right))) == "Chest X-ray of a 70-year-old female with a right pleural effusion")
        #expect(detailed.caption(for: record(effusion: (.moderate, nil))) == "Chest X-ray of a 70-year-old female with a moderate pleural effusion")
    }

    /// Training mixes plain and detailed phrases (partial labels write such captions): the findings named plain lose
    /// their detail and nothing else does; `detailedFindings` lists exactly the phrases that can be said either way.
    @Test func chosenFindingsAreSaidPlainlyAndTheRestKeepTheirDetail() {
        let full = record(cardiomegaly: .moderate, effusion: (.small, .left), devices: ["Pacemaker"])
        #expect(detailed.detailedFindings(of: full) == ["Cardiomegaly", "Pleural Effusion", "Support Devices"])
        #expect(detailed.caption(for: full, plain: ["Cardiomegaly", "Support Devices"])
                == "Chest X-ray of a 70-year-old female with cardiomegaly, a small left pleural effusion and support devices")
        #expect(detailed.caption(for: full, plain: ["Pleural Effusion"])
                == "Chest X-ray of a 70-year-old female with moderate cardiomegaly, pleural effusion and support devices (a pacemaker)")
        #expect(detailed.caption(for: full, plain: Set(detailed.detailedFindings(of: full)))
                == detailed.withoutDetail.caption(for: full))
        #expect(detailed.caption(for: full, plain: []) == detailed.caption(for: full))
        // A finding with nothing to say beyond its word is not a detail phrase; a plain template has none.
        #expect(detailed.detailedFindings(of: record(cardiomegaly: .some(nil), effusion: (nil, .right))) == ["Pleural Effusion"])
        #expect(plain.detailedFindings(of: full).isEmpty)
        #expect(Set(detailed.detailedFindings(of: full)).isSubset(of: CaptionTemplate.findingsWithDetail))
        #expect(detailed.detailedFindings(of: record()).isEmpty)
    }

    /// Real label files rarely say more than present or absent: the plain words, as the default template says them.
    @Test func missingDetailFallsBackToThePlainWords() {
        let r = Record(path: "x.png", patientID: "1", sex: .male, age: 60,
                       labels: ["Cardiomegaly": .positive, "Pleural Effusion": .positive, "Support Devices": .positive, "Edema": .positive])
        #expect(detailed.caption(for: r) == "Chest X-ray of a 60-year-old male with cardiomegaly, edema, pleural effusion and support devices")
        #expect(detailed.caption(for: r) == plain.caption(for: r))
        // A present finding with no grade, devices labelled but none present: still the plain words.
        #expect(detailed.caption(for: record(cardiomegaly: .some(nil), devices: [])).hasSuffix("with cardiomegaly"))
        // Detail of an absent finding is never said.
        var absent = record()
        absent.detail = FindingDetail(effusionSide: .left, effusionSize: .small, cardiomegalyGrade: .mild)
        #expect(detailed.caption(for: absent) == "Chest X-ray of a 70-year-old female with no findings")
    }

    /// The bundled v1 model learned the plain captions: the default template must not move by a byte.
    @Test func theDefaultTemplateIgnoresDetail() throws {
        let full = record(cardiomegaly: .moderate, effusion: (.small, .left), devices: ["Pacemaker", "Central Venous Catheter"])
        #expect(plain.caption(for: full) == "Chest X-ray of a 70-year-old female with cardiomegaly, pleural effusion and support devices")
        #expect(!plain.detail)
        // Written without the key, so a template recorded before it existed reads back equal.
        let json = String(decoding: try JSONFile.encode(plain, pretty: false), as: UTF8.self)
        #expect(!json.contains("detail"))
        #expect(String(decoding: try JSONFile.encode(detailed, pretty: false), as: UTF8.self).contains("\"detail\":true"))
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("configs/captions-detail.json")
        let loaded = try CaptionTemplate.load(shipped)
        #expect(loaded.detail && loaded.caption(for: full) == detailed.caption(for: full))
    }

    @Test func bandsAtTheirBoundaries() {
        #expect(EffusionSize(volume: 0) == nil)
        #expect(EffusionSize(volume: 0.2) == .small && EffusionSize(volume: 0.45) == .small)
        #expect(EffusionSize(volume: 0.4501) == .moderate && EffusionSize(volume: 0.65) == .moderate)
        #expect(EffusionSize(volume: 0.6501) == .large && EffusionSize(volume: 1) == .large)
        #expect(CardiomegalyGrade(ctr: 0.45) == nil && CardiomegalyGrade(ctr: 0.5) == nil)
        #expect(CardiomegalyGrade(ctr: 0.5001) == .mild && CardiomegalyGrade(ctr: 0.53) == .mild)
        #expect(CardiomegalyGrade(ctr: 0.5301) == .moderate && CardiomegalyGrade(ctr: 0.57) == .moderate)
        #expect(CardiomegalyGrade(ctr: 0.5701) == .severe && CardiomegalyGrade(ctr: 0.7) == .severe)
        // Each band's bounds are the thresholds the initialisers use.
        for size in EffusionSize.allCases {
            if let top = size.bounds.atMost { #expect(EffusionSize(volume: top) == size) }
            if let below = size.bounds.above { #expect(EffusionSize(volume: below) != size) }
        }
    }

    /// The phantom's manifest columns fill the detail; a finding's detail exists only where the measure says it is there.
    @Test func thePhantomManifestFillsTheDetail() throws {
        let text = """
            Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Cardiomegaly,Pleural Effusion,Support Devices,Pacemaker,Endotracheal Tube,Central Venous Catheter,Nasogastric Tube,Effusion Side,Effusion Volume,CTR,Severity
            images/000001.png,Female,70,Frontal,PA,0,1,1,1,1,0,1,0,left,0.312,0.5532,0.4
            images/000002.png,Male,50,Frontal,PA,1,0,0,0,0,0,0,0,none,0.000,0.4410,0.1
            images/000003.png,Male,80,Frontal,AP,0,1,1,0,0,0,0,0,bilateral,0.700,0.6012,0.9

            """
        let records = try Manifest.records(CSVTable.parse(text, file: "manifest.csv"))
        #expect(records[0].detail == FindingDetail(effusionSide: .left, effusionSize: .small, cardiomegalyGrade: .moderate))
        #expect(records[1].detail == FindingDetail())
        #expect(records[2].detail == FindingDetail(effusionSide: .bilateral, effusionSize: .large, cardiomegalyGrade: .severe))
        #expect(detailed.caption(for: records[0]) == "Chest X-ray of a 70-year-old female with moderate cardiomegaly, a small left "
                + "pleural effusion and support devices (a pacemaker and a central venous catheter)")
        // Other manifests say nothing more.
        let chexpert = try Manifest.records(CSVTable.parse(ManifestTests.chexpertCSV, file: "train.csv"))
        #expect(chexpert.allSatisfy { $0.detail == FindingDetail() })
        // A value the column does not take is refused, naming the file, the line and the column.
        let bad = text.replacingOccurrences(of: "bilateral,0.700", with: "both,0.700")
        let error = #expect(throws: DataFileError.self) { try Manifest.records(CSVTable.parse(bad, file: "manifest.csv")) }
        #expect(error?.description == "manifest.csv:4: column \"Effusion Side\": \"both\" is not none, left, right or bilateral")
        let volume = text.replacingOccurrences(of: "0.312", with: "31%")
        #expect(throws: DataFileError.self) { try Manifest.records(CSVTable.parse(volume, file: "manifest.csv")) }
    }

    /// CLIP reads 77 tokens: the longest caption the phantom's labels can give, in every combination of detail and
    /// devices, fits with room to spare.
    @Test func theLongestDetailedCaptionFitsCLIP() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("configs/default-model/tokenizer")
        let tokenizer = try CLIPTokenizer(folder: folder)
        var longest = (0, "")
        let deviceSets = (0..<16).map { mask in Set(Findings.deviceSubtypes.enumerated().filter { mask & (1 << $0.offset) != 0 }.map(\.element)) }
        for grade in [nil] + CardiomegalyGrade.allCases.map(Optional.some) {
            for size in [nil] + EffusionSize.allCases.map(Optional.some) {
                for side in [nil] + Laterality.allCases.map(Optional.some) {
                    for devices in deviceSets {
                        for age in [18, 88] {
                            let caption = detailed.caption(for: record(cardiomegaly: grade, effusion: (size, side), devices: devices, age: age))
                            let n = tokenizer.encode(caption, padding: false).fullLength
                            if n > longest.0 { longest = (n, caption) }
                        }
                    }
                }
            }
        }
        // Every part is in it: the enumeration reached the full caption.
        #expect(longest.1.contains("cardiomegaly, a ") && longest.1.contains("(a pacemaker, an endotracheal tube, a central venous "
                                                                            + "catheter and a nasogastric tube)"), "\(longest.1)")
        #expect(longest.0 <= tokenizer.modelMaxLength, "\(longest.0) tokens: \(longest.1)")
        #expect(longest.0 <= 60, "\(longest.0) tokens: \(longest.1)")
        print("longest detailed caption: \(longest.0) tokens: \(longest.1)")
    }

    @Test func editsNameTheDetailOrNot() throws {
        let r = record(cardiomegaly: .some(nil), devices: ["Pacemaker", "Central Venous Catheter"])
        func target(_ edit: LabelEdit, _ from: Record? = nil) throws -> String {
            detailed.caption(for: try edit.apply(to: from ?? r, template: detailed))
        }
        #expect(try target(.add("a small right pleural effusion")) == "Chest X-ray of a 70-year-old female with cardiomegaly, "
                + "a small right pleural effusion and support devices (a pacemaker and a central venous catheter)")
        // Side before size reads too; the caption says size first.
        #expect(try target(.add("right small pleural effusion")) == target(.add("a small right pleural effusion")))
        #expect(try target(.add("moderate cardiomegaly"), record()) == "Chest X-ray of a 70-year-old female with moderate cardiomegaly")
        // Plain forms still work, and leave the detail to the model's prior.
        #expect(try target(.add("pleural effusion")).contains("cardiomegaly, pleural effusion and support devices (a pacemaker"))
        #expect(try target(.add("Pleural Effusion")) == target(.add("effusion")))
        #expect(try target(.remove("cardiomegaly")) == "Chest X-ray of a 70-year-old female with support devices "
                + "(a pacemaker and a central venous catheter)")
        // A named device: added with the umbrella word, removed keeping the others.
        #expect(try target(.add("a central venous catheter"), record()) == "Chest X-ray of a 70-year-old female with support devices "
                + "(a central venous catheter)")
        #expect(try target(.add("an endotracheal tube")).hasSuffix("(a pacemaker, an endotracheal tube and a central venous catheter)"))
        #expect(try target(.remove("the pacemaker")) == "Chest X-ray of a 70-year-old female with cardiomegaly and support devices "
                + "(a central venous catheter)")
        #expect(try target(.remove("support devices")) == "Chest X-ray of a 70-year-old female with cardiomegaly")
        #expect(LabelEdit.add("a small right pleural effusion").slug == "add-a-small-right-pleural-effusion")
        // The plain template speaks the same edits in its own words.
        #expect(plain.caption(for: try LabelEdit.add("a small right pleural effusion").apply(to: r, template: plain))
                == "Chest X-ray of a 70-year-old female with cardiomegaly, pleural effusion and support devices")
    }

    @Test func removingTheLastNamedDeviceRemovesTheUmbrellaOnlyWhenTheDevicesAreItemised() throws {
        let one = record(devices: ["Pacemaker"])
        let removed = try LabelEdit.remove("the pacemaker").apply(to: one, template: detailed)
        #expect(removed.labels["Support Devices"] == .negative)
        #expect(detailed.caption(for: removed) == "Chest X-ray of a 70-year-old female with no findings")
        // A real label file that says "support devices" and "pacemaker" but not the other kinds: others may remain.
        let real = try LabelEdit.record(fromLabels: "Support Devices=1,Pacemaker=1,Sex=M,Age=60")
        #expect(detailed.caption(for: real) == "Chest X-ray of a 60-year-old male with support devices (a pacemaker)")
        #expect(detailed.caption(for: try LabelEdit.remove("pacemaker").apply(to: real, template: detailed))
                == "Chest X-ray of a 60-year-old male with support devices")
    }

    @Test func nonsenseIsRefusedNamingWhatIsKnown() throws {
        let r = record()
        let purple = #expect(throws: DataFileError.self) { try LabelEdit.add("a purple effusion").apply(to: r, template: detailed) }
        #expect(purple?.description.contains("\"purple\" is not a detail of pleural effusion") == true)
        #expect(purple?.description.contains("small, moderate, large") == true)
        #expect(purple?.description.contains("left, right, bilateral") == true)
        let pacemaker = #expect(throws: DataFileError.self) { try LabelEdit.add("a large pacemaker").apply(to: r) }
        #expect(pacemaker?.description.contains("\"large\" is not a detail of pacemaker") == true)
        #expect(throws: DataFileError.self) { try LabelEdit.add("small small pleural effusion").apply(to: r) }
        #expect(throws: DataFileError.self) { try LabelEdit.add("severe pleural effusion").apply(to: r) }
        let unknown = #expect(throws: DataFileError.self) { try LabelEdit.add("a unicorn").apply(to: r) }
        #expect(unknown?.description.contains("unknown finding \"unicorn\"; known: ") == true)
        #expect(unknown?.description.contains("central venous catheter") == true)
        let removal = #expect(throws: DataFileError.self) { try LabelEdit.remove("the left pleural effusion").apply(to: r) }
        #expect(removal?.description.contains("\"remove pleural effusion\"") == true)
    }

    /// `--labels` describes a source with detail through the manifest's own columns.
    @Test func labelsTakeTheDetailColumns() throws {
        let r = try LabelEdit.record(fromLabels: "Pleural Effusion=1,Effusion Side=left,Effusion Volume=0.7,Cardiomegaly=1,CTR=0.52,Sex=F,Age=70",
                                     template: detailed)
        #expect(detailed.caption(for: r) == "Chest X-ray of a 70-year-old female with mild cardiomegaly and a large left pleural effusion")
        let graded = try LabelEdit.record(fromLabels: "Cardiomegaly=1,Cardiomegaly Grade=Severe,Effusion_Size=small,Pleural Effusion=1")
        #expect(graded.detail == FindingDetail(effusionSize: .small, cardiomegalyGrade: .severe))
        let error = #expect(throws: DataFileError.self) { try LabelEdit.record(fromLabels: "CTR=big") }
        #expect(error?.description.contains("column \"CTR\": \"big\" is not a number") == true)
    }
}
