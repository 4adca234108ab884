import CJPEG
import Foundation

/// JPEG in and out through libjpeg-turbo (CheXpert and MIMIC-CXR-JPG ship JPEGs).
public enum JPEG {
    /// Decodes baseline and progressive JPEGs to 8-bit gray or RGB.
    public static func decode(_ data: Data, name: String = "JPEG data") throws -> Image {
        var out = cjpeg_image()
        let status = data.withUnsafeBytes { raw in
            cjpeg_decode(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, Image.maxDecodedPixels, &out)
        }
        guard status == 0, let pixels = out.pixels else {
            let message = withUnsafeBytes(of: out.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if status == 2 { throw ImagingError.unsupported(file: name, detail: message) }
            throw ImagingError.corrupt(file: name, detail: "not a readable JPEG (\(message))")
        }
        defer { cjpeg_free(pixels) }
        let count = Int(out.width) * Int(out.height) * Int(out.channels)
        let samples = (0..<count).map { UInt16(pixels[$0]) }
        return Image(width: Int(out.width), height: Int(out.height), channels: Int(out.channels), samples: samples)
    }

    /// Encodes gray or RGB (alpha dropped, 16-bit reduced to 8) at `quality` 1...100.
    public static func encode(_ image: Image, quality: Int = 95) throws -> Data {
        let base = image.hasAlpha ? (image.channels == 2 ? image.grayscale() : image.rgb()) : image
        let eight = base.converted(toBitDepth: 8)
        let bytes = eight.samples.map { UInt8($0) }
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 200)
        let status = cjpeg_encode(bytes, Int32(eight.width), Int32(eight.height), Int32(eight.channels),
                                  Int32(min(max(quality, 1), 100)), &out, &size, &message, message.count)
        guard status == 0, let out else {
            throw ImagingError.io(file: "JPEG encoder", detail: String(cString: message))
        }
        defer { cjpeg_free(out) }
        return Data(bytes: out, count: size)
    }
}
