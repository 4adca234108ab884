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

    /// The header's lines, then the decode's (whose refusal, if any, is thrown after the header is printed).
    static func report(_ url: URL, window: DICOMWindow, print: ([String]) -> Void = { _ in }) throws -> [String] {
        let file = try DICOMFile(contentsOf: url)
        let head = header(url, file.attributes)
        print(head)
        let tail = try decode(file, window: window)
        print(tail)
        return head + tail
    }

    static func header(_ url: URL, _ a: DICOMAttributes) -> [String] {
        func show(_ v: String?) -> String { v.flatMap { $0.isEmpty ? nil : $0 } ?? "-" }
        func number(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e12 ? String(Int(v)) : String(v) }
        let signedness: String = a.pixelRepresentation.map { $0 == 1 ? "signed" : "unsigned" } ?? "-"
        let syntaxName: String = a.transferSyntaxName.isEmpty ? "" : " (\(a.transferSyntaxName))"
        let decoded: String = DICOMFile.supportedTransferSyntaxes[a.transferSyntaxUID] == nil ? "  [not decoded by Prism]" : ""
        let columns: String = a.columns.map(String.init) ?? "-", rows: String = a.rows.map(String.init) ?? "-"
        let allocated: String = a.bitsAllocated.map(String.init) ?? "-", stored: String = a.bitsStored.map(String.init) ?? "-"
        let high: String = a.highBit.map(String.init) ?? "-"
        let slope: String = a.rescaleSlope.map(number) ?? "-", intercept: String = a.rescaleIntercept.map(number) ?? "-"
        let rescale: String = a.hasModalityLUT ? "Modality LUT Sequence" : "slope \(slope), intercept \(intercept)"
        var windows: String = a.windows.isEmpty ? "-" : a.windows.map { "\(number($0.center)),\(number($0.width))" }.joined(separator: "  ")
        if let function = a.voiLUTFunction { windows += " (\(function))" }
        if a.hasVOILUT { windows += "; VOI LUT Sequence" }
        let spacing: String = a.pixelSpacing.map { $0.map(number).joined(separator: " x ") + " mm" } ?? "-"
        let age: String = a.patientAge.map(String.init) ?? "-"
        var lines: [String] = ["\(url.path): DICOM"]
        lines.append("  transfer syntax   \(a.transferSyntaxUID)\(syntaxName)\(decoded)")
        lines.append("  SOP class         \(show(a.sopClassUID))  modality \(show(a.modality))")
        lines.append("  size              \(columns) x \(rows), \(a.frames) frame(s), \(a.samplesPerPixel ?? 1) sample(s) per pixel")
        lines.append("  photometric       \(show(a.photometric))")
        lines.append("  bits              allocated \(allocated), stored \(stored), high bit \(high), \(signedness)")
        lines.append("  rescale           \(rescale)")
        lines.append("  window(s)         \(windows)")
        lines.append("  pixel spacing     \(spacing)")
        lines.append("  patient           \(show(a.patientID)), sex \(show(a.patientSex)), age \(age)")
        lines.append("  view              \(show(a.viewPosition))")
        lines.append("  study             \(show(a.studyInstanceUID))")
        lines.append("  series            \(show(a.seriesInstanceUID))")
        lines.append("  SOP instance      \(show(a.sopInstanceUID))")
        return lines
    }

    static func decode(_ file: DICOMFile, window: DICOMWindow) throws -> [String] {
        func number(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e12 ? String(Int(v)) : String(v) }
        guard file.attributes.hasPixelData else { return ["  pixels            none (not an image)"] }
        var lines: [String] = []
        let values = try file.modalityValues()
        let (lo, hi) = values.reduce((Double.infinity, -Double.infinity)) { (min($0.0, $1), max($0.1, $1)) }
        let image = try file.image(window: window)
        let (glo, ghi) = (image.samples.min() ?? 0, image.samples.max() ?? 0)
        lines.append("  modality values   \(number(lo)) ... \(number(hi))")
        lines.append("  decoded           \(image.width) x \(image.height) 8-bit gray, window \(window): grey \(glo) ... \(ghi)")
        return lines
    }
}
