import Foundation
import NN
import Testing
import Torch
@testable import Diffusion

@Suite struct DiffusersFolderTests {
    struct TinyConfig: Decodable {
        let width: Int
        let eps: Double
        enum CodingKeys: String, CodingKey { case width, eps = "norm_eps" }
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            width = try c.decode(Int.self, forKey: .width)
            eps = try c.value(.eps, default: 1e-5)
        }
    }

    /// The caller removes the folder.
    func tempFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("prism-folder-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func configFillsDefaultsAndNamesTheFileWhenInvalid() throws {
        let folder = try tempFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data(#"{"width": 8}"#.utf8).write(to: folder.appendingPathComponent("config.json"))
        let config = try DiffusersFolder.config(TinyConfig.self, in: folder)
        #expect(config.width == 8 && config.eps == 1e-5)

        try Data(#"{"norm_eps": 0.1}"#.utf8).write(to: folder.appendingPathComponent("config.json"))
        let error = #expect(throws: ModelFolderError.self) { try DiffusersFolder.config(TinyConfig.self, in: folder) }
        #expect(error?.description.contains("config.json") == true)
        #expect(error?.description.contains("width") == true)
    }

    @Test func missingConfigSaysWhichFile() throws {
        let folder = try tempFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let error = #expect(throws: ModelFolderError.self) { try DiffusersFolder.config(TinyConfig.self, in: folder) }
        #expect(error?.path.hasSuffix("config.json") == true)
    }

    @Test func weightFilePrefersThePlainNameThenAVariant() throws {
        let folder = try tempFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let fp16 = folder.appendingPathComponent("diffusion_pytorch_model.fp16.safetensors")
        try Safetensors.save([(name: "w", tensor: Tensor.ones([2]))], to: fp16)
        #expect(try DiffusersFolder.weightFile(in: folder) == fp16)
        #expect(try DiffusersFolder.weightFile(in: folder, variant: "fp16") == fp16)
        #expect(throws: ModelFolderError.self) { try DiffusersFolder.weightFile(in: folder, variant: "bf16") }

        let plain = folder.appendingPathComponent("diffusion_pytorch_model.safetensors")
        try Safetensors.save([(name: "w", tensor: Tensor.ones([2]))], to: plain)
        #expect(try DiffusersFolder.weightFile(in: folder) == plain)
    }

    @Test func pickleOnlyFolderExplainsWhatToDo() throws {
        let folder = try tempFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data([0]).write(to: folder.appendingPathComponent("diffusion_pytorch_model.bin"))
        let error = #expect(throws: ModelFolderError.self) { try DiffusersFolder.weightFile(in: folder) }
        #expect(error?.problem.contains("safe_serialization") == true)
    }

    @Test func loadWeightsIsStrictAndConvertsDType() throws {
        let folder = try tempFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Safetensors.save([(name: "layer.weight", tensor: Tensor.full([2, 3], 0.5).to(.float16))],
                             to: folder.appendingPathComponent("model.safetensors"))
        let store = ParameterStore()
        let w = store.root.parameter("layer.weight", [2, 3], .zeros)
        try DiffusersFolder.loadWeights(into: store, from: folder)
        #expect(w.dtype == .float32 && w.floats() == Array(repeating: 0.5, count: 6))

        let other = ParameterStore()
        _ = other.root.parameter("layer.bias", [2], .zeros)
        #expect(throws: StateDictError.self) { try DiffusersFolder.loadWeights(into: other, from: folder) }
    }
}
