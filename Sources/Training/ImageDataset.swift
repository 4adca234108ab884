import Datasets
import Foundation
import Imaging

/// The images of a manifest as any image model reads them, whatever it then does with them: each file read (PNG
/// or JPEG), made gray, cropped to its centred square and resized to `resolution`, as one plane of floats in
/// [0, 1]. Models put their own scaling on top (Stable Diffusion's [-1, 1], a classifier's mean and std).
public struct ImageDataset: Sendable {
    public let records: [Record]
    public let imageRoot: URL
    public let resolution: Int
    /// How a DICOM file's values become gray levels (its own window by default); PNG and JPEG ignore it.
    public let window: DICOMWindow

    public init(records: [Record], imageRoot: URL, resolution: Int, window: DICOMWindow = .auto) {
        self.records = records
        self.imageRoot = imageRoot
        self.resolution = resolution
        self.window = window
    }

    public var count: Int { records.count }

    /// The file of record `i`: its path under the image root, or the path itself when absolute.
    public func url(_ i: Int) -> URL {
        let p = records[i].path
        return p.hasPrefix("/") ? URL(fileURLWithPath: p) : imageRoot.appendingPathComponent(p)
    }

    /// The image as `resolution`² gray floats in [0, 1], row by row.
    public func plane(_ i: Int) throws -> [Float] {
        Self.plane(try Image(contentsOf: url(i), window: window), resolution: resolution)
    }

    /// An image as every model reads it: gray, the centred square, resized to `resolution`², floats in [0, 1].
    public static func plane(_ image: Image, resolution: Int) -> [Float] {
        image.grayscale().centerSquare().resized(width: resolution, height: resolution).plane(0)
    }

    /// Checks that every image file exists before training starts, naming the first missing ones.
    public func checkFilesExist() throws {
        let missing = records.indices.lazy.filter { !FileManager.default.fileExists(atPath: url($0).path) }.prefix(4)
        guard missing.isEmpty else {
            let shown = missing.map { "\(url($0).path) (manifest line \(records[$0].line))" }
            throw CheckpointError(imageRoot.path, "image files are missing: " + shown.joined(separator: ", ")
                                  + ". Is --images the folder the manifest's paths are relative to?")
        }
    }

    /// Decodes every image before training starts, in parallel, so that a truncated or corrupt file is refused
    /// now, with the broken ones named (the first few and their count), instead of failing the step that first
    /// draws it. `progress(checked, total)` is called on the calling thread after each batch of images.
    public func checkImagesDecode(progress: (Int, Int) -> Void = { _, _ in }) throws {
        let batch = max(64, 16 * ProcessInfo.processInfo.activeProcessorCount)
        var broken: [String] = []
        for start in stride(from: 0, to: count, by: batch) {
            let indices = start..<min(start + batch, count)
            broken += decodingProblems(indices)
            progress(indices.upperBound, count)
        }
        guard broken.isEmpty else {
            let shown = broken.prefix(4).joined(separator: "; ") + (broken.count > 4 ? "; and \(broken.count - 4) more" : "")
            throw CheckpointError(imageRoot.path, "\(broken.count) of \(count) images cannot be decoded: \(shown). "
                                  + "Replace the broken files, or remove their rows from the label file, and run again")
        }
    }

    /// The decoding error of each image in `indices` that does not decode, with its manifest line, in order.
    func decodingProblems(_ indices: Range<Int>) -> [String] {
        let problems = concurrentMap(indices) { i -> String? in
            do { _ = try Image(contentsOf: url(i), window: window) } catch { return "\(error) (manifest line \(records[i].line))" }
            return nil
        }
        return problems.compactMap { $0 }
    }

    /// The planes of `indices`, read in parallel, in order; the first error is rethrown.
    public func planes(_ indices: some Collection<Int>) throws -> [[Float]] {
        try concurrentMap(Array(indices)) { i in Result { try plane(i) } }.map { try $0.get() }
    }
}

/// `transform` of every element, computed on all cores, in order.
func concurrentMap<C: Collection, T>(_ items: C, _ transform: (C.Element) -> T) -> [T] where C.Index == Int {
    var results = [T?](repeating: nil, count: items.count)
    withoutActuallyEscaping(transform) { transform in
        let work = UncheckedSendable((items, transform))
        results.withUnsafeMutableBufferPointer { slots in
            let slots = UncheckedSendable(slots)
            DispatchQueue.concurrentPerform(iterations: items.count) { k in
                let (items, transform) = work.value
                slots.value[k] = transform(items[items.startIndex + k])
            }
        }
    }
    return results.map { $0! }
}

/// A buffer whose slots distinct threads write, one slot each.
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
