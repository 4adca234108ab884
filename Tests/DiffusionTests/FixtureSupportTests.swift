import Testing
import Torch

@Suite struct FixtureSupportTests {
    @Test func relativeErrorMeasuresTheGap() {
        let b = Tensor([3, 4] as [Float], shape: [2])
        #expect(relativeError(b, b) == 0)
        let a = Tensor([3, 4.5] as [Float], shape: [2])
        #expect(abs(relativeError(a, b) - 0.1) < 1e-12)
    }
}
