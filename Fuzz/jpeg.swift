// libFuzzer target: JPEG decoding (Sources/Imaging/JPEG.swift over Sources/CJPEG/cjpeg.c and the system's
// libjpeg-turbo), for CheXpert and MIMIC-CXR-JPG images.
//
// libjpeg-turbo itself is not instrumented (it is fuzzed upstream); the coverage libFuzzer sees is our wrapper's,
// which scripts/fuzz compiles with coverage and AddressSanitizer. Checked on every input:
// - decoding never traps, leaks or allocates without bound, and a failure is an ImagingError naming the file;
// - a decoded image is 8-bit gray or RGB with consistent sizes;
// - small decoded images encode again and the result decodes to the same size.
import Foundation
import Imaging

private let fileName = "fuzz.jpg"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    let image: Image
    do {
        image = try JPEG.decode(bytes, name: fileName)
    } catch let error as ImagingError {
        check(error.file == fileName, "the error names \(error.file), not the file")
        check(!error.description.contains("\n"), "not a one-line message: \(error)")
        return 0
    } catch {
        fail("JPEG.decode threw \(type(of: error)), not an ImagingError: \(error)")
    }
    check(image.channels == 1 || image.channels == 3, "\(image.channels) channels")
    check(image.bitDepth == 8 && image.samples.allSatisfy { $0 <= 255 }, "not 8-bit")
    check(image.samples.count == image.width * image.height * image.channels, "sample count")

    if image.pixelCount <= 64 * 64 {
        do {
            let again = try JPEG.decode(JPEG.encode(image, quality: 75), name: "re-encoded")
            check(again.width == image.width && again.height == image.height && again.channels == image.channels,
                  "encode + decode changes the size")
        } catch {
            fail("the encoder's JPEG does not decode: \(error)")
        }
    }
    return 0
}

private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}

private func fail(_ message: String) -> Never {
    fatalError("jpeg fuzz: \(message)")
}
