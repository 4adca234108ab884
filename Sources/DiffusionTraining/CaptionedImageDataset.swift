import Datasets
import Diffusion
import Foundation
import Training
import Imaging

/// Images and their captions, as a text-to-image model trains on them: each image as ``ImageDataset`` reads it
/// (gray, centred square, `resolution`), scaled to [-1, 1] and repeated over `channels` (3 for Stable Diffusion's
/// VAE); each caption made from the record by the caption template.
public struct CaptionedImageDataset: Sendable {
    public let images: ImageDataset
    public let channels: Int
    public let template: CaptionTemplate

    public init(records: [Record], imageRoot: URL, resolution: Int, channels: Int = 3, template: CaptionTemplate,
                window: DICOMWindow = .auto) {
        images = ImageDataset(records: records, imageRoot: imageRoot, resolution: resolution, window: window)
        self.channels = channels
        self.template = template
    }

    public var records: [Record] { images.records }
    public var imageRoot: URL { images.imageRoot }
    public var resolution: Int { images.resolution }
    public var count: Int { images.count }

    public func url(_ i: Int) -> URL { images.url(i) }

    public func caption(_ i: Int) -> String { template.caption(for: records[i]) }

    /// The image as CHW floats in [-1, 1].
    public func pixels(_ i: Int) throws -> [Float] {
        VaeImageProcessor.pixels(grayPlane: try images.plane(i), channels: channels)
    }

    /// See ``ImageDataset/checkFilesExist()``.
    public func checkFilesExist() throws { try images.checkFilesExist() }

    /// See ``ImageDataset/checkImagesDecode(progress:)``.
    public func checkImagesDecode(progress: (Int, Int) -> Void = { _, _ in }) throws {
        try images.checkImagesDecode(progress: progress)
    }
}
