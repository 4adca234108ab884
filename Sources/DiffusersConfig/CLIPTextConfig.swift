import Core
import Foundation

/// transformers' `CLIPTextConfig`, read from `text_encoder/config.json`, with its defaults for absent fields.
public struct CLIPTextConfig: Codable, Sendable, Equatable {
    public var vocabSize = 49408
    public var hiddenSize = 512
    public var intermediateSize = 2048
    public var projectionDim = 512
    public var numHiddenLayers = 12
    public var numAttentionHeads = 8
    public var maxPositionEmbeddings = 77
    /// `quick_gelu` in Stable Diffusion 1.x (OpenAI CLIP), `gelu` in 2.x (OpenCLIP).
    public var hiddenAct = "quick_gelu"
    public var layerNormEps = 1e-5
    public var attentionDropout = 0.0
    public var padTokenId = 1
    public var bosTokenId = 49406
    public var eosTokenId = 49407
    /// Fields of the file that Prism does not model (`architectures`, `dtype`, ...), written back as read.
    public var otherFields: OtherFields = [:]

    /// The `hidden_act` names transformers' ACT2FN gives the activations CLIP checkpoints use.
    public static let activationNames = ["quick_gelu", "gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu", "silu", "swish"]

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case projectionDim = "projection_dim", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", maxPositionEmbeddings = "max_position_embeddings"
        case hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps", attentionDropout = "attention_dropout"
        case padTokenId = "pad_token_id", bosTokenId = "bos_token_id", eosTokenId = "eos_token_id"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = CLIPTextConfig()
        otherFields = try decoder.otherFields(besides: CodingKeys.self)
        vocabSize = try c.value(.vocabSize, default: d.vocabSize)
        hiddenSize = try c.value(.hiddenSize, default: d.hiddenSize)
        intermediateSize = try c.value(.intermediateSize, default: d.intermediateSize)
        projectionDim = try c.value(.projectionDim, default: d.projectionDim)
        numHiddenLayers = try c.value(.numHiddenLayers, default: d.numHiddenLayers)
        numAttentionHeads = try c.value(.numAttentionHeads, default: d.numAttentionHeads)
        maxPositionEmbeddings = try c.value(.maxPositionEmbeddings, default: d.maxPositionEmbeddings)
        hiddenAct = try c.value(.hiddenAct, default: d.hiddenAct)
        layerNormEps = try c.value(.layerNormEps, default: d.layerNormEps)
        attentionDropout = try c.value(.attentionDropout, default: d.attentionDropout)
        padTokenId = try c.value(.padTokenId, default: d.padTokenId)
        bosTokenId = try c.value(.bosTokenId, default: d.bosTokenId)
        // Some configs give a list of end tokens; the first is the one the tokenizer appends.
        if let list = try? c.decodeIfPresent([Int].self, forKey: .eosTokenId), let first = list.first {
            eosTokenId = first
        } else {
            eosTokenId = try c.value(.eosTokenId, default: d.eosTokenId)
        }
        guard Self.activationNames.contains(hiddenAct) else {
            throw DecodingError.dataCorruptedError(forKey: .hiddenAct, in: c, debugDescription:
                "unsupported activation \"\(hiddenAct)\" (supported: \(Self.activationNames.joined(separator: ", ")))")
        }
        for (key, value) in [(CodingKeys.vocabSize, vocabSize), (.hiddenSize, hiddenSize), (.intermediateSize, intermediateSize),
                             (.numHiddenLayers, numHiddenLayers), (.maxPositionEmbeddings, maxPositionEmbeddings)] {
            try c.requirePositive(key, [value])
        }
        try c.requirePositiveFinite(.layerNormEps, layerNormEps)
        guard numAttentionHeads > 0, hiddenSize % numAttentionHeads == 0 else {
            throw DecodingError.dataCorruptedError(forKey: .numAttentionHeads, in: c, debugDescription:
                "hidden_size \(hiddenSize) is not divisible by num_attention_heads \(numAttentionHeads)")
        }
    }

    /// The keys transformers' `save_pretrained` writes for these fields (`model_type` included, which
    /// `AutoConfig` needs); the others as read.
    public func encode(to encoder: any Encoder) throws {
        try encoder.encodeOtherFields(otherFields, besides: CodingKeys.self)
        var o = encoder.container(keyedBy: AnyCodingKey.self)
        try o.encode(otherFields["model_type"] ?? .string("clip_text_model"), forKey: AnyCodingKey("model_type"))
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(intermediateSize, forKey: .intermediateSize)
        try c.encode(projectionDim, forKey: .projectionDim)
        try c.encode(numHiddenLayers, forKey: .numHiddenLayers)
        try c.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try c.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings)
        try c.encode(hiddenAct, forKey: .hiddenAct)
        try c.encode(JSONFloat(layerNormEps), forKey: .layerNormEps)
        try c.encode(JSONFloat(attentionDropout), forKey: .attentionDropout)
        try c.encode(padTokenId, forKey: .padTokenId)
        try c.encode(bosTokenId, forKey: .bosTokenId)
        try c.encode(eosTokenId, forKey: .eosTokenId)
    }
}
