// libFuzzer target: DICOM decoding (Sources/Imaging/DICOMFile.swift over Sources/CDCMTK and the system's DCMTK),
// for DICOM inputs of every command.
//
// DCMTK itself is not instrumented (it is fuzzed upstream); the coverage libFuzzer sees is our shim's and the Swift
// pixel pipeline's, which scripts/fuzz compiles with coverage and AddressSanitizer. Checked on every input:
// - parsing and decoding never trap, leak or allocate without bound, and a failure is an ImagingError naming the file;
// - a decoded image is 8-bit gray with consistent sizes;
// - a decoded image written as a derived DICOM reads back with the same pixels and a new SOP Instance UID.
import Foundation
import Imaging

private let fileName = "fuzz.dcm"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    let file: DICOMFile
    let image: Image
    do {
        file = try DICOMFile(data: bytes, name: fileName)
        image = try file.image()
    } catch let error as ImagingError {
        check(error.file == fileName, "the error names \(error.file), not the file")
        check(!error.description.contains("\n"), "not a one-line message: \(error)")
        return 0
    } catch {
        fail("DICOM decoding threw \(type(of: error)), not an ImagingError: \(error)")
    }
    check(image.channels == 1 && image.bitDepth == 8 && image.samples.allSatisfy { $0 <= 255 }, "not 8-bit gray")
    check(image.samples.count == image.width * image.height, "sample count")
    if image.pixelCount <= 64 * 64 {
        do {
            let (written, info) = try DICOMWriter.encode(image, source: file, derivation: "fuzz")
            let back = try DICOMFile(data: written, name: "written")
            check(try back.image() == image, "the derived file's pixels differ")
            check(info.sopInstanceUID != file.attributes.sopInstanceUID, "the source's SOP Instance UID was reused")
        } catch {
            fail("the derived DICOM does not read back: \(error)")
        }
    }
    return 0
}

private func check(_ condition: @autoclosure () throws -> Bool, _ message: @autoclosure () -> String) {
    do { if try !condition() { fail(message()) } } catch { fail("\(message()): \(error)") }
}

private func fail(_ message: String) -> Never {
    fatalError("dicom fuzz: \(message)")
}
