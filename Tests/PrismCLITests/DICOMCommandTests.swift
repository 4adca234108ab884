import Foundation
import Imaging
import Testing
import Training
@testable import prism

/// DICOM through the commands: convert, inspect, caption and edit read the fixtures pydicom and DCMTK wrote
/// (Tests/ImagingTests/Fixtures/dicom, made by scripts/make_dicom_fixtures.py).
@Suite struct DICOMCommandTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ImagingTests/Fixtures/dicom")

    static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

    /// A folder of DICOMs (one nested, one refused) converted, then converted again: the second run skips what exists.
    @Test func convertKeepsTheTreeWritesTheManifestAndResumes() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let input = scratch.url("in")
        try FileManager.default.createDirectory(at: input.appendingPathComponent("sub"), withIntermediateDirectories: true)
        for (name, to) in [("cr64.dcm", "a.dcm"), ("explicit_be.dcm", "sub/b.dcm"), ("colour.dcm", "sub/c.dcm")] {
            try FileManager.default.copyItem(atPath: Self.fixture(name), toPath: input.appendingPathComponent(to).path)
        }
        try Data("notes".utf8).write(to: input.appendingPathComponent("notes.txt"))
        let out = scratch.url("out")
        let refused = try #require(failure { try ConvertCommand.parse([input.path, "--output", out.path]).run() })
        #expect(refused.status == 1 && refused.message.contains("c.dcm") && refused.message.contains("colour"), "\(refused.message)")
        let a = try Image(contentsOf: out.appendingPathComponent("a.png"))
        #expect(a == (try Image(contentsOf: URL(fileURLWithPath: Self.fixture("cr64.dcm")))), "the loaders' pixels")
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("sub/b.png").path))
        let manifest = try String(contentsOf: out.appendingPathComponent("manifest.csv"), encoding: .utf8)
        let lines = manifest.split(separator: "\n")
        #expect(lines.first == "path,source,patient,sex,age,view" && lines.count == 3, "\(manifest)")
        #expect(lines[1].hasPrefix("a.png,") && lines[1].hasSuffix(",P0001,F,70,PA"), "\(lines[1])")

        // Resumed: an existing output is kept as it is (a marker byte shows it was not rewritten).
        try FileManager.default.removeItem(at: input.appendingPathComponent("sub/c.dcm"))
        try Data([1]).write(to: out.appendingPathComponent("a.png"))
        try ConvertCommand.parse([input.path, "--output", out.path]).run()
        #expect(try Data(contentsOf: out.appendingPathComponent("a.png")) == Data([1]))
    }

    /// --data: the label file's rows, its blank sex and age filled from the DICOM header.
    @Test func convertFromALabelFileFillsTheBlanksFromTheHeader() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try FileManager.default.createDirectory(at: scratch.url("img/p1"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.fixture("cr64.dcm"), toPath: scratch.path("img/p1/x.dcm"))
        let csv = try scratch.write("Path,Cardiomegaly,Sex,Age\np1/x.dcm,1,,\n", to: "labels.csv")
        try ConvertCommand.parse(["--data", csv, "--images", scratch.path("img"), "--output", scratch.path("out")]).run()
        let manifest = try String(contentsOf: scratch.url("out/manifest.csv"), encoding: .utf8)
        let row = try #require(manifest.split(separator: "\n").last)
        #expect(row.hasPrefix("p1/x.png,") && row.hasSuffix(",F,70,PA"), "\(manifest)")
        #expect(try Image(contentsOf: scratch.url("out/p1/x.png")).width == 64)
        expectRefused(ConvertCommand.self, ["--data", csv, "--output", "o"], saying: "--images")
        expectRefused(ConvertCommand.self, [Self.fixture("cr64.dcm"), "--data", csv, "--images", "i", "--output", "o"], saying: "--data")
    }

    @Test func convertWritesSixteenBitAndDerivedDICOMs() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try ConvertCommand.parse([Self.fixture("cr64.dcm"), "--output", scratch.path("p16"), "--format", "png16",
                                  "--window", "none"]).run()
        let sixteen = try Image(contentsOf: scratch.url("p16/cr64.png"))
        #expect(sixteen.bitDepth == 16 && sixteen.samples.min() == 0 && sixteen.samples.max() == 65535)
        try ConvertCommand.parse([Self.fixture("cr64.dcm"), "--output", scratch.path("d"), "--format", "dicom",
                                  "--resolution", "32"]).run()
        let written = try DICOMFile(contentsOf: scratch.url("d/cr64.dcm"))
        let source = try DICOMFile(contentsOf: URL(fileURLWithPath: Self.fixture("cr64.dcm")))
        #expect(written.attributes.columns == 32 && written.attributes.sopInstanceUID != source.attributes.sopInstanceUID)
        #expect(written.attributes.sopClassUID == source.attributes.sopClassUID, "Computed Radiography is kept")
        #expect(written.string(0x0008, 0x1155, inSequence: (0x0008, 0x2112)) == source.attributes.sopInstanceUID)
        expectRefused(ConvertCommand.self, [Self.fixture("cr64.dcm"), "--output", "x", "--window", "50"], saying: "--window")
        expectRefused(ConvertCommand.self, [Self.fixture("cr64.dcm"), "--output", "x", "--format", "tiff"], saying: "tiff")
    }

    @Test func inspectDescribesTheHeaderAndTheDecode() throws {
        let lines = try InspectDICOM.report(URL(fileURLWithPath: Self.fixture("signed_rescale.dcm")), window: .auto)
        let text = lines.joined(separator: "\n")
        for words in ["1.2.840.10008.1.2.1", "MONOCHROME2", "allocated 16, stored 16", "signed", "slope 0.5, intercept -200",
                      "100,600  40,400", "P0001, sex F, age 70", "PA", "modality values"] {
            #expect(text.contains(words), "no \"\(words)\" in\n\(text)")
        }
        let j2k = #expect(throws: ImagingError.self) { try InspectDICOM.report(URL(fileURLWithPath: Self.fixture("jpeg2000.dcm")), window: .auto) }
        #expect(j2k?.description.contains("1.2.840.10008.1.2.4.90") == true)
        #expect(throws: ImagingError.self) { try InspectDICOM.report(URL(fileURLWithPath: Self.fixture("multi_frame.dcm")), window: .auto) }
    }

    /// A label file that names only the image and its label: the patient, sex, age and view come from each DICOM's
    /// header (a PNG beside it says nothing and keeps what the file gives).
    @Test func labelledDatasetsTakeTheirDemographicsFromDICOMHeaders() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let images = scratch.url("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.fixture("cr64.dcm"), toPath: images.appendingPathComponent("a.dcm").path)
        try Image(width: 8, height: 8, channels: 1, samples: [UInt16](repeating: 9, count: 64))
            .writePNG(to: images.appendingPathComponent("b.png"))
        let csv = scratch.url("labels.csv")
        try Data("file,lesion\na.dcm,yes\nb.png,no\n".utf8).write(to: csv)
        let options = try LabelledImagesOptions.parse(["--data", csv.path, "--images", images.path, "--path-column", "file",
                                                       "--label-columns", "lesion", "--label-values", "positive=yes,negative=no"])
        let records = try options.loadData().records
        #expect(records.count == 2)
        #expect(records[0].patientID == "P0001" && records[0].sex == .female && records[0].age == 70 && records[0].view == "PA",
                "\(records[0])")
        #expect(records[1].sex == nil && records[1].age == nil && records[1].view == nil)

        // --window reaches the images a training or classifier command reads.
        let windowed = try LabelledImagesOptions.parse(["--data", csv.path, "--images", images.path, "--path-column", "file",
                                                        "--label-columns", "lesion", "--label-values", "positive=yes,negative=no",
                                                        "--window", "1000,500"])
        let window = try windowed.window.value()
        #expect(window != .auto)
        let own = ImageDataset(records: records, imageRoot: images, resolution: 32)
        let given = ImageDataset(records: records, imageRoot: images, resolution: 32, window: window)
        let expected = ImageDataset.plane(try Image(contentsOf: images.appendingPathComponent("a.dcm"), window: window), resolution: 32)
        #expect(try given.plane(0) == expected)
        #expect(try given.plane(0) != own.plane(0))
        #expect(try given.plane(1) == own.plane(1), "a PNG ignores the window")
    }

    @Test func captionReadsTheDemographicsFromTheHeader() throws {
        let command = try CaptionCommand.parse(["--data", Self.fixture("cr64.dcm"), "--row", "1"])
        let record = try command.dicomRecord(Self.fixture("cr64.dcm"))
        #expect(record.patientID == "P0001" && record.sex == .female && record.age == 70 && record.view == "PA")
    }

    /// The tiny pipeline edits a DICOM: the counterfactual is a derived DICOM of the same study, new UIDs.
    @Test func editOfADICOMWritesADerivedDICOM() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let output = scratch.url("out")
        try EditCommand.parse([
            "--image", Self.fixture("cr64.dcm"), "--model", tinyPipeline.path, "--mask", "none", "--output", output.path,
            "--source", "chest x-ray with cardiomegaly", "--target", "chest x-ray with no findings",
            "--inversion", "ddim", "--steps", "2", "--cache", "none",
        ]).run()
        let files = try FileManager.default.contentsOfDirectory(atPath: output.path)
        let dcm = try #require(files.first { $0.hasSuffix(".dcm") }, "\(files)")
        let written = try DICOMFile(contentsOf: output.appendingPathComponent(dcm))
        let source = try DICOMFile(contentsOf: URL(fileURLWithPath: Self.fixture("cr64.dcm")))
        #expect(written.attributes.sopInstanceUID != source.attributes.sopInstanceUID)
        #expect(written.attributes.studyInstanceUID == source.attributes.studyInstanceUID)
        #expect(written.string(0x0008, 0x2111)?.contains("chest x-ray with no findings") == true)
        #expect(written.attributes.columns == 64 && written.attributes.rows == 64)
        let report = try String(contentsOf: output.appendingPathComponent("result.json"), encoding: .utf8)
        #expect(report.contains("\(dcm)"))
        expectRefused(EditCommand.self, ["--image", "x.dcm", "--source", "a", "--target", "b", "--output", "o",
                                         "--output-format", "tiff"], saying: "tiff")
    }
}
