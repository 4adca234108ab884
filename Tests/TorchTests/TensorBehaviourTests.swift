import Foundation
import TestSupport
import Testing
@testable import Torch

@Suite struct TensorBehaviourTests {
    /// This test's own random numbers (libtorch's global generator is shared by tests that run in parallel).
    let rng = Generator(seed: 5)

    @Test func mismatchedMatmulThrowsLibtorchMessageInsideCatching() {
        let a = Tensor.ones([2, 3]), b = Tensor.ones([4, 5])
        do {
            _ = try Torch.catching { a.matmul(b) }
            Issue.record("expected a TorchError")
        } catch let error as TorchError {
            #expect(error.op == "matmul")
            #expect(error.shapes == [[2, 3], [4, 5]])
            // libtorch's own words for this mistake.
            #expect(error.message.contains("cannot be multiplied"), "\(error.message)")
            #expect(error.description.hasPrefix("matmul([2, 3], [4, 5]): "))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func catchingKeepsTheFirstErrorAndReturnsNormallyWithoutOne() throws {
        let ok = try Torch.catching { (Tensor.ones([2]) + 1).sum().item() }
        #expect(ok == 4)
        #expect(throws: TorchError.self) {
            try Torch.catching {
                let bad = Tensor.ones([2, 3]).reshape([7])
                return bad + 1 // an op on the undefined result must not crash
            }
        }
    }

    @Test(arguments: DType.allCases)
    func roundTripsEveryDType(_ dtype: DType) {
        let values: [Float] = [0, 1, 2, 3, 4, 5]
        let t = Tensor(values, shape: [2, 3]).to(dtype)
        #expect(t.dtype == dtype)
        #expect(t.shape == [2, 3])
        #expect(t.bytes().count == 6 * dtype.byteSize)
        let expected: [Float] = dtype == .bool ? [0, 1, 1, 1, 1, 1] : values
        #expect(t.floats() == expected)
    }

    @Test func swiftArraysRoundTrip() {
        #expect(Tensor([1.5, -2.25] as [Double]).toArray(Double.self) == [1.5, -2.25])
        #expect(Tensor(ints: [3, -4, 5]).ints() == [3, -4, 5])
        #expect(Tensor([true, false]).toArray(Bool.self) == [true, false])
        #expect(Tensor([7, 8] as [UInt8]).dtype == .uint8)
        #expect(Tensor(scalar: 2.5).item() == 2.5)
    }

    @Test func creationMatchesTorchSemantics() {
        #expect(Tensor.arange(0, 5, dtype: .int64).ints() == [0, 1, 2, 3, 4])
        #expect(Tensor.arange(0, 1, step: 0.25).floats() == [0, 0.25, 0.5, 0.75])
        #expect(Tensor.linspace(0, 1, steps: 5).floats() == [0, 0.25, 0.5, 0.75, 1])
        #expect(Tensor.full([2, 2], 3).sum().item() == 12)
        #expect(Tensor.zeros([3]).dtype == .float32)
    }

    @Test func generatorStateRestoresTheSameStream() {
        let g = Generator(seed: 5)
        _ = Tensor.randn([3], generator: g)
        let state = g.state
        let first = Tensor.randn([4], generator: g).floats()
        g.state = state
        #expect(Tensor.randn([4], generator: g).floats() == first)
        g.manualSeed(5)
        #expect(Tensor.randn([3], generator: g).floats() != first.prefix(3).map { $0 })
    }

    @Test func noGradStopsRecordingAndRestores() {
        let w = Tensor.ones([2]).requiringGrad()
        let y = withNoGrad { w * 2 }
        #expect(!y.requiresGrad)
        #expect((w * 2).requiresGrad)
    }

    @Test func autocastComputesMatmulInBFloat16OnCPU() {
        let a = Tensor.randn([4, 4], generator: rng), b = Tensor.randn([4, 4], generator: rng)
        let inside = withAutocast(.bfloat16) { a.matmul(b) }
        #expect(inside.dtype == .bfloat16)
        #expect(a.matmul(b).dtype == .float32)
        let err = relativeError(inside.floats(), a.matmul(b).floats().map(Double.init))
        #expect(err < 2e-2 && err > 0)
    }

    @Test func inPlaceUpdatesUnderNoGrad() {
        let p = Tensor([1, 2, 3] as [Float]).requiringGrad()
        withNoGrad {
            p.mulInPlace(2)
            p.addcdivInPlace(Tensor.ones([3]), Tensor.full([3], 4), value: -1)
            p.lerpInPlace(Tensor.zeros([3]), weight: 0.5)
        }
        #expect(p.floats() == [0.875, 1.875, 2.875])
        #expect(p.requiresGrad)
    }

    @Test func wrappingKeepsTheOwnerAliveUntilTheTensorIsFreed() {
        final class Owner { let buffer = UnsafeMutablePointer<Float>.allocate(capacity: 4); deinit { buffer.deallocate() } }
        weak var weakOwner: Owner?
        var t: Tensor? = {
            let owner = Owner()
            weakOwner = owner
            for i in 0..<4 { owner.buffer[i] = Float(i) }
            return Tensor.wrapping(owner.buffer, shape: [2, 2], dtype: .float32, owner: owner)
        }()
        #expect(weakOwner != nil)
        #expect(t!.floats() == [0, 1, 2, 3])
        t = nil
        #expect(weakOwner == nil)
    }

    @Test func viewsShareStorageAndShapesReport() {
        let x = Tensor.arange(0, 24).reshape(2, 3, 4)
        #expect(x.shape == [2, 3, 4])
        #expect(x.strides == [12, 4, 1])
        #expect(x.permute(0, 2, 1).isContiguous == false)
        #expect(x[1].shape == [3, 4])
        #expect(x.unsqueeze(1).squeeze(1).shape == [2, 3, 4])
        let nchw = Tensor.randn([1, 3, 4, 4], generator: rng).channelsLast()
        #expect(nchw.isChannelsLast && nchw.shape == [1, 3, 4, 4])
    }

    @Test func libraryReportsVersionAndDevices() {
        #expect(Torch.version.split(separator: ".").count == 3 && Torch.version.split(separator: ".").allSatisfy { Int($0) != nil },
                "\(Torch.version)")
        // The bundled libtorch is the one the bootstrap pins; another one given through LIBTORCH may be any version.
        if (ProcessInfo.processInfo.environment["LIBTORCH"] ?? "").isEmpty {
            #expect(Torch.version == "2.13.0", "the bootstrap installs libtorch 2.13.0")
        } else {
            print("LIBTORCH is set: libtorch \(Torch.version) is not checked against the bundled 2.13.0")
        }
        #expect(Device(name: "cuda:1") == .cuda(1))
        #expect(Device(name: "tpu") == nil)
        if !Device.cudaAvailable { #expect(Device.best == .cpu) }
        let saved = Torch.threadCount
        Torch.threadCount = 1
        #expect(Torch.threadCount == 1)
        Torch.threadCount = saved
    }
}

@Suite struct SafetensorsTensorTests {
    @Test(arguments: DType.allCases)
    func tensorsRoundTripThroughAFile(_ dtype: DType) throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("prism-st-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        let t = Tensor.arange(0, 12).reshape(3, 4).to(dtype)
        try Safetensors.save([(name: "x", tensor: t), (name: "y", tensor: t.transpose(0, 1))], to: url)
        let back = try Safetensors.load(url)
        #expect(back["x"]!.dtype == dtype && back["x"]!.shape == [3, 4])
        #expect(back["x"]!.bytes() == t.bytes())
        #expect(back["y"]!.floats() == t.transpose(0, 1).floats())
        // Zero-copy tensors over a copy-on-write mapping accept in-place ops without touching the file.
        if dtype.isFloatingPoint {
            back["x"]!.mulInPlace(2)
            #expect(try Safetensors.load(url)["x"]!.bytes() == t.bytes())
        }
    }

    @Test func releasedPagesAreReadAgainFromTheFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("prism-st-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        // Several pages each, so that whole pages are handed back.
        let a = Tensor.arange(0, 20_000), b = Tensor.arange(0, 30_000) * -1
        try Safetensors.save([(name: "a", tensor: a), (name: "b", tensor: b)], to: url)
        let file = try SafetensorsFile(url: url, mode: .copyOnWrite)
        let tensors = file.allTensors()
        file.releasePages(of: tensors["a"]!)
        // A tensor in ordinary memory is left alone (released, its pages would come back as zeros).
        let own = Tensor.arange(0, 30_000) + 1
        file.releasePages(of: own)
        #expect(tensors["a"]!.floats() == a.floats())
        #expect(tensors["b"]!.floats() == b.floats())
        let ownIntact = own.floats() == (Tensor.arange(0, 30_000) + 1).floats()
        #expect(ownIntact, "a tensor outside the mapping keeps its values")
    }
}
