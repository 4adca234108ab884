import Foundation

/// Help text that survives argument-parser's wrapping: argument-parser wraps every line longer than the terminal
/// at a space, so a list of items wider than the help column would be cut mid-list. `itemLines` packs the items
/// (separated by two or more spaces or line breaks in `text`) into lines of at most `width` columns instead.
func itemLines(_ text: String, width: Int = 70) -> String {
    let items = text.split(separator: "\n").flatMap { $0.components(separatedBy: "  ") }
        .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    var lines: [String] = []
    for item in items {
        if let last = lines.last, last.count + 2 + item.count <= width {
            lines[lines.count - 1] = last + "  " + item
        } else {
            lines.append(item)
        }
    }
    return lines.joined(separator: "\n")
}
