import CDCMTK
import Core
import Foundation

/// Writing an image Prism made (a counterfactual, a conversion) as a derived DICOM that a PACS files beside its
/// source: the source's patient, study and equipment modules, new SOP Instance and Series Instance UIDs, ImageType
/// DERIVED\SECONDARY, a Derivation Description, a Source Image Sequence naming the source, Burned In Annotation NO,
/// 8-bit MONOCHROME2 pixels with Window Center 128 / Width 256 (shown exactly as written). The SOP Class is the
/// source's for Computed Radiography, Secondary Capture otherwise (other X-ray classes require acquisition
/// attributes a derived image cannot truthfully keep).
public enum DICOMWriter {
    /// What `write` wrote.
    public struct Written: Sendable, Equatable {
        public var sopInstanceUID: String
    }

    /// The derived file's bytes; `image` is reduced to 8-bit gray.
    public static func encode(_ image: Image, source: DICOMFile?, derivation: String,
                              seriesDescription: String? = nil) throws -> (data: Data, written: Written) {
        let gray = image.grayscale().converted(toBitDepth: 8)
        guard gray.width <= 65535, gray.height <= 65535 else {
            throw ImagingError.unsupported(file: "DICOM writer", detail: "\(gray.width)x\(gray.height) is more than DICOM's 65535 rows or columns")
        }
        let pixels = gray.samples.map { UInt8($0) }
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var uid = [CChar](repeating: 0, count: 65)
        var message = [CChar](repeating: 0, count: 300)
        let status = derivation.withCString { derivationText in
            (seriesDescription ?? "").withCString { seriesText in
                var info = cdcmtk_derived_info(derivation_description: derivationText,
                                               series_description: seriesDescription == nil ? nil : seriesText,
                                               window_center: 128, window_width: 256)
                return cdcmtk_write_derived(source?.handle, pixels, Int32(gray.height), Int32(gray.width), &info, &out,
                                            &size, &uid, &message, message.count)
            }
        }
        guard status == 0, let out else {
            throw ImagingError.io(file: "DICOM writer", detail: "DCMTK could not write the image (\(String(cString: message)))")
        }
        defer { cdcmtk_free(out) }
        return (Data(bytes: out, count: size), Written(sopInstanceUID: String(cString: uid)))
    }

    /// Writes the derived file atomically (a temporary name beside `url`, then a rename).
    @discardableResult
    public static func write(_ image: Image, to url: URL, source: DICOMFile?, derivation: String,
                             seriesDescription: String? = nil) throws -> Written {
        let (data, written) = try encode(image, source: source, derivation: derivation, seriesDescription: seriesDescription)
        do { try writeAtomically(data, to: url) } catch let error as FileSystemError {
            throw ImagingError.io(file: error.path, detail: error.reason)
        }
        return written
    }
}
