import Testing
@testable import Core

/// Inversion-cache files are named by this digest: a change to it would orphan every cached inversion.
@Suite struct DigestTests {
    @Test func theDigestOfBytesAndTextIsPinned() {
        #expect(Digest().description == "cbf29ce48422232584222325cbf29ce4")
        var d = Digest()
        d.update("prism")
        d.update([1, 2, 3] as [UInt8])
        #expect(d.description == "375155336efa5af25a8e1a6eec6b7c7f")
    }
}
