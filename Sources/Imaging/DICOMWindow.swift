import Foundation

/// How a DICOM's modality values become display values: the VOI (value of interest) step of DICOM's pixel pipeline.
public enum DICOMWindow: Sendable, Equatable, CustomStringConvertible {
    /// The file's own: its first VOI LUT (VOI LUT Sequence), else its first Window Center/Width (with its VOI LUT
    /// Function: LINEAR, LINEAR_EXACT or SIGMOID), else `.minMax`.
    case auto
    /// A linear window (DICOM's LINEAR function) replacing the file's.
    case fixed(center: Double, width: Double)
    /// The modality values between two percentiles (numpy's linear interpolation) stretched onto the output.
    case percentile(low: Double, high: Double)
    /// The modality values' minimum to maximum.
    case minMax

    /// Parses `auto`, `none` (min–max), `CENTER,WIDTH` or `percentile:LOW,HIGH`; the error says what is accepted.
    public init(parsing text: String) throws {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        func pair(_ s: Substring) -> (Double, Double)? {
            let parts = s.split(separator: ",", omittingEmptySubsequences: false)
            guard parts.count == 2, let a = Double(parts[0].trimmingCharacters(in: .whitespaces)),
                  let b = Double(parts[1].trimmingCharacters(in: .whitespaces)), a.isFinite, b.isFinite else { return nil }
            return (a, b)
        }
        let usage = "use auto, none, CENTER,WIDTH (e.g. 2048,4096) or percentile:LOW,HIGH (e.g. percentile:0.5,99.5)"
        if t == "auto" { self = .auto; return }
        if t == "none" { self = .minMax; return }
        if t.hasPrefix("percentile:") {
            guard let (lo, hi) = pair(t.dropFirst("percentile:".count)), lo >= 0, hi <= 100, lo < hi else {
                throw DICOMWindowError("\(text): percentiles must be 0 <= LOW < HIGH <= 100; \(usage)")
            }
            self = .percentile(low: lo, high: hi)
            return
        }
        guard let (c, w) = pair(t[...]) else { throw DICOMWindowError("\(text): \(usage)") }
        guard w >= 1 else { throw DICOMWindowError("\(text): the width must be at least 1 (DICOM's linear window)") }
        self = .fixed(center: c, width: w)
    }

    public var description: String {
        switch self {
        case .auto: return "auto"
        case .minMax: return "none"
        case let .fixed(c, w): return "\(number(c)),\(number(w))"
        case let .percentile(lo, hi): return "percentile:\(number(lo)),\(number(hi))"
        }
    }

    private func number(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v) }
}

/// A window option that does not parse.
public struct DICOMWindowError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The VOI step the file itself asks for, read from its header.
struct VOIFromFile {
    var lut: (first: Int, bits: Int, data: [UInt16])?
    var center: Double?
    var width: Double?
    var function: String
}

/// The pixel pipeline after the stored values: display values in [0, 1] (0 black).
enum DICOMPixels {
    /// Modality values through `window` (or the file's VOI) onto [0, 1], MONOCHROME1 inverted.
    static func display(_ m: [Double], window: DICOMWindow, file voi: VOIFromFile, monochrome1: Bool,
                        name: String) throws -> [Double] {
        var out: [Double]
        switch window {
        case .auto:
            if let lut = voi.lut {
                out = applyLUT(m, lut)
            } else if let c = voi.center, let w = voi.width {
                out = try applyWindow(m, center: c, width: w, function: voi.function, name: name)
            } else {
                out = stretch(m, range(m))
            }
        case let .fixed(c, w): out = try applyWindow(m, center: c, width: w, function: "LINEAR", name: name)
        case .minMax: out = stretch(m, range(m))
        case let .percentile(lo, hi):
            let sorted = m.sorted()
            out = stretch(m, (percentile(sorted, lo), percentile(sorted, hi)))
        }
        if monochrome1 { for i in out.indices { out[i] = 1 - out[i] } }
        return out
    }

    /// pydicom's apply_voi for a VOI LUT: values below the first mapped one take entry 0, above the last the last
    /// entry; the output is scaled by the LUT's 2^bits - 1.
    static func applyLUT(_ m: [Double], _ lut: (first: Int, bits: Int, data: [UInt16])) -> [Double] {
        let top = Double((1 << lut.bits) - 1), last = lut.data.count - 1
        return m.map { v in
            let index = v >= Double(lut.first) ? min(Int(v - Double(lut.first)), last) : 0
            return min(Double(lut.data[max(index, 0)]) / top, 1)
        }
    }

    /// DICOM PS3.3 C.11.2.1.2 (LINEAR), C.11.2.1.3.2 (LINEAR_EXACT) and C.11.2.1.3.1 (SIGMOID), onto [0, 1].
    static func applyWindow(_ m: [Double], center: Double, width: Double, function: String, name: String) throws -> [Double] {
        switch function {
        case "", "LINEAR", "LINEAR_EXACT":
            let exact = function == "LINEAR_EXACT"
            let c = exact ? center : center - 0.5, w = exact ? width : width - 1
            guard exact ? width > 0 : width >= 1 else {
                throw ImagingError.corrupt(file: name, detail: "Window Width \(width) is below what a \(exact ? "LINEAR_EXACT" : "LINEAR") window allows")
            }
            let lo = c - w / 2, hi = c + w / 2
            return m.map { v in v <= lo ? 0 : v > hi ? 1 : (v - c) / w + 0.5 }
        case "SIGMOID":
            guard width > 0 else { throw ImagingError.corrupt(file: name, detail: "Window Width \(width) must be above 0 for SIGMOID") }
            return m.map { 1 / (1 + exp(-4 * ($0 - center) / width)) }
        default:
            throw ImagingError.unsupported(file: name, detail: "VOI LUT Function \"\(function)\" (Prism knows LINEAR, LINEAR_EXACT, SIGMOID)")
        }
    }

    static func range(_ m: [Double]) -> (Double, Double) {
        var lo = Double.infinity, hi = -Double.infinity
        for v in m { lo = min(lo, v); hi = max(hi, v) }
        return (lo, hi)
    }

    /// (v - lo) / (hi - lo) clamped to [0, 1]; all 0 when the range is empty.
    static func stretch(_ m: [Double], _ r: (Double, Double)) -> [Double] {
        let (lo, hi) = r
        guard hi > lo else { return [Double](repeating: 0, count: m.count) }
        let scale = 1 / (hi - lo)
        return m.map { min(max(($0 - lo) * scale, 0), 1) }
    }

    /// numpy.percentile's default (linear interpolation between the two nearest ranks) of sorted values.
    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        let position = p / 100 * Double(sorted.count - 1)
        let i = Int(position.rounded(.down)), f = position - Double(i)
        return i + 1 < sorted.count ? sorted[i] + (sorted[i + 1] - sorted[i]) * f : sorted[i]
    }
}
