import Counterfactual
import Diffusion
import Foundation
import Imaging
import Phantom
import Torch

/// How well a model's VAE reproduces phantom X-rays it never saw: PSNR of decode(encode(x)) against x.
public enum ReconstructionEvaluation {
    public struct Result: Sendable, Codable {
        public var count: Int
        public var meanPSNR: Double
        public var minPSNR: Double
        public var maxPSNR: Double
    }

    /// Cases 0..<count of phantom set `seed`, at the VAE's resolution, `batch` at a time.
    public static func run(vae: AutoencoderKL, resolution: Int, seed: UInt64, count: Int, batch: Int = 8,
                           each: (Int, Plane, Plane) -> Void = { _, _, _ in },
                           progress: (Int, Int) -> Void = { _, _ in }) -> Result {
        var psnrs: [Double] = []
        var index = 0
        while index < count {
            let n = min(batch, count - index)
            let planes = (index..<(index + n)).map { Plane(gray: PhantomCase(seed: seed, index: $0, size: resolution).render().image) }
            let x = VaeImageProcessor.preprocess(grayPlanes: planes.map(\.values), width: resolution, height: resolution)
            let y = withNoGrad { vae.decode(vae.encode(x).mean).to(.float32).to(.cpu) }
            for i in 0..<n {
                let reconstruction = Plane(width: resolution, height: resolution, values: VaeImageProcessor.grayValues(y[i]))
                psnrs.append(EditMetrics.psnr(reconstruction, planes[i]))
                each(index + i, planes[i], reconstruction)
            }
            index += n
            progress(index, count)
        }
        return Result(count: psnrs.count, meanPSNR: psnrs.reduce(0, +) / Double(psnrs.count), minPSNR: psnrs.min() ?? 0,
                      maxPSNR: psnrs.max() ?? 0)
    }

    /// Input, reconstruction and their absolute difference (×4, so that lost thin lines show) side by side.
    public static func sideBySide(_ input: Plane, _ reconstruction: Plane) -> Plane {
        let difference = Plane(width: input.width, height: input.height,
                               values: zip(reconstruction.values, input.values).map { min(4 * abs($0 - $1), 1) })
        return Plane.grid([[input, reconstruction, difference]])
    }
}
