import Foundation
import Testing
@testable import Core

/// The letters are in every phantom case file and counterfactual name, the words in every caption.
@Suite struct SexTests {
    @Test func lettersAreStoredAndWordsAreWritten() throws {
        #expect(Sex.allCases.map(\.rawValue) == ["F", "M"])
        #expect(Sex.allCases.map(\.word) == ["female", "male"])
        #expect(try JSONEncoder().encode([Sex.female]) == Data(#"["F"]"#.utf8))
        #expect(["F", "Female", " male ", "WOMAN", "x", ""].map(Sex.init(parsing:)) == [.female, .female, .male, .female, nil, nil])
    }
}
