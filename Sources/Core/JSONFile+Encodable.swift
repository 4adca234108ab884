import Foundation

extension JSONFile {
    /// JSON text of an `Encodable` report, written as `encode(_: [String: Any])` writes Foundation values: sorted
    /// keys, slashes unescaped, non-finite numbers as Python's bare `NaN`/`Infinity`/`-Infinity` tokens. Pretty-printed
    /// for files; `pretty: false` gives one line, for tools that read the last line of a command's output.
    public static func encode<T: Encodable>(_ value: T, pretty: Bool = true) throws -> Data {
        let marker = "\u{1}prism-non-finite\u{1}"
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            : [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: marker + "Infinity", negativeInfinity: marker + "-Infinity", nan: marker + "NaN")
        var text = String(decoding: try encoder.encode(value), as: UTF8.self)
        guard text.contains("prism-non-finite") else { return Data(text.utf8) }
        for token in ["NaN", "-Infinity", "Infinity"] {
            for spelling in [marker, "\\u0001prism-non-finite\\u0001"] {
                text = text.replacingOccurrences(of: "\"\(spelling)\(token)\"", with: token)
            }
        }
        return Data(text.utf8)
    }
}
