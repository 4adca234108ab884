import Core
import Foundation
import Testing
@testable import Datasets

@Suite struct CaptionTests {
    let template = CaptionTemplate()

    func record(_ labels: [String: LabelState], age: Int? = 70, sex: Sex? = .female) -> Record {
        Record(path: "x.png", patientID: "1", sex: sex, age: age, labels: labels)
    }

    @Test func defaultCaptionListsPresentFindingsInCheXpertOrder() {
        let r = record(["Support Devices": .positive, "Cardiomegaly": .positive, "Edema": .negative])
        #expect(template.caption(for: r) == "Chest X-ray of a 70-year-old female with cardiomegaly and support devices")
        let three = record(["Support Devices": .positive, "Cardiomegaly": .positive, "Pleural Effusion": .positive])
        #expect(template.caption(for: three)
                == "Chest X-ray of a 70-year-old female with cardiomegaly, pleural effusion and support devices")
    }

    @Test func everyLabelStateAndMissingDemographics() {
        #expect(template.caption(for: record([:], age: 45, sex: .male)) == "Chest X-ray of a 45-year-old male with no findings")
        #expect(template.caption(for: record(["No Finding": .positive])) == "Chest X-ray of a 70-year-old female with no findings")
        #expect(template.caption(for: record(["Cardiomegaly": .uncertain])) == "Chest X-ray of a 70-year-old female with no findings")
        var positive = template
        positive.uncertain = "positive"
        #expect(positive.caption(for: record(["Cardiomegaly": .uncertain])) == "Chest X-ray of a 70-year-old female with cardiomegaly")
        #expect(template.caption(for: record(["Edema": .positive], age: nil, sex: nil)) == "Chest X-ray of a patient with edema")
        #expect(template.caption(for: record(["Edema": .positive], age: nil)) == "Chest X-ray of a female with edema")
    }

    @Test func articleAgreesWithTheNextWord() {
        #expect(template.caption(for: record([:], age: 80)).hasPrefix("Chest X-ray of an 80-year-old"))
        #expect(template.caption(for: record([:], age: 18)).hasPrefix("Chest X-ray of an 18-year-old"))
        #expect(template.caption(for: record([:], age: 11)).hasPrefix("Chest X-ray of an 11-year-old"))
        #expect(template.caption(for: record([:], age: 1)).hasPrefix("Chest X-ray of a 1-year-old"))
        #expect(template.caption(for: record([:], age: 108)).hasPrefix("Chest X-ray of a 108-year-old"))
    }

    @Test func statingAbsentFindings() {
        var t = template
        t.stateAbsent = true
        t.findings = ["Cardiomegaly", "Pleural Effusion", "Support Devices"]
        let r = record(["Cardiomegaly": .positive, "Support Devices": .negative, "Pleural Effusion": .negative, "Edema": .positive])
        #expect(t.caption(for: r)
                == "Chest X-ray of a 70-year-old female with cardiomegaly, without pleural effusion or support devices")
        #expect(t.caption(for: record(["Cardiomegaly": .positive])) == "Chest X-ray of a 70-year-old female with cardiomegaly")
    }

    @Test func templateFileOverridesAndBadTemplatesAreReported() throws {
        let url = try temporaryFile("template.json", """
            {"template": "frontal radiograph, {sex}, {age} years[: {findings}]", "names": {"Support Devices": "lines and tubes"}}
            """)
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let t = try CaptionTemplate.load(url)
        #expect(t.caption(for: record(["Support Devices": .positive])) == "frontal radiograph, female, 70 years: lines and tubes")

        let bad = try temporaryFile("bad.json", #"{"template": "X-ray of {patient}"}"#)
        defer { try? FileManager.default.removeItem(at: bad.deletingLastPathComponent()) }
        let error = #expect(throws: DataFileError.self) { try CaptionTemplate.load(bad) }
        #expect(error?.description.contains("unknown placeholder {patient}") == true)
        let unbalanced = try temporaryFile("bad.json", #"{"template": "X-ray [of {sex}"}"#)
        defer { try? FileManager.default.removeItem(at: unbalanced.deletingLastPathComponent()) }
        #expect(throws: DataFileError.self) { try CaptionTemplate.load(unbalanced) }
        // A missing file is said to be missing, with its name, not "not a caption template".
        let missing = URL(fileURLWithPath: "/nonexistent/template.json")
        let absent = #expect(throws: DataFileError.self) { try CaptionTemplate.load(missing) }
        #expect(absent?.description.contains("/nonexistent/template.json: no such file") == true, "\(String(describing: absent))")
    }

    @Test func editsRewriteTheCaptionInTheSameGrammar() throws {
        let r = try LabelEdit.record(fromLabels: "Cardiomegaly=1,Support Devices=1,Sex=F,Age=70")
        #expect(template.caption(for: r) == "Chest X-ray of a 70-year-old female with cardiomegaly and support devices")
        let removed = try LabelEdit.remove("support devices").apply(to: r)
        #expect(template.caption(for: removed) == "Chest X-ray of a 70-year-old female with cardiomegaly")
        let added = try LabelEdit.add("Pleural Effusion").apply(to: r)
        #expect(template.caption(for: added)
                == "Chest X-ray of a 70-year-old female with cardiomegaly, pleural effusion and support devices")
        let older = try LabelEdit.parseSet("age=80").apply(to: r)
        #expect(template.caption(for: older) == "Chest X-ray of an 80-year-old female with cardiomegaly and support devices")
        #expect(LabelEdit.remove("support devices").slug == "remove-support-devices")
        #expect(try LabelEdit.parseSet("age = 80").slug == "set-age-80")

        let unknown = #expect(throws: DataFileError.self) { try LabelEdit.remove("pacemakers").apply(to: r) }
        #expect(unknown?.description.contains("cardiomegaly") == true)
        #expect(throws: DataFileError.self) { try LabelEdit.record(fromLabels: "Age=old") }
        #expect(throws: DataFileError.self) { try LabelEdit.parseSet("age") }
    }
}
