import Foundation
import Testing
import Torch

/// A test target's `Fixtures` folder (reference values written by scripts/make_*_fixtures.py). Each test target keeps
/// its fixtures in its own resources and passes its bundle: `let fixtures = FixtureFolder(Bundle.module)`.
public struct FixtureFolder: Sendable {
    public let url: URL

    public init(_ bundle: Bundle) {
        url = bundle.url(forResource: "Fixtures", withExtension: nil)!
    }

    /// A file or folder under Fixtures.
    public func url(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// The cases of a fixture file, by op name.
    public func loadCases(_ name: String) throws -> [String: FixtureCase] {
        struct File: Decodable { let cases: [FixtureCase] }
        let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: url(name)))
        return Dictionary(uniqueKeysWithValues: file.cases.map { ($0.op, $0) })
    }
}

/// One tensor in a fixture file: shape, dtype name and flat values.
public struct FixtureTensor: Decodable, Sendable {
    public let shape: [Int]
    public let dtype: String
    public let data: [Double]

    enum CodingKeys: String, CodingKey { case shape, dtype, data }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        shape = try c.decode([Int].self, forKey: .shape)
        dtype = try c.decode(String.self, forKey: .dtype)
        if dtype == "bool" {
            data = try c.decode([Bool].self, forKey: .data).map { $0 ? 1 : 0 }
        } else {
            data = try c.decode([Double].self, forKey: .data)
        }
    }

    public var tensor: Tensor {
        switch dtype {
        case "bool": Tensor(data.map { $0 != 0 }, shape: shape)
        case "int64": Tensor(data.map { Int64($0) }, shape: shape)
        default: Tensor(data.map { Float($0) }, shape: shape)
        }
    }
}

public struct FixtureCase: Decodable, Sendable {
    public let op: String
    public let inputs: [FixtureTensor]
    public let params: [String: JSONValue]
    public let outputs: [FixtureTensor]

    public func int(_ key: String) -> Int { params[key]!.number.map { Int($0) }! }
    public func double(_ key: String) -> Double { params[key]!.number! }
    public func ints(_ key: String) -> [Int] { params[key]!.array!.map { Int($0.number!) } }
}

public enum JSONValue: Decodable, Sendable {
    case number(Double), bool(Bool), array([JSONValue]), string(String)
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else { self = .array(try c.decode([JSONValue].self)) }
    }
    public var number: Double? { if case .number(let d) = self { d } else { nil } }
    public var array: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    public var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
}

/// ||a - b|| / ||b||, the parity measure of the architecture guide.
public func relativeError(_ a: [Float], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    var num = 0.0, den = 0.0
    for (x, y) in zip(a, b) {
        num += (Double(x) - y) * (Double(x) - y)
        den += y * y
    }
    return den == 0 ? num.squareRoot() : (num / den).squareRoot()
}

/// Expects `actual` to match the fixture tensor: same shape; exact for ints and bools, relative error < tol else.
public func expectMatches(_ actual: Tensor, _ expected: FixtureTensor, tolerance: Double = 1e-5, _ label: String,
                          sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.shape == expected.shape, "\(label): shape \(actual.shape) vs \(expected.shape)", sourceLocation: sourceLocation)
    guard actual.shape == expected.shape else { return }
    if expected.dtype == "float32" {
        let err = relativeError(actual.floats(), expected.data)
        #expect(err < tolerance, "\(label): relative error \(err)", sourceLocation: sourceLocation)
    } else {
        #expect(actual.floats().map(Double.init) == expected.data, "\(label): values differ", sourceLocation: sourceLocation)
    }
}
