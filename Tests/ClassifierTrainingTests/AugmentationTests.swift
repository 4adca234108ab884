import Testing
@testable import ClassifierTraining

@Suite struct AugmentationTests {
    let side = 16
    var plane: [Float] { (0..<(side * side)).map { Float(($0 * 37) % 101) / 100 } }

    @Test func theSameSeedSampleAndEpochGiveTheSameImage() {
        let a = Augmentation(flip: true, affine: true)
        let first = a.apply(plane, side: side, seed: 7, index: 3, epoch: 2)
        #expect(first == a.apply(plane, side: side, seed: 7, index: 3, epoch: 2))
        #expect(first != plane)
        // Another epoch, sample or seed draws again.
        let others = [a.apply(plane, side: side, seed: 7, index: 3, epoch: 3), a.apply(plane, side: side, seed: 7, index: 4, epoch: 2),
                      a.apply(plane, side: side, seed: 8, index: 3, epoch: 2)]
        #expect(others.allSatisfy { $0 != first })
    }

    @Test func drawsStayInTheirRanges() {
        let a = Augmentation(flip: true, affine: true)
        let draws = (0..<200).map { a.draw(seed: 1, index: $0, epoch: 0) }
        #expect(draws.allSatisfy { abs($0.degrees) <= 10 && (0.9...1.1).contains($0.scale) && abs($0.shiftX) <= 0.05 && abs($0.shiftY) <= 0.05 })
        let flipped = draws.filter(\.flipped).count
        #expect((70...130).contains(flipped), "\(flipped) of 200 flipped")
    }

    @Test func flipAloneMirrorsRowsExactly() {
        let a = Augmentation(flip: true)
        let index = (0..<50).first { a.draw(seed: 2, index: $0, epoch: 0).flipped }!
        let out = a.apply(plane, side: side, seed: 2, index: index, epoch: 0)
        for y in 0..<side {
            #expect(Array(out[(y * side)..<(y * side + side)]) == Array(plane[(y * side)..<(y * side + side)].reversed()))
        }
    }

    @Test func theIdentityTransformKeepsEveryPixel() {
        let d = Augmentation.Draw()
        #expect(Augmentation.transform(plane, side: side, d) == plane)
        #expect(Augmentation().apply(plane, side: side, seed: 1, index: 1, epoch: 1) == plane)
    }

    @Test func parsing() throws {
        #expect(try Augmentation(parsing: "flip,affine") == Augmentation(flip: true, affine: true))
        #expect(try Augmentation(parsing: "none").isIdentity)
        #expect(throws: AugmentationError.self) { try Augmentation(parsing: "flip,rotate") }
    }
}
