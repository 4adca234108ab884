import Foundation
import Testing
@testable import Torch

/// One tensor in a fixture file: shape, dtype name and flat values.
struct FixtureTensor: Decodable {
    let shape: [Int]
    let dtype: String
    let data: [Double]

    enum CodingKeys: String, CodingKey { case shape, dtype, data }
    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        shape = try c.decode([Int].self, forKey: .shape)
        dtype = try c.decode(String.self, forKey: .dtype)
        if dtype == "bool" {
            data = try c.decode([Bool].self, forKey: .data).map { $0 ? 1 : 0 }
        } else {
            data = try c.decode([Double].self, forKey: .data)
        }
    }

    var tensor: Tensor {
        switch dtype {
        case "bool": Tensor(data.map { $0 != 0 }, shape: shape)
        case "int64": Tensor(data.map { Int64($0) }, shape: shape)
        default: Tensor(data.map { Float($0) }, shape: shape)
        }
    }
}

struct FixtureCase: Decodable {
    let op: String
    let inputs: [FixtureTensor]
    let params: [String: JSONValue]
    let outputs: [FixtureTensor]

    func int(_ key: String) -> Int { params[key]!.number.map { Int($0) }! }
    func double(_ key: String) -> Double { params[key]!.number! }
    func ints(_ key: String) -> [Int] { params[key]!.array!.map { Int($0.number!) } }
}

enum JSONValue: Decodable {
    case number(Double), bool(Bool), array([JSONValue]), string(String)
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else { self = .array(try c.decode([JSONValue].self)) }
    }
    var number: Double? { if case .number(let d) = self { d } else { nil } }
    var array: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
}

func fixtureURL(_ name: String) -> URL {
    Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
}

func loadCases(_ name: String) throws -> [String: FixtureCase] {
    struct File: Decodable { let cases: [FixtureCase] }
    let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: fixtureURL(name)))
    return Dictionary(uniqueKeysWithValues: file.cases.map { ($0.op, $0) })
}

/// ||a - b|| / ||b||, the parity measure of the architecture guide.
func relativeError(_ a: [Float], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    var num = 0.0, den = 0.0
    for (x, y) in zip(a, b) {
        num += (Double(x) - y) * (Double(x) - y)
        den += y * y
    }
    return den == 0 ? num.squareRoot() : (num / den).squareRoot()
}

/// Expects `actual` to match the fixture tensor: same shape; exact for ints and bools, relative error < tol else.
func expectMatches(_ actual: Tensor, _ expected: FixtureTensor, tolerance: Double = 1e-5, _ label: String,
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
