import Core
import Foundation

/// The side of a finding, the patient's own: "left" is the patient's left, which is the image's right.
public enum Laterality: String, Sendable, CaseIterable {
    case left, right, bilateral
}

/// A pleural effusion's size, as a band of the phantom's effusion volume (the fraction of the lower hemithorax the
/// fluid fills, 0.2–0.95 in the phantom). The bands split the phantom's effusions 24 / 43 / 33 % (docs/phantom.md
/// gives the counts measured on 2000 cases).
public enum EffusionSize: String, Sendable, CaseIterable {
    case small, moderate, large

    /// The largest volume each band holds (a volume on a boundary belongs to the smaller band).
    public static let smallAtMost = 0.45
    public static let moderateAtMost = 0.65

    /// The band of a volume; nil when there is no fluid (0 or less).
    public init?(volume: Double) {
        guard volume > 0 else { return nil }
        self = volume <= Self.smallAtMost ? .small : volume <= Self.moderateAtMost ? .moderate : .large
    }

    /// The band's volumes, (above, atMost]; nil where the band is open (small has no lower bound but 0, large no upper).
    public var bounds: (above: Double?, atMost: Double?) {
        switch self {
        case .small: return (nil, Self.smallAtMost)
        case .moderate: return (Self.smallAtMost, Self.moderateAtMost)
        case .large: return (Self.moderateAtMost, nil)
        }
    }
}

/// How enlarged the heart is, as a band of the cardiothoracic ratio above the cardiomegaly threshold. The usual
/// clinical bands (0.50–0.55, 0.55–0.60, above 0.60) would leave the phantom, whose enlarged hearts mostly lie just
/// above 0.5, with about 1% severe cases; these split them 61 / 33 / 6 % (docs/phantom.md).
public enum CardiomegalyGrade: String, Sendable, CaseIterable {
    case mild, moderate, severe

    /// The ratio above which a heart is enlarged at all: the phantom's default threshold and the clinical one.
    public static let enlargedAbove = 0.5
    /// The largest ratio each band holds (a ratio on a boundary belongs to the milder grade).
    public static let mildAtMost = 0.53
    public static let moderateAtMost = 0.57

    /// The grade of a cardiothoracic ratio; nil when the heart is not enlarged (0.5 or less).
    public init?(ctr: Double) {
        guard ctr > Self.enlargedAbove else { return nil }
        self = ctr <= Self.mildAtMost ? .mild : ctr <= Self.moderateAtMost ? .moderate : .severe
    }

    /// The band's ratios, (above, atMost]; severe has no upper bound.
    public var bounds: (above: Double, atMost: Double?) {
        switch self {
        case .mild: return (Self.enlargedAbove, Self.mildAtMost)
        case .moderate: return (Self.mildAtMost, Self.moderateAtMost)
        case .severe: return (Self.moderateAtMost, nil)
        }
    }
}

/// What a label file says of a finding beyond present or absent, where it says it: the phantom's manifests do, real
/// label files mostly do not. nil means not said; a caption then uses the finding's plain word.
public struct FindingDetail: Sendable, Equatable {
    public var effusionSide: Laterality?
    public var effusionSize: EffusionSize?
    public var cardiomegalyGrade: CardiomegalyGrade?

    public init(effusionSide: Laterality? = nil, effusionSize: EffusionSize? = nil, cardiomegalyGrade: CardiomegalyGrade? = nil) {
        self.effusionSide = effusionSide
        self.effusionSize = effusionSize
        self.cardiomegalyGrade = cardiomegalyGrade
    }

    /// The columns that carry detail, as the phantom's manifest names them (Effusion Side none/left/right/bilateral,
    /// Effusion Volume 0–1, CTR), and in words for label files that grade rather than measure.
    public static let columns = ["Effusion Side", "Effusion Volume", "Effusion Size", "CTR", "Cardiomegaly Grade"]

    /// Whether `column` is one of `columns` (any case, `_` for space).
    public static func isColumn(_ column: String) -> Bool { key(column) != nil }

    static func key(_ column: String) -> String? {
        let wanted = column.replacingOccurrences(of: "_", with: " ").trimmingCharacters(in: .whitespaces).lowercased()
        return columns.first { $0.lowercased() == wanted }
    }

    /// Sets what `column` says; blank says nothing. A value the column does not take is refused naming the file, the
    /// line, the column and the values it takes. A column that is not a detail column is refused too.
    public mutating func set(_ column: String, _ value: String, file: String, line: Int = 0) throws {
        let v = value.trimmingCharacters(in: .whitespaces).lowercased()
        if v.isEmpty { return }
        func refuse(_ takes: String) -> DataFileError {
            DataFileError(file: file, line: line, "column \"\(column)\": \"\(value)\" is not \(takes)")
        }
        func number(_ range: ClosedRange<Double>) throws -> Double {
            guard let x = Double(v), range.contains(x) else { throw refuse("a number in \(range.lowerBound)...\(range.upperBound)") }
            return x
        }
        switch Self.key(column) {
        case "Effusion Side":
            guard v == "none" || Laterality(rawValue: v) != nil else { throw refuse("none, left, right or bilateral") }
            effusionSide = Laterality(rawValue: v)
        case "Effusion Volume":
            effusionSize = EffusionSize(volume: try number(0...1))
        case "Effusion Size":
            guard v == "none" || EffusionSize(rawValue: v) != nil else { throw refuse("none, small, moderate or large") }
            effusionSize = EffusionSize(rawValue: v)
        case "CTR":
            cardiomegalyGrade = CardiomegalyGrade(ctr: try number(0...1))
        case "Cardiomegaly Grade":
            guard v == "none" || CardiomegalyGrade(rawValue: v) != nil else { throw refuse("none, mild, moderate or severe") }
            cardiomegalyGrade = CardiomegalyGrade(rawValue: v)
        default:
            throw DataFileError(file: file, line: line,
                                "\"\(column)\" is not a detail column (\(Self.columns.joined(separator: ", ")))")
        }
    }
}
