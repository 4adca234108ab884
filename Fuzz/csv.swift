// libFuzzer target: the label files users give `prism train` and `prism caption` (Sources/Core: CSVTable, then
// Manifest reading CheXpert, NIH ChestX-ray14 and MIMIC-CXR-JPG layouts and any CSV described by its columns, then the
// captions made from the records).
//
// The input is the file's bytes; like CSVTable.read, anything that is not UTF-8 is refused before parsing.
// Checked on every input:
// - nothing traps, and every failure is a DataFileError naming the file (and a line inside it, when there is one);
// - a parsed table is rectangular, with one increasing line number per row;
// - csvLine writes every parsed row so that it parses back to the same fields.
import Core
import Foundation
@testable import Datasets

private let fileName = "fuzz.csv"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let text = String(data: Data(bytes: data, count: size), encoding: .utf8) else { return 0 }
    let table: CSVTable
    do {
        table = try CSVTable.parse(text, file: fileName)
    } catch {
        checkError(error)
        return 0
    }
    check(table.rows.count == table.lines.count, "one line number per row")
    check(table.rows.allSatisfy { $0.count == table.header.count }, "a row with the wrong number of fields")
    check(zip(table.lines, table.lines.dropFirst()).allSatisfy { $0 < $1 }, "line numbers do not increase")
    check(table.lines.allSatisfy { $0 >= 2 }, "a row on the header's line")

    checkRoundTrip(table)

    // The table as each label-file layout, and the captions of what it reads.
    let caption = CaptionTemplate()
    for format in [ManifestFormat.auto, .chexpert, .nih] {
        do {
            for record in try Manifest.records(table, format: format) { _ = caption.caption(for: record) }
        } catch {
            checkError(error)
        }
    }
    do {
        for record in try Manifest.mimic(metadata: table, labels: table, patients: table) { _ = caption.caption(for: record) }
    } catch {
        checkError(error)
    }
    fuzzGeneric(table)
    return 0
}

/// The table as a label file described by columns: the first column the path, the others labels (CheXpert's values,
/// then yes/no/maybe), the second, third, fourth and fifth also patient, sex, age and view.
private func fuzzGeneric(_ table: CSVTable) {
    guard let path = table.header.first else { return }
    let rest = Array(table.header.dropFirst())
    for values in [LabelValues.chexpert, LabelValues(positive: ["yes"], negative: ["no"], uncertain: ["maybe"])] {
        let columns = ColumnMapping(path: path, labels: rest.isEmpty ? [path] : rest, values: values, patient: rest.first,
                                    sex: rest.dropFirst().first, age: rest.dropFirst(2).first, view: rest.dropFirst(3).first)
        var template = CaptionTemplate()
        template.findings = columns.findings
        do {
            for record in try Manifest.generic(table, columns: columns) { _ = template.caption(for: record) }
        } catch {
            checkError(error)
        }
    }
}

/// Written with csvLine and read again, the table is the same (but for a second byte-order mark opening the file,
/// which the reader would strip as it stripped the first).
private func checkRoundTrip(_ table: CSVTable) {
    if table.header.first?.unicodeScalars.first == "\u{FEFF}" { return }
    let written = ([table.header] + table.rows).map(csvLine).joined(separator: "\n") + "\n"
    do {
        let again = try CSVTable.parse(written, file: fileName)
        check(again.header == table.header, "csvLine changes the header: \(table.header) → \(again.header)")
        check(again.rows == table.rows, "csvLine changes the rows: \(table.rows) → \(again.rows)")
    } catch {
        fail("csvLine's output does not parse: \(error)\n\(written.debugDescription)")
    }
}

private func checkError(_ error: any Error) {
    guard let error = error as? DataFileError else { fail("threw \(type(of: error)), not a DataFileError: \(error)") }
    // Manifest.records names a MIMIC file by its URL's path (absolute), the others as the table does.
    check(error.file == fileName || error.file == URL(fileURLWithPath: fileName).path,
          "the error names \(error.file), not the file")
    check(!error.problem.isEmpty, "an error without a problem")
}

private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}

private func fail(_ message: String) -> Never {
    fatalError("csv fuzz: \(message)")
}
