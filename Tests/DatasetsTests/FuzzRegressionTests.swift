import Core
import Foundation
import Testing
@testable import Datasets

/// Inputs found by fuzzing the label-file reader (scripts/fuzz csv, docs/reliability.md), kept so that the fixes stay.
@Suite struct DatasetsFuzzRegressionTests {
    /// csvLine tested for commas, quotes and line breaks Character by Character: "\r\n" is one Character (neither
    /// "\r" nor "\n"), and so is a comma or a quote followed by a combining mark, so those fields were written
    /// unquoted and read back split. A line of a single empty field was written as a blank line, which the reader skips.
    @Test func csvLineQuotesWhatCharactersHide() throws {
        let fields = ["No F\r\nding", "a,\u{301}b", "say \"\u{301}hi\"", "plain"]
        let table = try CSVTable.parse(csvLine(["h1", "h2", "h3", "h4"]) + "\n" + csvLine(fields) + "\n")
        #expect(table.rows == [fields])
        #expect(table.rows[0].map { Array($0.unicodeScalars) } == fields.map { Array($0.unicodeScalars) })

        let single = try CSVTable.parse(csvLine(["Path"]) + "\n" + csvLine([""]) + "\n" + csvLine(["a.png"]) + "\n")
        #expect(single.rows == [[""], ["a.png"]])
    }

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
