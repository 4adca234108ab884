import Foundation
import Testing
@testable import Imaging

/// Reference JPEGs written by PIL (Pillow) and the pixels PIL decodes from them.
@Suite struct JPEGTests {
    static let grayJPEG = Data(base64Encoded: "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4RDgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/wAALCAAIAAwBAREA/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/9oACAEBAAA/APOPhb+yT/qf9C9P4a+ovD37JP8AxK4v9C/8dr//2Q==")!
    static let grayPixels: [Int] = [0, 9, 18, 26, 37, 45, 54, 63, 72, 80, 91, 98, 19, 29, 38, 46, 56, 64, 73, 83, 92, 100, 111, 117, 40, 50, 59, 67, 77, 85, 94, 104, 113, 121, 132, 139, 59, 69, 78, 86, 96, 104, 113, 123, 132, 140, 151, 158, 80, 89, 98, 106, 117, 125, 134, 143, 152, 160, 171, 178, 99, 109, 117, 126, 136, 144, 153, 163, 171, 180, 190, 197, 120, 130, 139, 147, 157, 165, 174, 184, 192, 201, 211, 218, 139, 149, 158, 166, 176, 184, 193, 203, 212, 220, 231, 238]
    static let rgbProgressiveJPEG = Data(base64Encoded: "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4RDgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/2wBDAQMEBAUEBQkFBQkUDQsNFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBT/wgARCAAIAAwDASIAAhEBAxEB/8QAFgABAQEAAAAAAAAAAAAAAAAAAAIF/8QAFQEBAQAAAAAAAAAAAAAAAAAABQb/2gAMAwEAAhADEAAAAYzQev8A/8QAGBAAAgMAAAAAAAAAAAAAAAAAAAQCAyH/2gAIAQEAAQUCsaJNb//EABkRAAEFAAAAAAAAAAAAAAAAAAAEBQYTMv/aAAgBAwEBPwFij6CvB//EABgRAAIDAAAAAAAAAAAAAAAAAAAEAxIx/9oACAECAQE/AUUIK4f/xAAUEAEAAAAAAAAAAAAAAAAAAAAQ/9oACAEBAAY/Aj//xAAWEAEBAQAAAAAAAAAAAAAAAAAAUWH/2gAIAQEAAT8h3VP/2gAMAwEAAgADAAAAEIP/xAAXEQADAQAAAAAAAAAAAAAAAAAAYYHR/9oACAEDAQE/EJZYf//EABQRAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQIBAT8QF//EABcQAAMBAAAAAAAAAAAAAAAAAAAhwTH/2gAIAQEAAT8Q2sZs/9k=")!
    static let rgbPixels: [Int] = [17, 245, 12, 20, 239, 12, 28, 231, 15, 37, 223, 18, 48, 211, 22, 56, 203, 27, 65, 193, 34, 73, 185, 39, 84, 175, 44, 94, 167, 49, 101, 158, 51, 105, 153, 51, 25, 230, 13, 28, 227, 14, 36, 217, 16, 45, 208, 19, 56, 198, 24, 65, 189, 29, 73, 181, 36, 82, 171, 41, 92, 162, 46, 101, 154, 50, 110, 145, 53, 114, 140, 53, 47, 210, 23, 50, 205, 23, 59, 197, 24, 70, 187, 28, 80, 177, 35, 89, 168, 40, 97, 160, 46, 105, 151, 52, 114, 142, 55, 123, 133, 60, 133, 125, 63, 136, 119, 63, 67, 191, 35, 70, 186, 35, 80, 177, 36, 89, 168, 40, 100, 158, 46, 109, 149, 52, 116, 139, 57, 125, 132, 64, 134, 123, 67, 143, 114, 70, 151, 105, 72, 156, 100, 75, 82, 171, 45, 86, 167, 46, 96, 158, 49, 104, 148, 51, 114, 139, 56, 123, 130, 62, 131, 121, 68, 140, 112, 73, 149, 103, 79, 158, 94, 82, 167, 86, 85, 171, 80, 85, 102, 152, 55, 105, 148, 56, 115, 138, 58, 124, 129, 62, 133, 120, 67, 143, 111, 72, 150, 102, 79, 160, 93, 84, 169, 84, 89, 178, 75, 92, 187, 67, 95, 191, 61, 95, 125, 132, 64, 127, 127, 63, 138, 118, 67, 147, 109, 70, 156, 100, 75, 165, 91, 80, 173, 81, 86, 182, 73, 92, 192, 64, 97, 201, 55, 100, 209, 46, 103, 214, 41, 104, 132, 119, 64, 136, 114, 64, 145, 106, 67, 154, 97, 70, 165, 87, 75, 174, 78, 80, 181, 68, 86, 191, 60, 92, 201, 51, 97, 210, 42, 101, 218, 32, 103, 222, 27, 103]

    func maxDifference(_ image: Image, _ reference: [Int]) -> Int {
        zip(image.samples, reference).map { abs(Int($0) - $1) }.max() ?? .max
    }

    @Test func decodesWhatPillowDecodes() throws {
        let gray = try JPEG.decode(Self.grayJPEG)
        #expect(gray.width == 12 && gray.height == 8 && gray.channels == 1 && gray.bitDepth == 8)
        #expect(maxDifference(gray, Self.grayPixels) <= 1, "IDCT implementations may differ by one level")
        let rgb = try JPEG.decode(Self.rgbProgressiveJPEG)
        #expect(rgb.width == 12 && rgb.height == 8 && rgb.channels == 3)
        #expect(maxDifference(rgb, Self.rgbPixels) <= 2)
    }

    @Test func encodeThenDecodeIsClose() throws {
        let values: [Float] = (0..<(64 * 48)).map { (i: Int) -> Float in Float(i % 64 + i / 64) / 111 }
        let image = Image(floats: values, width: 64, height: 48)
        let back = try JPEG.decode(JPEG.encode(image, quality: 95))
        #expect(back.width == 64 && back.height == 48 && back.channels == 1)
        let reference: [Int] = image.samples.map { Int($0) }
        #expect(maxDifference(back, reference) <= 6)
    }

    @Test func corruptAndUnknownFilesNameTheFile() throws {
        var truncated = Self.grayJPEG.prefix(40)
        truncated.append(contentsOf: [0xFF, 0xD9])
        let e = #expect(throws: ImagingError.self) { try JPEG.decode(Data(truncated), name: "scan.jpg") }
        #expect(e?.file == "scan.jpg")

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prism-jpeg-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let jpg = dir.appendingPathComponent("x.dat")
        try Self.grayJPEG.write(to: jpg)
        #expect(try Image(contentsOf: jpg).width == 12, "told apart by content, not name")
        let txt = dir.appendingPathComponent("notes.png")
        try Data("hello".utf8).write(to: txt)
        let u = #expect(throws: ImagingError.self) { try Image(contentsOf: txt) }
        #expect(u?.description.contains("notes.png") == true)
    }
}
