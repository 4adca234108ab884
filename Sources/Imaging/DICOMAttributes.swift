import Foundation

/// What a DICOM header says that Prism uses: who and what the image is (patient, sex, age, view, study) and how its
/// pixels are stored (for `prism inspect` and the decoder's checks).
public struct DICOMAttributes: Sendable, Equatable {
    public struct Window: Sendable, Equatable {
        public var center: Double
        public var width: Double
    }

    public var patientID: String?
    /// (0010,0040) as written: M, F or O.
    public var patientSex: String?
    /// (0010,1010) in years: "070Y" → 70; months, weeks and days count as 0 years.
    public var patientAge: Int?
    public var viewPosition: String?
    public var studyInstanceUID: String?
    public var seriesInstanceUID: String?
    public var sopClassUID: String?
    public var sopInstanceUID: String?
    public var modality: String?
    /// (0028,0030) row spacing, column spacing in mm.
    public var pixelSpacing: [Double]?

    public var transferSyntaxUID: String
    public var transferSyntaxName: String
    public var photometric: String?
    public var rows: Int?
    public var columns: Int?
    public var samplesPerPixel: Int?
    public var frames: Int
    public var bitsAllocated: Int?
    public var bitsStored: Int?
    public var highBit: Int?
    /// 0 unsigned, 1 two's complement.
    public var pixelRepresentation: Int?
    public var rescaleSlope: Double?
    public var rescaleIntercept: Double?
    public var windows: [Window]
    public var voiLUTFunction: String?
    public var hasVOILUT: Bool
    public var hasModalityLUT: Bool
    public var hasPixelData: Bool

    init(reading string: (UInt16, UInt16) -> String?, has: (UInt16, UInt16) -> Bool, items: (UInt16, UInt16) -> Int,
         transferSyntax: (uid: String, name: String)) {
        func text(_ g: UInt16, _ e: UInt16) -> String? { string(g, e).flatMap { $0.isEmpty ? nil : $0 } }
        func int(_ g: UInt16, _ e: UInt16) -> Int? { text(g, e).flatMap { Int($0.split(separator: "\\").first ?? "") } }
        func doubles(_ g: UInt16, _ e: UInt16) -> [Double] {
            (text(g, e) ?? "").split(separator: "\\").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        }
        patientID = text(0x0010, 0x0020)
        patientSex = text(0x0010, 0x0040)
        patientAge = text(0x0010, 0x1010).flatMap(Self.years)
        viewPosition = text(0x0018, 0x5101)
        studyInstanceUID = text(0x0020, 0x000D)
        seriesInstanceUID = text(0x0020, 0x000E)
        sopClassUID = text(0x0008, 0x0016)
        sopInstanceUID = text(0x0008, 0x0018)
        modality = text(0x0008, 0x0060)
        let spacing = doubles(0x0028, 0x0030)
        pixelSpacing = spacing.isEmpty ? nil : spacing
        transferSyntaxUID = transferSyntax.uid
        transferSyntaxName = transferSyntax.name
        photometric = text(0x0028, 0x0004)
        rows = int(0x0028, 0x0010)
        columns = int(0x0028, 0x0011)
        samplesPerPixel = int(0x0028, 0x0002)
        frames = int(0x0028, 0x0008) ?? 1
        bitsAllocated = int(0x0028, 0x0100)
        bitsStored = int(0x0028, 0x0101)
        highBit = int(0x0028, 0x0102)
        pixelRepresentation = int(0x0028, 0x0103)
        rescaleSlope = doubles(0x0028, 0x1053).first
        rescaleIntercept = doubles(0x0028, 0x1052).first
        windows = zip(doubles(0x0028, 0x1050), doubles(0x0028, 0x1051)).map { Window(center: $0, width: $1) }
        voiLUTFunction = text(0x0028, 0x1056)?.uppercased()
        hasVOILUT = items(0x0028, 0x3010) > 0
        hasModalityLUT = items(0x0028, 0x3000) > 0
        hasPixelData = has(0x7FE0, 0x0010)
    }

    /// An Age String (nnnD, nnnW, nnnM or nnnY) in whole years; a bare number is taken as years.
    static func years(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased()
        guard let last = t.last else { return nil }
        if last.isNumber { return Int(t) }
        guard let n = Int(t.dropLast()) else { return nil }
        switch last {
        case "Y": return n
        case "M": return n / 12
        case "W": return n / 52
        case "D": return n / 365
        default: return nil
        }
    }
}
