import Core
import Foundation
import Testing
@testable import Datasets

/// A CSV described by column options and a folder of class folders give the same `Record`s as the known manifests,
/// so splits and captions take them unchanged.
@Suite struct GenericDatasetTests {
    static let csv = """
        file,lesion,marker,subject,gender,years,position
        img/a.png,yes,no,s1,F,34,PA
        img/b.png,no,maybe,s1,female,35,lateral
        img/c.png,,yes,s2,M,61,
        img/d.png,no,no,s3,Male,,AP

        """

    static let columns = ColumnMapping(path: "file", labels: ["lesion", "marker"],
                                       values: try! LabelValues(parsing: "positive=yes,negative=no,uncertain=maybe"),
                                       patient: "subject", sex: "gender", age: "years", view: "position")

    func load(_ text: String = csv, _ columns: ColumnMapping = columns, frontalOnly: Bool = false) throws -> [Record] {
        var options = Manifest.Options()
        options.columns = columns
        options.frontalOnly = frontalOnly
        return try Manifest.records(CSVTable.parse(text, file: "data.csv"), options: options)
    }

    @Test func everyColumnOptionIsRead() throws {
        let records = try load()
        #expect(records.map(\.path) == ["img/a.png", "img/b.png", "img/c.png", "img/d.png"])
        #expect(records.map(\.patientID) == ["s1", "s1", "s2", "s3"])
        #expect(records.map(\.sex) == [.female, .female, .male, .male])
        #expect(records.map(\.age) == [34, 35, 61, nil])
        #expect(records.map(\.view) == ["PA", "lateral", nil, "AP"])
        #expect(records.map(\.line) == [2, 3, 4, 5])
        #expect(records[0].labels == ["lesion": .positive, "marker": .negative])
        #expect(records[1].labels == ["lesion": .negative, "marker": .uncertain])
        #expect(records[2].labels == ["marker": .positive], "a blank is not mentioned")
        #expect(records[1].findings(.positive) == ["lesion": false, "marker": true])
        #expect(try load(frontalOnly: true).map(\.path) == ["img/a.png", "img/c.png", "img/d.png"])
    }

    @Test func withoutOptionalColumnsEachImageIsItsOwnPatient() throws {
        let records = try load(Self.csv, ColumnMapping(path: "file", labels: ["marker"],
                                                       values: LabelValues(positive: ["yes"], negative: ["no"], uncertain: ["maybe"])))
        #expect(records.map(\.patientID) == records.map(\.path))
        #expect(records.allSatisfy { $0.sex == nil && $0.age == nil && $0.view == nil && $0.labels.keys.sorted() == ["marker"] })
    }

    @Test func cheXpertValuesByDefaultAndCanonicalFindingNames() throws {
        let text = "image,Effusion,Pleural_Other,tumour\nx.png,1.0,0,-1\ny.png,,1,0.0\n"
        let records = try load(text, ColumnMapping(path: "image", labels: ["Effusion", "Pleural_Other", "tumour"]))
        #expect(records[0].labels == ["Pleural Effusion": .positive, "Pleural Other": .negative, "tumour": .uncertain])
        #expect(records[1].labels == ["Pleural Other": .positive, "tumour": .negative])
        #expect(ColumnMapping(labels: ["Effusion", "tumour"]).findings == ["Pleural Effusion", "tumour"])
    }

    @Test func labelValuesAreParsedAndRefusedWhenAmbiguous() throws {
        let v = try LabelValues(parsing: " positive = Yes|Y , negative=no|N")
        #expect(v == LabelValues(positive: ["Yes", "Y"], negative: ["no", "N"], uncertain: []))
        #expect(try v.state(" y ", file: "f", line: 2, column: "c") == .positive, "case and spaces are ignored")
        #expect(try v.state("NO", file: "f", line: 2, column: "c") == .negative)
        #expect(try v.state("", file: "f", line: 2, column: "c") == nil)
        #expect(try LabelValues.chexpert.state("1.0", file: "f", line: 2, column: "c") == .positive)
        for bad in ["positive=yes", "positive=yes,negative=yes", "positive=yes,negative=no,maybe=2", "positive=yes,negative=",
                    "positive=1,negative=no,uncertain=1.0", "positive=a,positive=b,negative=c"] {
            #expect(throws: LabelValues.ParseError.self, "\(bad)") { try LabelValues(parsing: bad) }
        }
    }

    @Test func missingColumnsAreAllNamedWithTheHeader() throws {
        var columns = Self.columns
        columns.labels = ["lesion", "Lesion Size"]
        columns.age = "age"
        let error = #expect(throws: DataFileError.self) { try load(Self.csv, columns) }
        #expect(error?.description == "data.csv:1: no column \"Lesion Size\" (a label column), \"age\" (the age column); "
                + "the header has: file, lesion, marker, subject, gender, years, position")
    }

    @Test func anUnknownValueNamesFileLineColumnAndValue() throws {
        let text = Self.csv.replacingOccurrences(of: "img/c.png,,yes", with: "img/c.png,perhaps,yes")
        let error = #expect(throws: DataFileError.self) { try load(text) }
        #expect(error?.description == "data.csv:4: column \"lesion\": \"perhaps\" is not a label value (expected yes (positive), "
                + "no (negative), maybe (uncertain) or blank)")
        let sex = Self.csv.replacingOccurrences(of: ",s2,M,", with: ",s2,X,")
        let sexError = #expect(throws: DataFileError.self) { try load(sex) }
        #expect(sexError?.description.hasPrefix("data.csv:4: column \"gender\": \"X\" is not a sex") == true)
        let empty = Self.csv.replacingOccurrences(of: "img/d.png,no,no,s3", with: "img/d.png,no,no,")
        #expect((#expect(throws: DataFileError.self) { try load(empty) })?.description == "data.csv:5: column \"subject\": empty patient")
    }

    @Test func splitsKeepAGenericPatientsImagesTogether() throws {
        var text = "file,lesion,subject\n"
        for p in 0..<40 { for k in 0..<3 { text += "p\(p)-\(k).png,\((p + k) % 2 == 0 ? "yes" : "no"),patient\(p)\n" } }
        let records = try load(text, ColumnMapping(path: "file", labels: ["lesion"],
                                                   values: LabelValues(positive: ["yes"], negative: ["no"]), patient: "subject"))
        let split = PatientSplit(patients: records.map(\.patientID), seed: 3)
        #expect(split.assignment.count == 40)
        for p in 0..<40 {
            let parts = Set(records.filter { $0.patientID == "patient\(p)" }.map { split.split(of: $0.patientID) })
            #expect(parts.count == 1 && parts.first! != nil)
        }
        #expect(split.count(.train) == 28 && split.count(.validation) == 6 && split.count(.test) == 6)
    }

    @Test func captionsFromACustomTemplate() throws {
        var t = CaptionTemplate()
        t.template = "A dermoscopy image of {labels}[ in {a} {age}-year-old {sex}]"
        t.findings = Self.columns.findings
        t.noFindings = "healthy skin"
        let captions = try load().map(t.caption)
        #expect(captions == ["A dermoscopy image of lesion in a 34-year-old female",
                             "A dermoscopy image of healthy skin in a 35-year-old female",
                             "A dermoscopy image of marker in a 61-year-old male",
                             "A dermoscopy image of healthy skin"])
        var uncertain = t
        uncertain.uncertain = "positive"
        #expect(uncertain.caption(for: try load()[1]) == "A dermoscopy image of marker in a 35-year-old female")
        #expect(CaptionTemplate().caption(for: try load()[0]) == "Chest X-ray of a 34-year-old female with no findings",
                "without the dataset's findings the chest vocabulary does not know \"lesion\"")
    }
}

@Suite struct ImageFolderTests {
    func tree(_ files: [String]) throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("prism-folder-\(UUID().uuidString)")
        for f in files {
            let url = root.appendingPathComponent(f)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data("x".utf8).write(to: url)
        }
        return root
    }

    @Test func classFoldersBecomeOneHotLabelsSortedByName() throws {
        let root = try tree(["malignant/m2.JPG", "malignant/m1.png", "benign/b1.png", "benign/notes.txt", "benign/.hidden.png",
                             ".cache/x.png", "benign/p7/b2.dcm", "benign/p7/deeper/b3.jpeg", "malignant/p7/m3.png",
                             "README.md"])
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = try ImageFolder(root)
        #expect(folder.folders == ["benign", "malignant"] && folder.classes == ["benign", "malignant"])
        #expect(folder.records.map(\.path) == ["benign/b1.png", "benign/p7/b2.dcm", "benign/p7/deeper/b3.jpeg",
                                               "malignant/m1.png", "malignant/m2.JPG", "malignant/p7/m3.png"])
        #expect(folder.records.map(\.patientID) == ["benign/b1.png", "p7", "p7", "malignant/m1.png", "malignant/m2.JPG", "p7"])
        #expect(folder.records[0].labels == ["benign": .positive, "malignant": .negative])
        #expect(folder.records[5].labels == ["benign": .negative, "malignant": .positive])
        #expect(folder.records.allSatisfy { $0.sex == nil && $0.age == nil && $0.view == nil })
        let split = PatientSplit(patients: folder.records.map(\.patientID), seed: 0)
        #expect(split.assignment.count == 4, "p7's images in both classes are one patient")
    }

    @Test func folderNamesAreCanonicalFindings() throws {
        let root = try tree(["pleural_effusion/a.png", "No Finding/b.png"])
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = try ImageFolder(root)
        #expect(folder.classes == ["No Finding", "Pleural Effusion"])
        #expect(folder.records[1].path == "pleural_effusion/a.png" && folder.records[1].labels["Pleural Effusion"] == .positive)
    }

    @Test func badTreesAreRefusedNamingThePath() throws {
        let empty = try tree(["a/x.png", "b/readme.txt"])
        defer { try? FileManager.default.removeItem(at: empty) }
        let noImages = #expect(throws: DataFileError.self) { try ImageFolder(empty) }
        #expect(noImages?.description == "\(empty.path)/b: a class folder without images (dcm, jpeg, jpg, png)")

        let stray = try tree(["a/x.png", "y.png"])
        defer { try? FileManager.default.removeItem(at: stray) }
        #expect((#expect(throws: DataFileError.self) { try ImageFolder(stray) })?.description
                == "\(stray.path)/y.png: an image outside any class folder (a folder of class folders holds ROOT/CLASS/image.png)")

        let flat = try tree(["x.txt"])
        defer { try? FileManager.default.removeItem(at: flat) }
        #expect((#expect(throws: DataFileError.self) { try ImageFolder(flat) })?.description.contains("no class folders") == true)

        let twice = try tree(["Pleural_Effusion/x.png", "pleural effusion/y.png"])
        defer { try? FileManager.default.removeItem(at: twice) }
        #expect((#expect(throws: DataFileError.self) { try ImageFolder(twice) })?.description.contains("both name the finding") == true)

        let missing = URL(fileURLWithPath: "/nonexistent/prism-folder")
        #expect((#expect(throws: DataFileError.self) { try ImageFolder(missing) })?.description == "/nonexistent/prism-folder: no such folder")
    }
}
