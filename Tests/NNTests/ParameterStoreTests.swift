import Foundation
import Testing
@testable import NN
import TestSupport
@testable import Torch

/// A two-layer model whose names look like diffusers keys.
final class TinyBlock: Module {
    let proj: Linear
    let norm: GroupNorm
    let conv: Conv2d
    init(_ path: ParameterPath) {
        proj = Linear(path / "proj", 4, 8)
        norm = GroupNorm(path / "norms" / 0, groups: 2, channels: 8)
        conv = Conv2d(path / "conv", 8, 8, kernelSize: 3, padding: 1)
    }
}

@Suite struct ParameterStoreTests {
    /// This test's own random numbers (libtorch's global generator is shared by tests that run in parallel).
    let rng = Generator(seed: 3)

    @Test func namesAreDottedPaths() {
        let store = ParameterStore()
        _ = TinyBlock(store.root / "down_blocks" / 0)
        #expect(store.names == [
            "down_blocks.0.proj.weight", "down_blocks.0.proj.bias",
            "down_blocks.0.norms.0.weight", "down_blocks.0.norms.0.bias",
            "down_blocks.0.conv.weight", "down_blocks.0.conv.bias",
        ])
        #expect(store["down_blocks.0.conv.weight"]?.shape == [8, 8, 3, 3])
        #expect(store.parameterCount == 4 * 8 + 8 + 8 + 8 + 8 * 8 * 9 + 8)
    }

    @Test func strictLoadListsEveryMissingUnexpectedAndMismatchedKey() {
        let store = ParameterStore()
        _ = TinyBlock(store.root)
        var given = Dictionary(uniqueKeysWithValues: store.stateDict().map { ($0.name, $0.tensor.detach().clone()) })
        given["proj.bias"] = nil
        given["norms.0.weight"] = nil
        given["conv.weight"] = Tensor.zeros([8, 8, 1, 1])
        given["extra.weight"] = Tensor.zeros([1])
        do {
            try store.load(given, source: "unet/diffusion_pytorch_model.safetensors")
            Issue.record("expected a StateDictError")
        } catch let error as StateDictError {
            #expect(error.missing.sorted() == ["norms.0.weight", "proj.bias"])
            #expect(error.unexpected == ["extra.weight"])
            #expect(error.description == "unet/diffusion_pytorch_model.safetensors: 2 keys missing (proj.bias, norms.0.weight); "
                + "1 unexpected keys (extra.weight); 1 shape mismatches (conv.weight: file [8, 8, 1, 1], model [8, 8, 3, 3])")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func loadCopiesValuesIntoTheSameTensorsModulesHold() throws {
        let store = ParameterStore()
        let block = TinyBlock(store.root)
        let given = Dictionary(uniqueKeysWithValues: store.stateDict().map { ($0.name, $0.tensor.onesLike() * 0.5) })
        try store.load(given, source: "test")
        #expect(block.proj.weight.floats().allSatisfy { $0 == 0.5 })
        #expect(block.proj.weight.requiresGrad)
    }

    @Test func legacyVAEAttentionNamesAreAccepted() throws {
        let store = ParameterStore()
        let attention = store.root / "encoder" / "mid_block" / "attentions" / 0
        _ = Linear(attention / "to_q", 4, 4)
        _ = Linear(attention / "to_out" / 0, 4, 4)
        let legacy: [String: Tensor] = [
            "encoder.mid_block.attentions.0.query.weight": Tensor.ones([4, 4, 1, 1]),
            "encoder.mid_block.attentions.0.query.bias": Tensor.ones([4]),
            "encoder.mid_block.attentions.0.proj_attn.weight": Tensor.ones([4, 4]),
            "encoder.mid_block.attentions.0.proj_attn.bias": Tensor.ones([4]),
        ]
        try store.load(legacy, source: "vae", aliases: .legacyVAEAttention)
        #expect(store["encoder.mid_block.attentions.0.to_q.weight"]!.sum().item() == 16)
        #expect(throws: StateDictError.self) { try store.load(legacy, source: "vae") }
    }

    @Test func freezingSelectsTrainableParameters() {
        let store = ParameterStore()
        _ = TinyBlock(store.root)
        store.freeze(prefix: "conv")
        #expect(store.trainableNames == ["proj.weight", "proj.bias", "norms.0.weight", "norms.0.bias"])
        #expect(!store["conv.weight"]!.requiresGrad)
        store.unfreeze()
        #expect(store.trainableParameters.count == 6)
    }

    @Test func dtypeConversionKeepsModuleReferences() {
        let store = ParameterStore()
        let block = TinyBlock(store.root)
        store.to(dtype: .bfloat16)
        #expect(block.conv.weight.dtype == .bfloat16)
        let y = block.conv(Tensor.randn([1, 8, 4, 4], generator: rng).to(.bfloat16))
        #expect(y.shape == [1, 8, 4, 4])
    }

    @Test func layersComputeLikeTheirFunctionalForms() {
        let store = ParameterStore(seed: 3)
        let linear = Linear(store.root / "l", 3, 2)
        let x = Tensor.randn([5, 3], generator: rng)
        let expected = x.matmul(linear.weight.transpose(0, 1)) + linear.bias!
        #expect(relativeError(linear(x).floats(), expected.floats().map(Double.init)) < 1e-6)
        // PyTorch's default init bound 1/sqrt(fan_in).
        #expect(linear.weight.abs().max().item() <= 1 / 3.0.squareRoot())
        let embedding = Embedding(store.root / "e", count: 10, dimension: 4)
        #expect(embedding(Tensor(ints: [1, 9])).shape == [2, 4])
        let dropout = Dropout(store.root, p: 0.5)
        let ones = Tensor.ones([1000])
        #expect(dropout(ones).floats() == ones.floats())
        store.isTraining = true
        let dropped = GlobalGenerator.exclusive { dropout(ones).floats() }  // dropout draws from the global generator
        #expect(dropped.contains(0) && dropped.contains(2))
    }

    @Test func sameSeedBuildsTheSameModel() {
        let a = ParameterStore(seed: 11), b = ParameterStore(seed: 11)
        _ = TinyBlock(a.root)
        _ = TinyBlock(b.root)
        #expect(a["conv.weight"]!.floats() == b["conv.weight"]!.floats())
    }
}

@Suite struct StateDictFileTests {
    @Test func savesAndLoadsAsSafetensors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prism-nn-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        let a = ParameterStore(seed: 1)
        _ = TinyBlock(a.root)
        try a.save(to: url, metadata: ["format": "pt"])
        let b = ParameterStore(seed: 2)
        _ = TinyBlock(b.root)
        #expect(a["conv.weight"]!.floats() != b["conv.weight"]!.floats())
        try b.load(contentsOf: url)
        for name in a.names { #expect(a[name]!.floats() == b[name]!.floats(), "\(name)") }
        // Half-precision export keeps names and converts values.
        let half = dir.appendingPathComponent("model.fp16.safetensors")
        try a.save(to: half, dtype: .float16)
        let file = try SafetensorsFile(url: half)
        #expect(file.info("conv.weight")?.dtype == .F16)
        let c = ParameterStore()
        _ = TinyBlock(c.root)
        try c.load(contentsOf: half)
        #expect(c["conv.weight"]!.dtype == .float32)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["model.fp16.safetensors", "model.safetensors"])
    }

    @Test func loadNamesTheFileInItsError() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("prism-nn-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try Safetensors.save([(name: "other", tensor: Tensor.ones([2]))], to: url)
        let store = ParameterStore()
        _ = Linear(store.root / "l", 2, 2)
        do {
            try store.load(contentsOf: url)
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".hasPrefix(url.path + ": 2 keys missing (l.weight, l.bias)"))
        }
    }
}
