import Datasets
import Diffusion
import Foundation
import Imaging

/// Images and their captions, as a text-to-image model trains on them: each image read (PNG or JPEG),
/// made gray, cropped to its centred square, resized to `resolution`, scaled to [-1, 1] and repeated over
/// `channels` (3 for Stable Diffusion's VAE); each caption made from the record by the caption template.
public struct CaptionedImageDataset: Sendable {
    public let records: [Record]
    public let imageRoot: URL
    public let resolution: Int
    public let channels: Int
    public let template: CaptionTemplate

    public init(records: [Record], imageRoot: URL, resolution: Int, channels: Int = 3, template: CaptionTemplate) {
        self.records = records
        self.imageRoot = imageRoot
        self.resolution = resolution
        self.channels = channels
        self.template = template
    }

    public var count: Int { records.count }

    public func url(_ i: Int) -> URL {
        let p = records[i].path
        return p.hasPrefix("/") ? URL(fileURLWithPath: p) : imageRoot.appendingPathComponent(p)
    }

    public func caption(_ i: Int) -> String { template.caption(for: records[i]) }

    /// The image as CHW floats in [-1, 1].
    public func pixels(_ i: Int) throws -> [Float] {
        let image = try Image(contentsOf: url(i)).grayscale().centerSquare().resized(width: resolution, height: resolution)
        return VaeImageProcessor.pixels(gray: image, channels: channels)
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
        var problems = [String?](repeating: nil, count: indices.count)
        problems.withUnsafeMutableBufferPointer { slots in
            let slots = UncheckedSendable(slots)
            DispatchQueue.concurrentPerform(iterations: indices.count) { k in
                let i = indices.lowerBound + k
                do { _ = try Image(contentsOf: url(i)) } catch {
                    slots.value[k] = "\(error) (manifest line \(records[i].line))"
                }
            }
        }
        return problems.compactMap { $0 }
    }
}

/// A buffer whose slots distinct threads write, one slot each.
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
