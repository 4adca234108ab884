import Core
import Foundation
import Testing
@testable import Datasets

/// Inputs found by fuzzing the label-file reader (scripts/fuzz csv, docs/reliability.md), kept so that the fixes stay.
@Suite struct DatasetsFuzzRegressionTests {
    /// The patient of a CheXpert-style row without a patient column is taken from the image path; Foundation's
    /// NSString.lastPathComponent traps on Linux for some paths ("///a//"), which a label file can hold.
    @Test func patientFromAPathFoundationCannotSplit() throws {
        #expect(Manifest.chexpertPatient("///a//") == "a")
        #expect(Manifest.chexpertPatient("images/case-0001.png") == "case-0001")
        #expect(Manifest.chexpertPatient("x/.hidden") == ".hidden")
        #expect(Manifest.chexpertPatient("CheXpert-v1.0/train/patient00042/study1/view1_frontal.jpg") == "patient00042")
        let table = try CSVTable.parse("Path,Edema\n///a//,1\nb///c.d.png,0\n", file: "labels.csv")
        #expect(try Manifest.records(table).map(\.patientID) == ["a", "c.d"])
    }

    /// A caption template naming one finding under two spellings trapped building its word table
    /// (Dictionary(uniqueKeysWithValues:)); it is an error naming both spellings now.
    @Test func captionTemplateWithTwoSpellingsOfAFinding() throws {
        let url = try temporaryFile("template.json", #"{"names": {"Effusion": "fluid", "Pleural_Effusion": "water", "Edema": "oedema"}}"#)
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let error = #expect(throws: DataFileError.self) { try CaptionTemplate.load(url) }
        #expect(error?.description.hasSuffix(#"names: "Effusion" and "Pleural_Effusion" both name Pleural Effusion"#) == true)

        let one = try temporaryFile("template.json", #"{"names": {"effusion": "fluid"}}"#)
        defer { try? FileManager.default.removeItem(at: one.deletingLastPathComponent()) }
        #expect(try CaptionTemplate.load(one).names == ["Pleural Effusion": "fluid"])
    }
}
