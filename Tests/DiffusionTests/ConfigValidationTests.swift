import Foundation
import Testing
@testable import Diffusion

/// Config values that would divide by zero or build empty layers deep inside a model are refused while reading
/// the config, with the key named (found by fuzzing the config readers: norm_num_groups 0 trapped).
@Suite struct ConfigValidationTests {
    func problem<T: Decodable>(_ type: T.Type, _ json: String) -> String? {
        do {
            _ = try ConfigFile.decode(T.self, from: Data(json.utf8), source: "unet/config.json")
            return nil
        } catch { return "\(error)" }
    }

    @Test func zerosAndNonFiniteValuesAreRefusedByKey() {
        let unet: [(String, String)] = [
            (#"{"norm_num_groups": 0}"#, "norm_num_groups"), (#"{"block_out_channels": [320, 0, 1280, 1280]}"#, "block_out_channels"),
            (#"{"layers_per_block": 0}"#, "layers_per_block"), (#"{"in_channels": -4}"#, "in_channels"),
            (#"{"cross_attention_dim": 0}"#, "cross_attention_dim"), (#"{"norm_eps": NaN}"#, "norm_eps"),
            (#"{"sample_size": 0}"#, "sample_size"),
        ]
        for (json, key) in unet {
            let message = problem(UNet2DConditionConfig.self, json)
            #expect(message?.contains("unet/config.json") == true && message?.contains(key) == true, "\(json): \(message ?? "accepted")")
        }
        #expect(problem(UNet2DConditionConfig.self, "{}") == nil, "the defaults are SD 1.5's and valid")
        let vae: [(String, String)] = [(#"{"norm_num_groups": 0}"#, "norm_num_groups"), (#"{"latent_channels": 0}"#, "latent_channels"),
                                       (#"{"scaling_factor": Infinity}"#, "scaling_factor")]
        for (json, key) in vae {
            let message = problem(AutoencoderKLConfig.self, json)
            #expect(message?.contains(key) == true, "\(json): \(message ?? "accepted")")
        }
        #expect(problem(AutoencoderKLConfig.self, "{}") == nil)
        let clip = problem(CLIPTextConfig.self, #"{"hidden_size": 0}"#)
        #expect(clip?.contains("hidden_size") == true, "\(clip ?? "accepted")")
        #expect(problem(CLIPTextConfig.self, #"{"layer_norm_eps": -1}"#)?.contains("layer_norm_eps") == true)
    }
}
