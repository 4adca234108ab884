import Core
import Foundation
import Testing
@testable import Datasets

@Suite struct SplitTests {
    @Test func cutsPatientsSeventyFifteenFifteenDeterministically() {
        let patients = (0..<1000).map { "p\($0)" }
        let split = PatientSplit(patients: patients + patients, seed: 7)
        #expect(split.count(.train) == 700 && split.count(.validation) == 150 && split.count(.test) == 150)
        #expect(PatientSplit(patients: patients.reversed(), seed: 7) == split, "order of the data does not matter")
        #expect(PatientSplit(patients: patients, seed: 8) != split, "the seed does")
    }

    @Test func writesReadsAndReusesTheSameSplit() throws {
        let records = (0..<50).flatMap { p in (0..<3).map { Record(path: "\(p)-\($0).png", patientID: "p\(p)") } }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("prism-split-\(UUID().uuidString).csv")
        defer { try? FileManager.default.removeItem(at: url) }
        let made = try PatientSplit.loadOrCreate(at: url, for: records, seed: 1)
        #expect(try PatientSplit.read(url) == made)
        #expect(try PatientSplit.loadOrCreate(at: url, for: records, seed: 99) == made, "an existing split is reused")

        let other = records + [Record(path: "new.png", patientID: "stranger")]
        let error = #expect(throws: DataFileError.self) { try PatientSplit.loadOrCreate(at: url, for: other) }
        #expect(error?.description.contains("stranger") == true)
    }

    @Test func aSplitIsWrittenIntoAMissingFolderWholeAndLeavesNoTemporary() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("prism-split-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("splits/split.csv")
        try PatientSplit(patients: ["a", "b"], seed: 1).write(to: url)
        try PatientSplit(assignment: ["c": .test]).write(to: url)
        #expect(try String(contentsOf: url, encoding: .utf8) == "patient_id,split\nc,test\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path) == ["split.csv"])
    }

    @Test func badSplitNameIsReportedWithItsLine() throws {
        let url = try temporaryFile("split.csv", "patient_id,split\na,train\nb,holdout\n")
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let error = #expect(throws: DataFileError.self) { try PatientSplit.read(url) }
        #expect(error?.description == "\(url.path):3: split \"holdout\" is not one of train, validation, test")
    }
}
