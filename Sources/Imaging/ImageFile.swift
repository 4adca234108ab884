import Foundation

/// Where every command's image reading starts: a new format adds its signature and decoder here.
extension Image {
    /// Reads a PNG, a JPEG or a DICOM file, told apart by their signatures, not by the file name. A DICOM's pixels
    /// go through its Modality LUT and `window` (its own first window by default) onto 8-bit gray.
    public init(contentsOf url: URL, window: DICOMWindow = .auto) throws {
        // A DICOM is parsed from its file (DCMTK checks element lengths against the file's size); the head says which.
        if let handle = FileHandle(forReadingAtPath: url.path) {
            let head = (try? handle.read(upToCount: 132)) ?? Data()
            try? handle.close()
            if DICOMFile.isDICOM(head) {
                self = try DICOMFile(contentsOf: url).image(window: window)
                return
            }
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ImagingError.io(file: url.path, detail: "cannot be read: \(error.localizedDescription)")
        }
        if data.starts(with: [0xFF, 0xD8, 0xFF]) {
            self = try JPEG.decode(data, name: url.path)
        } else if data.starts(with: [0x89, 0x50, 0x4E, 0x47]) {
            self = try PNG.decode(data, name: url.path)
        } else {
            throw ImagingError.unsupported(file: url.path, detail: "neither a PNG, a JPEG nor a DICOM file")
        }
    }
}
