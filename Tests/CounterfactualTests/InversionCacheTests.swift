import Foundation
import Imaging
import Testing
import Torch
@testable import Counterfactual

/// The inversion cache: every setting that changes an inversion is in its key, none that does not, and an edit
/// made from a cached inversion is the edit made from a fresh one.
@Suite struct InversionCacheTests {
    let source = "Chest X-ray of a 70-year-old female with cardiomegaly and support devices"
    let target = "Chest X-ray of a 70-year-old female with cardiomegaly"

    func image() -> Plane {
        Plane(width: 64, height: 64, values: (0..<4096).map { i in Float((i % 64) + (i / 64)) / 126 })
    }

    func settings() -> EditSettings {
        var s = EditSettings()
        s.method = .nullText
        s.steps = 4
        s.nullTextInnerSteps = 2
        s.maskThreshold = 0.9
        s.feather = 4
        return s
    }

    func scratch() -> URL { FileManager.default.temporaryDirectory.appendingPathComponent("prism-cache-\(UUID().uuidString)") }

    @Test func everySettingThatChangesTheInversionIsInTheKey() throws {
        let folder = scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let editor = CounterfactualEditor(model: try ToyEditingModel(), cache: InversionCache(folder: folder))
        let base = settings()
        _ = try editor.edit(image: image(), source: source, targets: [target], settings: base)
        func fromCache(_ s: EditSettings, image: Plane? = nil, source: String? = nil) throws -> Bool {
            try editor.edit(image: image ?? self.image(), source: source ?? self.source, targets: [target], settings: s)
                .inversionFromCache
        }
        #expect(try fromCache(base))

        var variants: [(String, EditSettings)] = []
        var s = base; s.guidance = 5; variants.append(("guidance", s))
        s = base; s.nullTextInnerSteps = 3; variants.append(("inner steps", s))
        s = base; s.nullTextEpsilon = 1e-3; variants.append(("epsilon", s))
        s = base; s.steps = 5; variants.append(("steps", s))
        s = base; s.method = .direct; variants.append(("method", s))
        for (name, variant) in variants {
            #expect(try !fromCache(variant), "a different \(name) must invert again")
        }
        #expect(try !fromCache(base, source: "Chest X-ray of a 71-year-old female with cardiomegaly and support devices"),
                "a different source prompt must invert again")
        var shifted = image()
        shifted.values[0] += 0.5
        #expect(try !fromCache(base, image: shifted), "a different image must invert again")

        // Settings of the edit alone reuse the inversion.
        var editOnly = base
        editOnly.crossReplace = 0.4
        editOnly.maskThreshold = 0.5
        editOnly.feather = 3
        #expect(try fromCache(editOnly), "settings of the edit alone reuse the inversion")
    }

    /// The model's identity carries the dtype and device: a bf16 inversion is not served to an fp32 run.
    @Test func theModelIdentityNamesItsDTypeAndDevice() throws {
        let tiny = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("DiffusionTests/Fixtures/pipeline-tiny")
        let fp32 = try StableDiffusionEditingModel.load(from: tiny, dtype: .float32)
        let again = try StableDiffusionEditingModel.load(from: tiny, dtype: .float32)
        let bf16 = try StableDiffusionEditingModel.load(from: tiny, dtype: .bfloat16)
        #expect(fp32.identity == again.identity)
        #expect(fp32.identity != bf16.identity)
        let key = { (identity: String) in
            InversionCache.key(image: Tensor.zeros([1, 3, 8, 8]), modelIdentity: identity, settings: EditSettings().inversionKey)
        }
        #expect(key(fp32.identity) != key(bf16.identity))
    }

    @Test func anEditFromACachedInversionIsTheFreshEdit() throws {
        let folder = scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let fresh = try CounterfactualEditor(model: try ToyEditingModel(), cache: nil)
            .edit(image: image(), source: source, targets: [target], settings: settings())
        let cached = CounterfactualEditor(model: try ToyEditingModel(), cache: InversionCache(folder: folder))
        _ = try cached.edit(image: image(), source: source, targets: [target], settings: settings())
        let hit = try cached.edit(image: image(), source: source, targets: [target], settings: settings())
        let fromCache = hit.inversionFromCache, sameReconstruction = hit.reconstruction == fresh.reconstruction
        let sameEdit = hit.edits[0].image == fresh.edits[0].image
        #expect(fromCache && sameReconstruction && sameEdit)
        #expect(hit.nullTextLosses == fresh.nullTextLosses)
    }

    /// With a feathered mask the edit fades in at its border, and where the feathered mask is 0 the output is still
    /// the input, exactly.
    @Test func outsideAFeatheredMaskTheOutputIsTheInput() throws {
        var s = settings()
        s.method = .direct
        s.feather = 4
        let out = try CounterfactualEditor(model: try ToyEditingModel(), cache: nil)
            .edit(image: image(), source: source, targets: [target], settings: s)
        let edit = out.edits[0], mask = try #require(edit.mask)
        let outside = mask.values.indices.filter { mask.values[$0] == 0 }
        let border = mask.values.indices.filter { mask.values[$0] > 0 && mask.values[$0] < 1 }
        #expect(!outside.isEmpty && !border.isEmpty, "the feathered mask has an outside and a soft border")
        #expect(outside.allSatisfy { edit.image.values[$0] == image().values[$0] })
        // On the border the output lies between the input and the model's edit.
        #expect(border.allSatisfy { i in
            let lo = min(image().values[i], edit.raw.values[i]) - 1e-6, hi = max(image().values[i], edit.raw.values[i]) + 1e-6
            return (lo...hi).contains(edit.image.values[i])
        })
    }
}
