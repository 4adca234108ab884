import Core
import Datasets
import Testing

/// What a label file leaves blank comes from the image's own metadata (a DICOM header); what it gives is kept.
@Suite struct ImageMetadataFillTests {
    @Test func blanksAreFilledAndGivenValuesKept() {
        let header: ImageMetadata = ("P9", .male, 61, "AP")
        var asked: [String] = []
        let blank = Record(path: "a.dcm", patientID: "").fillingMissing { asked.append($0); return header }
        #expect(blank.patientID == "P9" && blank.sex == .male && blank.age == 61 && blank.view == "AP")
        #expect(asked == ["a.dcm"])
        let given = Record(path: "b.dcm", patientID: "P1", sex: .female, age: 70, view: "PA").fillingMissing { _ in
            Issue.record("a complete record asks for nothing")
            return header
        }
        #expect(given == Record(path: "b.dcm", patientID: "P1", sex: .female, age: 70, view: "PA"))
        let partial = Record(path: "c.dcm", patientID: "P2", age: 30).fillingMissing { _ in header }
        #expect(partial.patientID == "P2" && partial.sex == .male && partial.age == 30 && partial.view == "AP")
        let notDICOM = Record(path: "d.png", patientID: "").fillingMissing { _ in nil }
        #expect(notDICOM == Record(path: "d.png", patientID: ""))
    }
}
