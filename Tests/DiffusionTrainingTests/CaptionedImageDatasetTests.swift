import Datasets
import Foundation
import Imaging
import TestSupport
import Testing
@testable import DiffusionTraining
import Training

@Suite struct CaptionedImageDatasetTests {
    let nih = sharedFolder().appendingPathComponent("data/nih-cxr14-sample")

    @Test func readsRealImagesAsCHWInMinusOneToOne() throws {
        let records = try Manifest.load(nih.appendingPathComponent("labels.csv"))
        let data = CaptionedImageDataset(records: records, imageRoot: nih.appendingPathComponent("images-256"),
                                         resolution: 64, template: CaptionTemplate())
        try data.checkFilesExist()
        let px = try data.pixels(0)
        #expect(px.count == 3 * 64 * 64)
        #expect(px.min()! >= -1 && px.max()! <= 1 && px.max()! - px.min()! > 1, "a real X-ray spans most of the range")
        #expect(Array(px[0..<4096]) == Array(px[4096..<8192]), "gray repeated over the channels")
        // The same pixels as reading, squaring and resizing by hand.
        let ref = try Image(contentsOf: nih.appendingPathComponent("images-256/00000075_000.png")).grayscale()
            .centerSquare().resized(width: 64, height: 64).plane(0).map { $0 * 2 - 1 }
        #expect(Array(px[0..<4096]) == ref)
        #expect(data.caption(0) == "Chest X-ray of a 61-year-old female with cardiomegaly")
    }

    @Test func missingImagesAreNamedBeforeTraining() throws {
        let records = [Record(path: "nowhere/x.png", patientID: "1", line: 7)]
        let data = CaptionedImageDataset(records: records, imageRoot: nih, resolution: 64, template: CaptionTemplate())
        let error = #expect(throws: CheckpointError.self) { try data.checkFilesExist() }
        #expect(error?.description.contains("nowhere/x.png (manifest line 7)") == true)
    }
}
