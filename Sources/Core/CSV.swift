import Foundation

/// A problem in a data file: the file, the line (1-based, 0 when the file as a whole is wrong) and what is wrong.
public struct DataFileError: Error, CustomStringConvertible, Sendable, Equatable {
    public let file: String
    public let line: Int
    public let problem: String

    public init(file: String, line: Int = 0, _ problem: String) {
        self.file = file
        self.line = line
        self.problem = problem
    }

    public var description: String { line > 0 ? "\(file):\(line): \(problem)" : "\(file): \(problem)" }
}

/// A CSV table (RFC 4180: quoted fields, doubled quotes, CRLF or LF) that remembers the line each row
/// started on, so that errors can point into the file.
public struct CSVTable: Sendable {
    public let file: String
    public let header: [String]
    public let rows: [[String]]
    /// The 1-based line of the file each row starts on.
    public let lines: [Int]
    private let columnIndex: [String: Int]

    public init(file: String, header: [String], rows: [[String]], lines: [Int]) {
        self.file = file
        self.header = header
        self.rows = rows
        self.lines = lines
        var index: [String: Int] = [:]
        for (i, name) in header.enumerated() where index[name] == nil { index[name] = i }
        columnIndex = index
    }

    public static func read(_ url: URL) throws -> CSVTable {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw DataFileError(file: url.path, "no such file")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DataFileError(file: url.path, "cannot be read (\(error.localizedDescription))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DataFileError(file: url.path, "is not UTF-8 text")
        }
        return try parse(text, file: url.path)
    }

    public static func parse(_ text: String, file: String = "<csv>") throws -> CSVTable {
        var records: [[String]] = [], starts: [Int] = []
        var field = "", record: [String] = []
        var inQuotes = false, fieldWasQuoted = false
        var line = 1, recordStart = 1
        var chars = Array(text.unicodeScalars)
        if chars.first == "\u{FEFF}" { chars.removeFirst() }
        var i = 0
        func endRecord() {
            record.append(field)
            if !(record.count == 1 && record[0].isEmpty && !fieldWasQuoted) {
                records.append(record)
                starts.append(recordStart)
            }
            record = []
            field = ""
            fieldWasQuoted = false
        }
        while i < chars.count {
            let c = chars[i]
            if inQuotes {
                if c == "\"" {
                    if i + 1 < chars.count && chars[i + 1] == "\"" { field.unicodeScalars.append("\""); i += 1 }
                    else { inQuotes = false }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
            } else {
                switch c {
                case "\"":
                    if field.isEmpty { inQuotes = true; fieldWasQuoted = true }
                    else { throw DataFileError(file: file, line: line, "a quote inside an unquoted field") }
                case ",":
                    record.append(field)
                    field = ""
                    fieldWasQuoted = false
                case "\r":
                    break
                case "\n":
                    endRecord()
                    line += 1
                    recordStart = line
                default:
                    if record.isEmpty && field.isEmpty && !fieldWasQuoted { recordStart = line }
                    field.unicodeScalars.append(c)
                }
            }
            i += 1
        }
        if inQuotes { throw DataFileError(file: file, line: recordStart, "a quoted field is never closed") }
        if !field.isEmpty || !record.isEmpty || fieldWasQuoted { endRecord() }
        guard let header = records.first else { throw DataFileError(file: file, "is empty (no header line)") }
        let trimmedHeader = header.map { $0.trimmingCharacters(in: .whitespaces) }
        let rows = Array(records.dropFirst())
        let lines = Array(starts.dropFirst())
        // A short row would silently read its missing fields as empty (a caption without its sex or age): refused,
        // as a long one is.
        for (r, row) in rows.enumerated() where row.count != header.count {
            throw DataFileError(file: file, line: lines[r], "\(row.count) fields where the header has \(header.count)"
                                + (row.count < header.count ? " (give every column a value, or an empty field)" : ""))
        }
        return CSVTable(file: file, header: trimmedHeader, rows: rows, lines: lines)
    }

    public func hasColumn(_ name: String) -> Bool { columnIndex[name] != nil }

    /// The index of a column that must exist; the error lists the columns the file has.
    public func requireColumn(_ name: String, for purpose: String = "") throws -> Int {
        guard let i = columnIndex[name] else {
            throw DataFileError(file: file, line: 1,
                                "no column \"\(name)\"\(purpose.isEmpty ? "" : " (\(purpose))"); the header has: "
                                + header.joined(separator: ", "))
        }
        return i
    }

    public func column(_ name: String) -> Int? { columnIndex[name] }

    /// The first of several possible column names that exists.
    public func firstColumn(_ names: [String]) -> Int? { names.lazy.compactMap { columnIndex[$0] }.first }
}

/// Writes CSV text with quoting where needed.
///
/// Fields are looked at scalar by scalar: "\r\n" is a single Character, and so is a comma or a quote followed by a
/// combining mark, so a test on Characters would leave such fields unquoted and split them on reading. A line of one
/// empty field is written `""`: left empty it would be a blank line, which the reader skips.
public func csvLine(_ fields: [String]) -> String {
    if fields == [""] { return "\"\"" }
    return fields.map { f in
        guard f.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return f }
        var quoted = String.UnicodeScalarView()
        quoted.append("\"")
        for scalar in f.unicodeScalars {
            if scalar == "\"" { quoted.append("\"") }
            quoted.append(scalar)
        }
        quoted.append("\"")
        return String(quoted)
    }.joined(separator: ",")
}
