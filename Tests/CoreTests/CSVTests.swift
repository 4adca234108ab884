import Foundation
import Testing
@testable import Core

@Suite struct CSVTests {
    @Test func parsesQuotesDoubledQuotesCRLFAndEmbeddedNewlines() throws {
        let text = "a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\r\n2,\"two\nlines\",z\n3,,\n"
        let t = try CSVTable.parse(text, file: "t.csv")
        #expect(t.header == ["a", "b", "c"])
        #expect(t.rows == [["1", "x, y", "say \"hi\""], ["2", "two\nlines", "z"], ["3", "", ""]])
        #expect(t.lines == [2, 3, 5])
    }

    @Test func errorsNameTheFileAndLine() {
        let unclosed = #expect(throws: DataFileError.self) { try CSVTable.parse("a,b\n1,2\n3,\"open\n", file: "x.csv") }
        #expect(unclosed?.description == "x.csv:3: a quoted field is never closed")
        let extra = #expect(throws: DataFileError.self) { try CSVTable.parse("a,b\n1,2\n1,2,3\n", file: "x.csv") }
        #expect(extra?.description == "x.csv:3: 3 fields where the header has 2")
        let missing = #expect(throws: DataFileError.self) {
            try CSVTable.parse("a,b\n1,2\n", file: "x.csv").requireColumn("Path")
        }
        #expect(missing?.description.contains("no column \"Path\"") == true)
        #expect(missing?.description.contains("a, b") == true)
    }

    @Test func quotingRoundTrips() throws {
        let fields = ["plain", "with, comma", "with \"quote\"", "two\nlines"]
        let t = try CSVTable.parse("h1,h2,h3,h4\n" + csvLine(fields) + "\n")
        #expect(t.rows == [fields])
    }
}
