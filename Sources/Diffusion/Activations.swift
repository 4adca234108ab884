import DiffusersConfig
import Torch

extension Activation {
    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .silu, .swish: x.silu()
        case .mish: x.mish()
        case .gelu: x.gelu()
        case .relu: x.relu()
        }
    }
}
