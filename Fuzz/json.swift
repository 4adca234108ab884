// libFuzzer target: JSON configs through Core's JSONFile, the one reader of model_index.json, config.json,
// scheduler_config.json, tokenizer configs and run descriptions (Python's NaN/Infinity tokens accepted).
//
// It decodes into the real config types of Sources/DiffusersConfig (no libtorch): UNet2DConditionConfig,
// AutoencoderKLConfig, CLIPTextConfig, SchedulerConfig with CommonSchedulerConfiguration's range checks, and
// ModelIndex; into CaptionTemplate (Sources/Datasets), a real config users write for `prism caption --template`;
// and checks that JSONFile.encode writes back what JSONFile.object read.
// Checked on every input: nothing traps, every failure of JSONFile is a one-line JSONFileError naming the source,
// and a config that decodes is encoded to text that decodes and encodes to the same text again.
import Core
import Datasets
import DiffusersConfig
import Foundation

private let source = "fuzz.json"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)

    roundTrip(UNet2DConditionConfig.self, bytes)
    roundTrip(AutoencoderKLConfig.self, bytes)
    roundTrip(CLIPTextConfig.self, bytes)
    if let scheduler = roundTrip(SchedulerConfig.self, bytes) {
        do { _ = try CommonSchedulerConfiguration(scheduler); _ = SampleClipping(scheduler) } catch is SchedulerError {
        } catch { fail("CommonSchedulerConfiguration threw \(type(of: error)), not a SchedulerError: \(error)") }
    }
    do {
        let index = try ModelIndex.decode(bytes, source: source)
        let again = try ModelIndex.decode(try ConfigFile.encode(index), source: "written")
        check(again.className == index.className && again.components == index.components,
              "ModelIndex encode + decode changes the index")
    } catch let error as ModelFolderError {
        check(error.path == source, "a model index error names \(error.path), not the source")
    } catch {
        fail("ModelIndex threw \(type(of: error)): \(error)")
    }
    if let template = decode(CaptionTemplate.self, bytes) {
        do {
            try template.validate(file: source)
            let record = Record(path: "a.png", patientID: "p", sex: .female, age: 81,
                                labels: ["Cardiomegaly": .positive, "Edema": .negative, "Support Devices": .uncertain])
            _ = template.caption(for: record)
            _ = try LabelEdit.set("Cardiomegaly", "0").apply(to: record, template: template)
        } catch let error as DataFileError {
            check(error.file == source || error.file == "labels", "a template error names \(error.file)")
        } catch {
            fail("CaptionTemplate threw \(type(of: error)): \(error)")
        }
    }

    // Free-form reading (model_index.json) and writing back.
    let object: [String: Any]
    do {
        object = try JSONFile.object(from: bytes, source: source)
    } catch {
        checkError(error)
        return 0
    }
    let written: Data
    do { written = try JSONFile.encode(object) } catch {
        // Foundation's writer refuses some values it read (see docs/reliability.md); that is an error, not a trap.
        return 0
    }
    do {
        let again = try JSONFile.object(from: written, source: "written")
        check(same(object, again), "JSONFile.encode + object changes the object")
    } catch {
        fail("JSONFile.encode wrote JSON that JSONFile.object refuses: \(error)\n\(String(decoding: written, as: UTF8.self))")
    }
    return 0
}

@discardableResult
private func decode<T: Decodable>(_ type: T.Type, _ bytes: Data) -> T? {
    do {
        return try JSONFile.decode(T.self, from: bytes, source: source)
    } catch {
        checkError(error)
        return nil
    }
}

/// Decodes `bytes` as `T`; when that works, the encoded config must decode and encode to the same text (the
/// text, not the values: a NaN is not equal to itself).
@discardableResult
private func roundTrip<T: Codable>(_ type: T.Type, _ bytes: Data) -> T? {
    guard let config = decode(T.self, bytes) else { return nil }
    do {
        let written = try ConfigFile.encode(config)
        let again = try ConfigFile.encode(try JSONFile.decode(T.self, from: written, source: "written"))
        check(written == again, "\(T.self): encode + decode + encode changes the text:\n"
            + String(decoding: written, as: UTF8.self) + "\n" + String(decoding: again, as: UTF8.self))
    } catch {
        fail("\(T.self) does not read back what it wrote: \(error)")
    }
    return config
}

private func checkError(_ error: any Error) {
    guard let error = error as? JSONFileError else { fail("threw \(type(of: error)), not a JSONFileError: \(error)") }
    check(error.file == source, "the error names \(error.file), not the source")
    check(!error.problem.isEmpty, "an error without a problem")
}

/// Whether two Foundation values read from JSON are the same. Numbers are compared by value, within a rounding
/// error: Foundation reads some literals as NSDecimalNumber and their written form back as a double.
private func same(_ a: Any, _ b: Any) -> Bool {
    switch (a, b) {
    case let (x as [String: Any], y as [String: Any]):
        return x.count == y.count && x.allSatisfy { key, value in y[key].map { same(value, $0) } ?? false }
    case let (x as [Any], y as [Any]):
        return x.count == y.count && zip(x, y).allSatisfy(same)
    case let (x as String, y as String):
        return x == y
    case (is NSNull, is NSNull):
        return true
    case let (x as Bool, y as Bool):
        return x == y
    case let (x as NSNumber, y as NSNumber):
        let (u, v) = (x.doubleValue, y.doubleValue)
        return u == v || (u.isNaN && v.isNaN) || abs(u - v) <= 1e-15 * max(abs(u), abs(v))
    default:
        return false
    }
}

private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}

private func fail(_ message: String) -> Never {
    fatalError("json fuzz: \(message)")
}
