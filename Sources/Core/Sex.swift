import Foundation

/// A patient's sex, as label files give it and the phantom draws it: one type for the datasets read and the
/// phantom's. (It lives here rather than in Datasets so that the phantom, which writes datasets, does not depend
/// on the code that reads them.)
public enum Sex: String, Sendable, Codable, CaseIterable {
    /// The raw values are the letters of the phantom's case files and intervention names ("sex=F").
    case female = "F", male = "M"

    /// The word captions and messages use: "female", "male".
    public var word: String {
        switch self {
        case .female: "female"
        case .male: "male"
        }
    }

    /// Reads the spellings datasets use: F/M, Female/Male, female/male (any case). Unknown or blank: nil.
    public init?(parsing text: String) {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "f", "female", "woman": self = .female
        case "m", "male", "man": self = .male
        default: return nil
        }
    }
}
