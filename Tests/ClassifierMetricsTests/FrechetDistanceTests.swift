import Core
import Foundation
import Testing
@testable import ClassifierMetrics

/// One case of Fixtures/frechet.json (scripts/make_frechet_fixtures.py: pytorch-fid's formula, numpy and scipy).
struct FrechetCase: Decodable {
    let name: String
    let a: [[Double]]
    let b: [[Double]]
    let distance: Double
}

/// The realism metric: the Fréchet distance of two feature sets as pytorch-fid computes it, low-rank sets included.
@Suite struct FrechetDistanceTests {
    static let cases: [FrechetCase] = {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("frechet.json")
        return try! JSONDecoder().decode([FrechetCase].self, from: Data(contentsOf: url))
    }()

    @Test(arguments: cases.map(\.name)) func matchesPytorchFID(_ name: String) throws {
        let c = Self.cases.first { $0.name == name }!
        let d = try #require(frechetDistance(c.a, c.b))
        #expect(abs(d - max(c.distance, 0)) <= 1e-6 * max(1, abs(c.distance)), "\(name): \(d) against \(c.distance)")
    }

    @Test func isSymmetricAndRefusesTooFewVectors() throws {
        let c = Self.cases.first { $0.name == "low_rank" }!
        let ab = try #require(frechetDistance(c.a, c.b)), ba = try #require(frechetDistance(c.b, c.a))
        #expect(abs(ab - ba) < 1e-9 * ab)
        #expect(frechetDistance([[1, 2]], c.a) == nil)
        #expect(frechetDistance([[1, 2], [3, 4]], [[1, 2, 3], [4, 5, 6]]) == nil)
    }

    @Test func jacobiFindsTheEigenvaluesOfAKnownMatrix() {
        // [[2, 1], [1, 2]] has eigenvalues 1 and 3; a diagonal matrix its diagonal.
        #expect(symmetricEigenvalues([[2, 1], [1, 2]]).sorted().map { ($0 * 1e9).rounded() / 1e9 } == [1, 3])
        #expect(symmetricEigenvalues([[4, 0, 0], [0, -1, 0], [0, 0, 2]]).sorted() == [-1, 2, 4])
    }
}
