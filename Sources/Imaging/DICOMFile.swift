import CDCMTK
import Foundation

/// A DICOM file read through DCMTK: its header (`attributes`) and, on demand, its pixels as Prism's gray `Image`.
///
/// The pixels go through DICOM's pipeline: stored values (decompressed: RLE, JPEG baseline/extended/lossless,
/// JPEG-LS), the Modality LUT (Rescale Slope/Intercept or a Modality LUT Sequence), the VOI step (`DICOMWindow`),
/// MONOCHROME1 inverted, then the display range mapped linearly onto the output's 0...255 (or 0...65535).
/// Refused, with the file named: a transfer syntax outside `supportedTransferSyntaxes` (JPEG 2000 among them), no
/// pixel data, colour, more than one frame, bits outside 1...16.
public final class DICOMFile: @unchecked Sendable {
    let handle: OpaquePointer
    /// The file's name in error messages.
    public let name: String
    public let attributes: DICOMAttributes

    /// The transfer syntaxes whose pixels Prism decodes (UID → what it is).
    public static let supportedTransferSyntaxes: [String: String] = [
        "1.2.840.10008.1.2": "Implicit VR Little Endian",
        "1.2.840.10008.1.2.1": "Explicit VR Little Endian",
        "1.2.840.10008.1.2.2": "Explicit VR Big Endian",
        "1.2.840.10008.1.2.1.99": "Deflated Explicit VR Little Endian",
        "1.2.840.10008.1.2.5": "RLE Lossless",
        "1.2.840.10008.1.2.4.50": "JPEG Baseline (Process 1)",
        "1.2.840.10008.1.2.4.51": "JPEG Extended (Process 2 & 4)",
        "1.2.840.10008.1.2.4.57": "JPEG Lossless (Process 14)",
        "1.2.840.10008.1.2.4.70": "JPEG Lossless (Process 14, Selection Value 1)",
        "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
        "1.2.840.10008.1.2.4.81": "JPEG-LS Near-Lossless",
    ]

    /// Whether `data` is a DICOM Part 10 file: "DICM" after the 128-byte preamble.
    public static func isDICOM(_ data: Data) -> Bool {
        data.count >= 132 && data.dropFirst(128).prefix(4).elementsEqual("DICM".utf8)
    }

    /// Parses a DICOM file in memory (through a temporary file: DCMTK checks element lengths against a file's size
    /// only); `name` names it in errors.
    public convenience init(data: Data, name: String = "DICOM data") throws {
        try self.init(name: name) { file, message in
            data.withUnsafeBytes { raw in
                cdcmtk_read(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, &file, &message, message.count)
            }
        }
    }

    /// Reads and parses a DICOM file; errors name it.
    public convenience init(contentsOf url: URL) throws {
        guard FileManager.default.isReadableFile(atPath: url.path) else {
            throw ImagingError.io(file: url.path, detail: "cannot be read (no such file, or not readable)")
        }
        try self.init(name: url.path) { file, message in cdcmtk_read_file(url.path, &file, &message, message.count) }
    }

    private init(name: String, read: (inout OpaquePointer?, inout [CChar]) -> Int32) throws {
        self.name = name
        var file: OpaquePointer?
        var message = [CChar](repeating: 0, count: 300)
        let status = read(&file, &message)
        guard status == 0, let file else {
            let reason = String(cString: message)
            if reason.lowercased().contains("premature end") || reason.contains("Stream") || reason.contains("stream") {
                throw ImagingError.truncated(file: name, detail: "the DICOM data set ends early (DCMTK: \(reason))")
            }
            throw ImagingError.corrupt(file: name, detail: "not a readable DICOM file (DCMTK: \(reason))")
        }
        handle = file
        attributes = DICOMAttributes(reading: { g, e in Self.string(file, g, e) },
                                     has: { g, e in cdcmtk_has(file, g, e) != 0 },
                                     items: { g, e in Int(cdcmtk_items(file, g, e)) },
                                     transferSyntax: Self.transferSyntax(file))
    }

    deinit { cdcmtk_close(handle) }

    /// An attribute's value as text (multiple values joined by "\"), nil when absent; with `sequence`, the attribute
    /// in item `item` of that sequence.
    public func string(_ group: UInt16, _ element: UInt16, inSequence sequence: (UInt16, UInt16)? = nil, item: Int = 0) -> String? {
        Self.string(handle, group, element, sequence: sequence, item: item)
    }

    static func string(_ file: OpaquePointer, _ group: UInt16, _ element: UInt16, sequence: (UInt16, UInt16)? = nil,
                       item: Int = 0) -> String? {
        var out = [CChar](repeating: 0, count: 4096)
        let found = cdcmtk_string(file, sequence?.0 ?? 0, sequence?.1 ?? 0, Int32(item), group, element, &out, out.count)
        return found != 0 ? String(cString: out).trimmingCharacters(in: .whitespaces) : nil
    }

    static func transferSyntax(_ file: OpaquePointer) -> (uid: String, name: String) {
        var uid = [CChar](repeating: 0, count: 80), name = [CChar](repeating: 0, count: 200)
        cdcmtk_transfer_syntax(file, &uid, uid.count, &name, name.count)
        return (String(cString: uid), String(cString: name))
    }

    // MARK: - Pixels

    /// The image as Prism reads it: gray, `bitDepth` 8 or 16, the display range of `window` mapped linearly onto it.
    public func image(window: DICOMWindow = .auto, bitDepth: Int = 8) throws -> Image {
        let (width, height) = try checkedGeometry()
        let display = try DICOMPixels.display(try modalityValues(), window: window, file: try voiFromFile(),
                                              monochrome1: attributes.photometric == "MONOCHROME1", name: name)
        let top = Double(bitDepth == 16 ? 65535 : 255)
        let samples = display.map { UInt16((min(max($0, 0), 1) * top).rounded()) }
        return Image(width: width, height: height, channels: 1, bitDepth: bitDepth, samples: samples)
    }

    /// The first frame's modality values (stored values through Rescale Slope/Intercept or the Modality LUT
    /// Sequence), row-major.
    public func modalityValues() throws -> [Double] {
        let stored = try storedValues()
        let a = attributes
        if cdcmtk_items(handle, 0x0028, 0x3000) > 0 {
            let lut = try readLUT(0x0028, 0x3000, "Modality LUT Sequence")
            let last = lut.data.count - 1
            return stored.map { v in Double(lut.data[min(max(Int(v) - lut.first, 0), last)]) }
        }
        let slope = a.rescaleSlope ?? 1, intercept = a.rescaleIntercept ?? 0
        return stored.map { Double($0) * slope + intercept }
    }

    /// Width and height, after every refusal that does not need the pixels decoded.
    func checkedGeometry() throws -> (Int, Int) {
        let a = attributes
        guard a.hasPixelData else {
            throw ImagingError.unsupported(file: name, detail: "no pixel data: not an image (SOP Class \(a.sopClassUID ?? "unknown"))")
        }
        guard Self.supportedTransferSyntaxes[a.transferSyntaxUID] != nil else {
            let known = a.transferSyntaxName.isEmpty ? "" : " (\(a.transferSyntaxName))"
            throw ImagingError.unsupported(file: name, detail: "transfer syntax \(a.transferSyntaxUID)\(known): Prism "
                + "decodes uncompressed, deflated, RLE, JPEG baseline/extended/lossless and JPEG-LS pixel data")
        }
        let photometric = a.photometric ?? "(missing)"
        guard (a.samplesPerPixel ?? 1) == 1, photometric == "MONOCHROME1" || photometric == "MONOCHROME2" else {
            throw ImagingError.unsupported(file: name, detail: "colour image (Photometric Interpretation \(photometric), "
                + "\(a.samplesPerPixel ?? 1) samples per pixel): Prism reads gray (MONOCHROME1/2) X-rays")
        }
        guard a.frames == 1 else {
            throw ImagingError.unsupported(file: name, detail: "\(a.frames) frames: Prism reads single-frame images")
        }
        guard let rows = a.rows, let columns = a.columns, rows > 0, columns > 0 else {
            throw ImagingError.corrupt(file: name, detail: "Rows/Columns missing or zero")
        }
        guard rows * columns <= Image.maxDecodedPixels else {
            throw ImagingError.unsupported(file: name, detail: "image size \(columns)x\(rows) is more than the \(Image.maxDecodedPixels) pixels Prism decodes")
        }
        let allocated = a.bitsAllocated ?? 0, stored = a.bitsStored ?? 0, high = a.highBit ?? (stored - 1)
        guard allocated == 8 || allocated == 16, (1...allocated).contains(stored), high >= stored - 1, high < allocated else {
            throw ImagingError.unsupported(file: name, detail: "Bits Allocated \(allocated), Bits Stored \(stored), "
                + "High Bit \(high): Prism reads 8 or 16 bits allocated, 1 to 16 stored")
        }
        return (columns, rows)
    }

    func storedValues() throws -> [Int32] {
        let (width, height) = try checkedGeometry()
        let a = attributes
        var out: UnsafeMutablePointer<Int32>?
        var message = [CChar](repeating: 0, count: 300)
        let stored = a.bitsStored!
        let status = cdcmtk_stored_values(handle, Int32(height), Int32(width), Int32(a.bitsAllocated!), Int32(stored),
                                          Int32(a.highBit ?? stored - 1), a.pixelRepresentation == 1 ? 1 : 0, &out,
                                          &message, message.count)
        guard status == 0, let out else {
            let reason = String(cString: message)
            if status == 2 { throw ImagingError.truncated(file: name, detail: reason) }
            throw ImagingError.corrupt(file: name, detail: reason)
        }
        defer { cdcmtk_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: width * height))
    }

    func readLUT(_ group: UInt16, _ element: UInt16, _ what: String) throws -> (first: Int, bits: Int, data: [UInt16]) {
        var descriptor = [Int32](repeating: 0, count: 3)
        var data: UnsafeMutablePointer<UInt16>?
        var count = 0
        var message = [CChar](repeating: 0, count: 300)
        guard cdcmtk_lut(handle, group, element, 0, &descriptor, &data, &count, &message, message.count) == 0, let data else {
            throw ImagingError.corrupt(file: name, detail: "\(what): \(String(cString: message))")
        }
        defer { cdcmtk_free(data) }
        let entries = descriptor[0] == 0 ? 65536 : Int(descriptor[0])
        // 8-bit LUT data may come packed two entries a word; Prism takes the words as entries and needs enough of them.
        guard count >= entries, entries > 0 else {
            throw ImagingError.corrupt(file: name, detail: "\(what): LUT Data has \(count) entries, the descriptor says \(entries)")
        }
        let bits = Int(descriptor[2])
        guard bits == 8 || (10...16).contains(bits) else {
            throw ImagingError.unsupported(file: name, detail: "\(what): \(bits) bits per LUT entry (8 or 10 to 16 are read)")
        }
        return (Int(descriptor[1]), bits, Array(UnsafeBufferPointer(start: data, count: entries)))
    }

    func voiFromFile() throws -> VOIFromFile {
        let a = attributes
        let lut = cdcmtk_items(handle, 0x0028, 0x3010) > 0 ? try readLUT(0x0028, 0x3010, "VOI LUT Sequence") : nil
        return VOIFromFile(lut: lut, center: a.windows.first?.center, width: a.windows.first?.width,
                           function: a.voiLUTFunction ?? "LINEAR")
    }
}
