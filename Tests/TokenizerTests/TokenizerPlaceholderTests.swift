import Testing
@testable import Tokenizer

@Test func tokenizerBuilds() {}
