import Testing
@testable import Core

/// Patient splits, training sample orders and every phantom pixel are functions of this stream: a change to it
/// would silently move patients between splits and change every phantom dataset.
@Suite struct SplitMix64Tests {
    @Test func theStreamIsSteeleLeaAndFloods() {
        var rng = SplitMix64(seed: 0)
        #expect([rng.next(), rng.next(), rng.next()] == [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
    }

    @Test func forksAndDerivedDrawsArePinned() {
        var rng = SplitMix64(seed: 7).fork(3)
        #expect(rng.uniform().bitPattern == 4_603_981_181_856_058_106)
        #expect(rng.int(0...99) == 2)
    }
}
