import Foundation
import Testing
@testable import Core

private struct Sample: Decodable {
    let name: String
    let scale: Double
    let sizes: [Int]
}

@Suite struct JSONFileTests {
    @Test func acceptsPythonsNonFiniteTokensAndUnknownFields() throws {
        let text = #"{"name": "NaN in a string stays", "scale": -Infinity, "sizes": [1, 2], "extra": NaN, "more": {"x": Infinity}}"#
        let s = try JSONFile.decode(Sample.self, from: Data(text.utf8), source: "a.json")
        #expect(s.name == "NaN in a string stays" && s.scale == -.infinity && s.sizes == [1, 2])
        let object = try JSONFile.object(from: Data(text.utf8), source: "a.json")
        #expect((object["extra"] as? Double)?.isNaN == true)
        #expect((object["more"] as? [String: Any])?["x"] as? Double == .infinity)
        #expect(object["name"] as? String == "NaN in a string stays")
    }

    @Test func escapedQuotesDoNotEndAString() throws {
        let text = #"{"name": "a \" NaN", "scale": NaN, "sizes": []}"#
        let s = try JSONFile.decode(Sample.self, from: Data(text.utf8), source: "a.json")
        #expect(s.name == #"a " NaN"# && s.scale.isNaN)
    }

    @Test func errorsNameTheFileTheKeyAndTheExpectation() throws {
        func message(_ text: String) -> String {
            do {
                _ = try JSONFile.decode(Sample.self, from: Data(text.utf8), source: "model/unet/config.json")
                return "accepted"
            } catch { return "\(error)" }
        }
        #expect(message(#"{"name": "x", "scale": "big", "sizes": []}"#).hasPrefix("model/unet/config.json: scale: expected a number"))
        #expect(message(#"{"name": "x", "scale": 1, "sizes": [1, "2"]}"#).hasPrefix("model/unet/config.json: sizes.1: expected an integer"))
        #expect(message(#"{"name": "x", "sizes": []}"#) == "model/unet/config.json: scale: missing (required)")
        #expect(message(#"{"name": "x", "scale": null, "sizes": []}"#) == "model/unet/config.json: scale: expected a number, found null")
        #expect(message(#"{"name": "x", "#).hasPrefix("model/unet/config.json: not valid JSON"))
        #expect(message("").hasPrefix("model/unet/config.json: not valid JSON"))
    }

    @Test func filesAreNamedWhenMissingOrNotFiles() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("jsonfile-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(throws: JSONFileError(file: folder.appendingPathComponent("none.json").path, problem: "missing")) {
            try JSONFile.object(from: folder.appendingPathComponent("none.json"))
        }
        #expect(throws: JSONFileError(file: folder.path, problem: "a folder, not a JSON file")) {
            try JSONFile.object(from: folder)
        }
        let list = folder.appendingPathComponent("list.json")
        try Data("[1, 2]".utf8).write(to: list)
        #expect(throws: JSONFileError(file: list.path, problem: "expected a JSON object ({...}) at the top level")) {
            try JSONFile.object(from: list)
        }
    }
}

@Suite struct JSONFileWritingTests {
    @Test func nonFiniteNumbersGoBackAsPythonsTokens() throws {
        let object: [String: Any] = ["lambda_min_clipped": -Double.infinity, "x": [Double.nan, 1.5], "up": Double.infinity, "name": "a/b"]
        let text = String(decoding: try JSONFile.encode(object), as: UTF8.self)
        #expect(text.contains("\"lambda_min_clipped\" : -Infinity"))
        #expect(text.contains("NaN") && text.contains("\"up\" : Infinity") && text.contains("\"a/b\""))
        let back = try JSONFile.object(from: Data(text.utf8), source: "t")
        #expect(back["lambda_min_clipped"] as? Double == -.infinity)
        #expect(((back["x"] as? [Any])?.first as? Double)?.isNaN == true)
        #expect(back["name"] as? String == "a/b")
    }

    /// An Encodable report is written as Foundation values are: the same text, sorted keys, Python's tokens.
    @Test func encodableValuesAreWrittenAsFoundationValuesAre() throws {
        struct Report: Encodable {
            let name: String
            let losses: [Double]
            let steps: Int
            let missing: Double?
        }
        let report = Report(name: "a/b", losses: [0.5, .nan, -.infinity], steps: 3, missing: nil)
        let object: [String: Any] = ["name": "a/b", "losses": [0.5, Double.nan, -Double.infinity], "steps": 3]
        #expect(try JSONFile.encode(report) == JSONFile.encode(object))
        let line = String(decoding: try JSONFile.encode(report, pretty: false), as: UTF8.self)
        #expect(line == #"{"losses":[0.5,NaN,-Infinity],"name":"a/b","steps":3}"#)
    }
}
