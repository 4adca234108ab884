import Core
import Foundation
import TestSupport
import Testing
@testable import Datasets

/// Writes `text` to `name` in a fresh folder; the caller removes `url.deletingLastPathComponent()`.
func temporaryFile(_ name: String, _ text: String) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prism-data-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let url = dir.appendingPathComponent(name)
    try Data(text.utf8).write(to: url)
    return url
}

@Suite struct ManifestTests {
    static let chexpertCSV = """
        Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,Lung Opacity,Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,Pleural Effusion,Pleural Other,Fracture,Support Devices
        CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg,Female,68,Frontal,AP,1.0,,,,,,,,,0.0,,,,1.0
        CheXpert-v1.0-small/train/patient00002/study2/view1_frontal.jpg,Female,87,Frontal,AP,,,-1.0,1.0,,-1.0,-1.0,,-1.0,,-1.0,,1.0,
        CheXpert-v1.0-small/train/patient00002/study2/view2_lateral.jpg,Female,87,Lateral,,,,-1.0,1.0,,-1.0,-1.0,,-1.0,,-1.0,,1.0,
        CheXpert-v1.0-small/train/patient00003/study1/view1_frontal.jpg,Male,41,Frontal,AP,,,1.0,,,0.0,1.0,,,0.0,,,,1.0

        """

    @Test func readsCheXpertWithEveryLabelState() throws {
        let url = try temporaryFile("train.csv", Self.chexpertCSV)
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let records = try Manifest.load(url)
        #expect(records.count == 4)
        let r = records[1]
        #expect(r.patientID == "patient00002" && r.sex == .female && r.age == 87 && r.view == "AP" && r.line == 3)
        #expect(r.labels["Cardiomegaly"] == .uncertain && r.labels["Lung Opacity"] == .positive)
        #expect(r.labels["Support Devices"] == nil)
        #expect(records[0].labels["Pneumothorax"] == .negative && records[0].labels["Support Devices"] == .positive)
        #expect(records[2].view == "Lateral" && !records[2].isFrontal)

        #expect(r.findings(.ignore)["Cardiomegaly"] == nil)
        #expect(r.findings(.positive)["Cardiomegaly"] == true)
        #expect(r.findings(.negative)["Cardiomegaly"] == false)

        var options = Manifest.Options()
        options.frontalOnly = true
        #expect(try Manifest.load(url, options: options).count == 3)
    }

    @Test func badLabelNamesFileLineAndColumn() throws {
        let text = Self.chexpertCSV.replacingOccurrences(of: "Male,41,Frontal,AP,,,1.0", with: "Male,41,Frontal,AP,,,yes")
        let url = try temporaryFile("train.csv", text)
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let error = #expect(throws: DataFileError.self) { try Manifest.load(url) }
        #expect(error?.description == "\(url.path):5: column \"Cardiomegaly\": \"yes\" is not a label (expected 1, 0, -1 or blank)")
    }

    @Test func unknownHeaderSaysWhatWasExpected() throws {
        let url = try temporaryFile("x.csv", "file,label\na.png,1\n")
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let error = #expect(throws: DataFileError.self) { try Manifest.load(url) }
        #expect(error?.description.contains("Finding Labels") == true)
    }

    @Test func readsTheRealNIHSample() throws {
        let url = sharedFolder().appendingPathComponent("data/nih-cxr14-sample/labels.csv")
        let records = try Manifest.load(url)
        #expect(records.count == 621)
        let first = try #require(records.first)
        #expect(first.path == "00000075_000.png" && first.patientID == "75" && first.sex == .female && first.age == 61)
        #expect(first.labels["Cardiomegaly"] == .positive && first.labels["Pleural Effusion"] == .negative)
        let second = records[1]
        #expect(second.labels["Pleural Effusion"] == .positive, "NIH's Effusion is Pleural Effusion")
        #expect(records.allSatisfy { $0.labels.count == 14 || $0.labels[Findings.noFinding] == .positive })
    }

    @Test func joinsMIMICMetadataWithLabelsAndPatients() throws {
        let metadata = try temporaryFile("meta.csv", """
            dicom_id,subject_id,study_id,ViewPosition
            d1,10000032,50414267,PA
            d2,10000032,50414267,LATERAL
            d3,10000764,57375967,AP
            d4,10000898,50771383,PA

            """)
        defer { try? FileManager.default.removeItem(at: metadata.deletingLastPathComponent()) }
        let labels = try temporaryFile("chexpert.csv", """
            subject_id,study_id,Atelectasis,Cardiomegaly,Consolidation,Edema,Enlarged Cardiomediastinum,Fracture,Lung Lesion,Lung Opacity,No Finding,Pleural Effusion,Pleural Other,Pneumonia,Pneumothorax,Support Devices
            10000032,50414267,,,,,,,,,1.0,,,,,
            10000764,57375967,,1.0,-1.0,,,,,,,,,,,1.0

            """)
        defer { try? FileManager.default.removeItem(at: labels.deletingLastPathComponent()) }
        let patients = try temporaryFile("patients.csv", "subject_id,gender,anchor_age\n10000032,F,52\n10000764,M,86\n")
        defer { try? FileManager.default.removeItem(at: patients.deletingLastPathComponent()) }
        var options = Manifest.Options()
        options.mimicLabels = labels
        options.mimicPatients = patients
        options.frontalOnly = true
        let records = try Manifest.load(metadata, options: options)
        #expect(records.map(\.path) == ["files/p10/p10000032/s50414267/d1.jpg", "files/p10/p10000764/s57375967/d3.jpg"])
        #expect(records[1].sex == .male && records[1].age == 86 && records[1].labels["Cardiomegaly"] == .positive)
        #expect(records[1].labels["Consolidation"] == .uncertain)

        let error = #expect(throws: DataFileError.self) { try Manifest.load(metadata) }
        #expect(error?.description.contains("mimic-cxr-2.0.0-chexpert.csv") == true)
    }
}
