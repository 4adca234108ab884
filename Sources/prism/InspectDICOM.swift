import Foundation
import Imaging

/// `prism inspect FILE.dcm`: what the header says about the pixels and the patient, and what Prism decodes.
enum InspectDICOM {
    /// Whether `url` is a DICOM file (by its content).
    static func applies(to url: URL) -> Bool {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
        defer { try? handle.close() }
        return DICOMFile.isDICOM((try? handle.read(upToCount: 132)) ?? Data())
    }

    /// The report's lines; the decode is attempted and its refusal, if any, reported as an error.
    static func report(_ url: URL, window: DICOMWindow) throws -> [String] {
        let file = try DICOMFile(contentsOf: url)
        let a = file.attributes
        func show(_ v: String?) -> String { v.flatMap { $0.isEmpty ? nil : $0 } ?? "-" }
        func number(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e12 ? String(Int(v)) : String(v) }
        let signedness = a.pixelRepresentation.map { $0 == 1 ? "signed" : "unsigned" } ?? "-"
        var lines = [
            "\(url.path): DICOM",
            "  transfer syntax   \(a.transferSyntaxUID)\(a.transferSyntaxName.isEmpty ? "" : " (\(a.transferSyntaxName))")"
                + (DICOMFile.supportedTransferSyntaxes[a.transferSyntaxUID] == nil ? "  [not decoded by Prism]" : ""),
            "  SOP class         \(show(a.sopClassUID))  modality \(show(a.modality))",
            "  size              \(a.columns.map(String.init) ?? "-") x \(a.rows.map(String.init) ?? "-"), \(a.frames) frame(s), "
                + "\(a.samplesPerPixel ?? 1) sample(s) per pixel",
            "  photometric       \(show(a.photometric))",
            "  bits              allocated \(a.bitsAllocated.map(String.init) ?? "-"), stored \(a.bitsStored.map(String.init) ?? "-"), "
                + "high bit \(a.highBit.map(String.init) ?? "-"), \(signedness)",
            "  rescale           " + (a.hasModalityLUT ? "Modality LUT Sequence"
                : "slope \(a.rescaleSlope.map(number) ?? "-"), intercept \(a.rescaleIntercept.map(number) ?? "-")"),
            "  window(s)         " + (a.windows.isEmpty ? "-" : a.windows.map { "\(number($0.center)),\(number($0.width))" }
                .joined(separator: "  ")) + (a.voiLUTFunction.map { " (\($0))" } ?? "") + (a.hasVOILUT ? "; VOI LUT Sequence" : ""),
            "  pixel spacing     \(a.pixelSpacing.map { $0.map(number).joined(separator: " x ") + " mm" } ?? "-")",
            "  patient           \(show(a.patientID)), sex \(show(a.patientSex)), age \(a.patientAge.map(String.init) ?? "-")",
            "  view              \(show(a.viewPosition))",
            "  study             \(show(a.studyInstanceUID))",
            "  series            \(show(a.seriesInstanceUID))",
            "  SOP instance      \(show(a.sopInstanceUID))",
        ]
        guard a.hasPixelData else { return lines + ["  pixels            none (not an image)"] }
        let values = try file.modalityValues()
        let (lo, hi) = values.reduce((Double.infinity, -Double.infinity)) { (min($0.0, $1), max($0.1, $1)) }
        let image = try file.image(window: window)
        let (glo, ghi) = (image.samples.min() ?? 0, image.samples.max() ?? 0)
        lines.append("  modality values   \(number(lo)) ... \(number(hi))")
        lines.append("  decoded           \(image.width) x \(image.height) 8-bit gray, window \(window): grey \(glo) ... \(ghi)")
        return lines
    }
}
