import Core
import Foundation

/// The JSON form of the metric results: snake_case keys (`false_positive_rate`, `worst_group_accuracy`), and the
/// NaN of an undefined metric or an empty bin, and the +∞ of a threshold, as the bare `NaN` / `Infinity` tokens
/// that Core's `JSONFile` writes and reads (and Python's json module), never an error or a null.
public enum MetricsJSON {
    /// A result as Foundation values, to be nested in a larger report written by `JSONFile.encode`.
    public static func object<T: Encodable>(_ value: T) throws -> [String: Any] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        // JSONFile reads the quoted tokens back as numbers: no metric holds such a string otherwise.
        return try JSONFile.object(from: encoder.encode(value), source: "\(T.self)")
    }

    /// A result as pretty-printed JSON text with sorted keys (metrics.json).
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        try JSONFile.encode(object(value))
    }

    /// A result read back from `encode`'s text; errors name `source`, the key and what was expected.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, source: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        do {
            return try decoder.decode(T.self, from: JSONFile.quotingNonFiniteNumbers(data))
        } catch let error as DecodingError {
            throw JSONFile.describe(error, source: source, expected: T.self)
        }
    }
}
