import Testing
@testable import Phantom

@Test func phantomBuilds() {}
