import Imaging
import Torch

/// diffusers' `VaeImageProcessor` for Prism's images: pixels in [0, 1] (8-bit gray or RGB `Image`s, gray planes)
/// to NCHW tensors in [−1, 1] for the VAE (`normalize`: 2x − 1), and decoded tensors back to pixels (`denormalize`:
/// x / 2 + 0.5, clamped to [0, 1]). Gray images go in as three equal channels and come out as the channel mean
/// (or the first channel, for images that were gray going in). Latent scaling stays with the VAE and the pipeline,
/// as in diffusers.
public enum VaeImageProcessor {
    // MARK: Pixels → tensors

    /// [0, 1] → [−1, 1]: diffusers' `normalize`, 2x − 1.
    public static func normalize(_ values: [Float]) -> [Float] { values.map { $0 * 2 - 1 } }

    /// Gray planes of `width` × `height` values in [0, 1] → [N, channels, H, W] in [−1, 1], the plane on every channel.
    public static func preprocess(grayPlanes planes: [[Float]], width: Int, height: Int, channels: Int = 3) -> Tensor {
        let n = planes.count
        return Tensor(planes.flatMap(normalize), shape: [n, 1, height, width])
            .expand([n, channels, height, width]).contiguous()
    }

    /// A gray image as CHW floats in [−1, 1] for a data loader: its plane on each of `channels` channels.
    public static func pixels(gray image: Image, channels: Int) -> [Float] {
        pixels(grayPlane: image.plane(0), channels: channels)
    }

    /// A gray plane in [0, 1] as CHW floats in [−1, 1]: the plane on each of `channels` channels.
    public static func pixels(grayPlane plane: [Float], channels: Int) -> [Float] {
        Array([[Float]](repeating: normalize(plane), count: channels).joined())
    }

    /// An RGB image → [1, 3, H, W] in [−1, 1].
    public static func preprocess(rgb image: Image) -> Tensor {
        let hwc = Tensor(image.floats(), shape: [image.height, image.width, 3])
        return (hwc.permute(2, 0, 1).unsqueeze(0) * 2 - 1).contiguous()
    }

    // MARK: Tensors → pixels

    /// [−1, 1] → [0, 1]: diffusers' `denormalize`, (x / 2 + 0.5) clamped.
    public static func denormalize(_ images: Tensor) -> Tensor { (images / 2 + 0.5).clamp(min: 0, max: 1) }

    /// Values that `normalize` made, back in [0, 1].
    public static func denormalize(_ values: [Float]) -> [Float] { values.map { ($0 + 1) / 2 } }

    /// How a decoded [C, H, W] image becomes one gray plane.
    public enum GrayReduction: Sendable {
        /// The mean of the channels (a model's RGB output of a gray image).
        case channelMean
        /// The first channel.
        case firstChannel
    }

    /// A decoded image, [C, H, W] or [1, C, H, W] in [−1, 1], as gray values in [0, 1] (row-major H × W).
    public static func grayValues(_ image: Tensor, _ reduction: GrayReduction = .channelMean) -> [Float] {
        let chw = image.rank == 4 ? image[0] : image
        let gray = switch reduction {
        case .channelMean: chw.to(.float32).mean(dim: 0)
        case .firstChannel: chw.to(.float32)[0]
        }
        return denormalize(gray).to(.cpu).contiguous().floats()
    }

    /// A [3, H, W] tensor in [0, 1] as an 8-bit RGB image, rounded as diffusers' `numpy_to_pil`.
    public static func rgbImage(_ chw: Tensor) -> Image {
        let hwc = chw.permute(1, 2, 0).contiguous()
        return Image(floats: hwc.floats(), width: chw.size(2), height: chw.size(1), channels: 3)
    }
}
