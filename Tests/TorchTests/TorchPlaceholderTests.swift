import Testing
@testable import Torch

@Test func torchBuilds() {}
