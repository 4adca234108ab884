import Foundation
import Testing
@testable import Core

/// Inputs found by fuzzing the label-file reader (scripts/fuzz csv, docs/reliability.md), kept so that the fixes stay.
@Suite struct CSVFuzzRegressionTests {
    /// csvLine tested for commas, quotes and line breaks Character by Character: "\r\n" is one Character (neither
    /// "\r" nor "\n"), and so is a comma or a quote followed by a combining mark, so those fields were written
    /// unquoted and read back split. A line of a single empty field was written as a blank line, which the reader skips.
    @Test func csvLineQuotesWhatCharactersHide() throws {
        let fields = ["No F\r\nding", "a,\u{301}b", "say \"\u{301}hi\"", "plain"]
        let table = try CSVTable.parse(csvLine(["h1", "h2", "h3", "h4"]) + "\n" + csvLine(fields) + "\n")
        #expect(table.rows == [fields])
        #expect(table.rows[0].map { Array($0.unicodeScalars) } == fields.map { Array($0.unicodeScalars) })

        let single = try CSVTable.parse(csvLine(["Path"]) + "\n" + csvLine([""]) + "\n" + csvLine(["a.png"]) + "\n")
        #expect(single.rows == [[""], ["a.png"]])
    }
}
