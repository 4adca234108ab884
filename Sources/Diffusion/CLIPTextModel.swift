// CLIP's text encoder as transformers' CLIPTextModel builds it: token + position embeddings, pre-norm
// transformer layers with causal self-attention, and a final layer norm whose output is what Stable Diffusion
// conditions the UNet on. Parameter names are transformers' checkpoint keys (`text_model.encoder.layers.0...`).
import DiffusersConfig
import Foundation
import NN
import Torch

/// transformers' ACT2FN entries that CLIP checkpoints use.
public enum CLIPActivation: Sendable {
    case quickGELU, gelu, geluTanh, relu, silu

    static let names = CLIPTextConfig.activationNames

    public init?(name: String) {
        switch name {
        case "quick_gelu": self = .quickGELU
        case "gelu": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": self = .geluTanh
        case "relu": self = .relu
        case "silu", "swish": self = .silu
        default: return nil
        }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        // OpenAI CLIP's approximation: x · σ(1.702 x).
        case .quickGELU: return x * (x * 1.702).sigmoid()
        case .gelu: return x.gelu()
        case .geluTanh: return x.gelu(approximate: true)
        case .relu: return x.relu()
        case .silu: return x.silu()
        }
    }
}

public final class CLIPTextEmbeddings: Module {
    public let tokenEmbedding: Embedding
    public let positionEmbedding: Embedding

    public init(_ config: CLIPTextConfig, _ path: ParameterPath) {
        tokenEmbedding = Embedding(path / "token_embedding", count: config.vocabSize, dimension: config.hiddenSize)
        positionEmbedding = Embedding(path / "position_embedding", count: config.maxPositionEmbeddings, dimension: config.hiddenSize)
    }

    /// ids (batch × length, int64) → batch × length × hidden. Positions are 0..<length.
    public func callAsFunction(_ inputIDs: Tensor) -> Tensor {
        let length = inputIDs.size(-1)
        precondition(length <= positionEmbedding.weight.size(0),
                     "CLIPTextEmbeddings: \(length) tokens, more than max_position_embeddings \(positionEmbedding.weight.size(0))")
        return tokenEmbedding(inputIDs) + positionEmbedding.weight.slice(dim: 0, start: 0, end: length)
    }
}

/// Multi-head self-attention with CLIP's causal mask (each token sees itself and the tokens before it).
public final class CLIPAttention: Module {
    public let qProj: Linear, kProj: Linear, vProj: Linear, outProj: Linear
    public let heads: Int

    public init(_ config: CLIPTextConfig, _ path: ParameterPath) {
        let d = config.hiddenSize
        kProj = Linear(path / "k_proj", d, d)
        vProj = Linear(path / "v_proj", d, d)
        qProj = Linear(path / "q_proj", d, d)
        outProj = Linear(path / "out_proj", d, d)
        heads = config.numAttentionHeads
    }

    public func callAsFunction(_ x: Tensor, causal: Bool = true) -> Tensor {
        let (b, n, d) = (x.size(0), x.size(1), x.size(2))
        func split(_ t: Tensor) -> Tensor { t.reshape([b, n, heads, d / heads]).transpose(1, 2) }
        let out = F.scaledDotProductAttention(query: split(qProj(x)), key: split(kProj(x)), value: split(vProj(x)),
                                              isCausal: causal)
        return outProj(out.transpose(1, 2).reshape([b, n, d]))
    }
}

public final class CLIPMLP: Module {
    public let fc1: Linear, fc2: Linear
    public let activation: CLIPActivation

    public init(_ config: CLIPTextConfig, _ path: ParameterPath) {
        fc1 = Linear(path / "fc1", config.hiddenSize, config.intermediateSize)
        fc2 = Linear(path / "fc2", config.intermediateSize, config.hiddenSize)
        activation = CLIPActivation(name: config.hiddenAct) ?? .quickGELU
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { fc2(activation(fc1(x))) }
}

/// Pre-norm residual block: x + attn(norm1(x)), then x + mlp(norm2(x)).
public final class CLIPEncoderLayer: Module {
    public let selfAttn: CLIPAttention
    public let layerNorm1: LayerNorm
    public let mlp: CLIPMLP
    public let layerNorm2: LayerNorm

    public init(_ config: CLIPTextConfig, _ path: ParameterPath) {
        selfAttn = CLIPAttention(config, path / "self_attn")
        layerNorm1 = LayerNorm(path / "layer_norm1", config.hiddenSize, eps: config.layerNormEps)
        mlp = CLIPMLP(config, path / "mlp")
        layerNorm2 = LayerNorm(path / "layer_norm2", config.hiddenSize, eps: config.layerNormEps)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let h = x + selfAttn(layerNorm1(x))
        return h + mlp(layerNorm2(h))
    }
}

public final class CLIPEncoder: Module {
    public let layers: [CLIPEncoderLayer]

    public init(_ config: CLIPTextConfig, _ path: ParameterPath) {
        layers = (0..<config.numHiddenLayers).map { CLIPEncoderLayer(config, path / "layers" / $0) }
    }

    /// Runs the first `count` layers (all by default).
    public func callAsFunction(_ x: Tensor, layerCount count: Int? = nil) -> Tensor {
        layers.prefix(count ?? layers.count).reduce(x) { h, layer in layer(h) }
    }
}

public final class CLIPTextTransformer: Module {
    public let embeddings: CLIPTextEmbeddings
    public let encoder: CLIPEncoder
    public let finalLayerNorm: LayerNorm

    public init(_ config: CLIPTextConfig, _ path: ParameterPath) {
        embeddings = CLIPTextEmbeddings(config, path / "embeddings")
        encoder = CLIPEncoder(config, path / "encoder")
        finalLayerNorm = LayerNorm(path / "final_layer_norm", config.hiddenSize, eps: config.layerNormEps)
    }

    public func callAsFunction(_ inputIDs: Tensor, clipSkip: Int = 0) -> Tensor {
        let layers = encoder.layers.count
        precondition(clipSkip >= 0 && clipSkip < layers, "clipSkip \(clipSkip) out of 0..<\(layers)")
        return finalLayerNorm(encoder(embeddings(inputIDs), layerCount: layers - clipSkip))
    }
}

/// transformers' `CLIPTextModel`: token ids → per-token embeddings for the UNet's cross-attention.
public final class CLIPTextModel: Module {
    public let config: CLIPTextConfig
    public let store: ParameterStore
    public let textModel: CLIPTextTransformer

    /// A model with freshly initialised parameters registered in `store` under `text_model.*`.
    public init(_ config: CLIPTextConfig, store: ParameterStore = ParameterStore()) {
        self.config = config
        self.store = store
        textModel = CLIPTextTransformer(config, store.root / "text_model")
    }

    /// `last_hidden_state` through the final layer norm (batch × length × hidden), what Stable Diffusion uses.
    /// `clipSkip` as diffusers' `clip_skip`: skip that many last layers, still applying the final layer norm.
    /// `inputIDs` are int64 (batch × length); they are moved to the model's device.
    public func callAsFunction(_ inputIDs: Tensor, clipSkip: Int = 0) -> Tensor {
        let ids = inputIDs.dtype == .int64 && inputIDs.device == store.device ? inputIDs : inputIDs.to(.int64, store.device)
        return textModel(ids.rank == 1 ? ids.unsqueeze(0) : ids, clipSkip: clipSkip)
    }

    /// The hidden state at each sequence's first end token (transformers' `pooler_output`); with the legacy
    /// `eos_token_id == 2` configs, at the highest id, as transformers does.
    public func pooledOutput(_ lastHiddenState: Tensor, inputIDs: Tensor) -> Tensor {
        let ids = inputIDs.to(.int64, lastHiddenState.device)
        let marks = config.eosTokenId == 2 ? ids.to(.float64) : ids.eq(Double(config.eosTokenId)).to(.float32)
        let index = marks.argmax(dim: -1)
        let (b, d) = (lastHiddenState.size(0), lastHiddenState.size(2))
        return lastHiddenState.gather(dim: 1, index: index.reshape([b, 1, 1]).expand([b, 1, d])).squeeze(1)
    }

    /// Loads a `text_encoder/` folder: `config.json` and `model[.variant].safetensors`, strictly. Accepts the
    /// layout transformers 4.x wrote (keys under `text_model.`, with a `position_ids` buffer, as in Stable
    /// Diffusion checkpoints) and transformers 5's (keys without the prefix).
    public static func load(
        from folder: URL, dtype: DType = .float32, device: Device = .cpu, variant: String? = nil
    ) throws -> CLIPTextModel {
        let config = try DiffusersFolder.config(CLIPTextConfig.self, in: folder)
        let file = try DiffusersFolder.weightFile(in: folder, variant: variant)
        let store = ParameterStore(dtype: dtype, device: device)
        store.skipsInitialization = true
        let model = CLIPTextModel(config, store: store)
        // Each tensor's mapped pages go back once copied, as ParameterStore.load(contentsOf:) does.
        let weights = try SafetensorsFile(url: file, mode: .copyOnWrite)
        try model.store.load(checkpointTensors(weights.allTensors()), source: file.path) { weights.releasePages(of: $0) }
        return model
    }

    /// Checkpoint keys as this model names them: under `text_model.`, without the position-ids buffer that
    /// older checkpoints carry (it is always 0..<max_position_embeddings).
    static func checkpointTensors(_ tensors: [String: Tensor]) -> [String: Tensor] {
        let prefix = "text_model."
        let prefixed = tensors.keys.contains { $0.hasPrefix(prefix) }
        var result: [String: Tensor] = [:]
        for (key, tensor) in tensors {
            let name = prefixed ? key : prefix + key
            if name == prefix + "embeddings.position_ids" { continue }
            result[name] = tensor
        }
        return result
    }
}
