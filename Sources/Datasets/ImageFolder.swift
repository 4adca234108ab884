import Core
import Foundation

/// A folder of images with one sub-folder per class, as torchvision's `ImageFolder` reads it:
/// `ROOT/CLASS/image.png`. It gives the same ``Record``s as a label file.
///
/// - Classes are the sub-folders of the root, sorted by name; each becomes a finding named by its folder
///   (``Findings/canonical(_:)``: `pleural_effusion` is "Pleural Effusion"). Labels are one-hot: an image is
///   positive for its folder's class and negative for every other.
/// - Images are the files with the extensions in ``extensions`` (any case) anywhere under a class folder; hidden
///   files and folders (`.name`) and other files are passed over. Paths are relative to the root
///   (`CLASS/image.png`), so the root is the image root.
/// - Patients: each image is its own patient, unless it lies in a sub-folder of its class folder
///   (`ROOT/CLASS/PATIENT/image.png`): then that sub-folder names the patient, across classes, so that a patient's
///   images stay in one part of a split.
/// - Sex, age and view are not known.
public struct ImageFolder: Sendable {
    /// The extensions of the files taken as images.
    public static let extensions: Set<String> = ["png", "jpg", "jpeg", "dcm"]

    public let root: URL
    /// The class folders' names, sorted.
    public let folders: [String]
    /// The findings the classes become, in the folders' order.
    public let classes: [String]
    public let records: [Record]

    /// Lists `root`. Refused, naming the root: a root that is not a folder, a root without class folders, a class
    /// folder without images, an image outside any class folder, two folders naming one finding.
    public init(_ root: URL) throws {
        self.root = root
        let fm = FileManager.default
        var isFolder: ObjCBool = false
        guard fm.fileExists(atPath: root.path, isDirectory: &isFolder) else { throw DataFileError(file: root.path, "no such folder") }
        guard isFolder.boolValue else { throw DataFileError(file: root.path, "a file, not a folder of class folders") }
        let entries = try Self.visibleEntries(root)
        let folders = entries.filter { Self.isFolder(root.appendingPathComponent($0)) }
        if let stray = entries.first(where: { !folders.contains($0) && Self.isImage($0) }) {
            throw DataFileError(file: root.appendingPathComponent(stray).path, "an image outside any class folder "
                                + "(a folder of class folders holds ROOT/CLASS/image.png)")
        }
        guard !folders.isEmpty else {
            throw DataFileError(file: root.path, "no class folders (a folder of class folders holds ROOT/CLASS/image.png)")
        }
        let classes = folders.map(Findings.canonical)
        if let twice = classes.first(where: { c in classes.filter { $0 == c }.count > 1 }) {
            let names = folders.filter { Findings.canonical($0) == twice }.map { "\"\($0)\"" }.joined(separator: " and ")
            throw DataFileError(file: root.path, "the class folders \(names) both name the finding \"\(twice)\"")
        }
        var records: [Record] = []
        for (folder, finding) in zip(folders, classes) {
            let images = try Self.images(under: root.appendingPathComponent(folder), relativeTo: folder)
            guard !images.isEmpty else {
                throw DataFileError(file: root.appendingPathComponent(folder).path, "a class folder without images ("
                                    + Self.extensions.sorted().joined(separator: ", ") + ")")
            }
            for path in images {
                var labels: [String: LabelState] = [:]
                for c in classes { labels[c] = c == finding ? .positive : .negative }
                let parts = path.split(separator: "/")
                let patient = parts.count > 2 ? String(parts[1]) : path
                records.append(Record(path: path, patientID: patient, labels: labels))
            }
        }
        self.folders = folders
        self.classes = classes
        self.records = records
    }

    static func isImage(_ name: String) -> Bool {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return false }
        return extensions.contains(name[name.index(after: dot)...].lowercased())
    }

    static func isFolder(_ url: URL) -> Bool {
        var isFolder: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) && isFolder.boolValue
    }

    /// The names in `folder` that do not start with a dot, sorted.
    static func visibleEntries(_ folder: URL) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { !$0.hasPrefix(".") }.sorted()
        } catch {
            throw DataFileError(file: folder.path, "cannot be listed (\(error.localizedDescription))")
        }
    }

    /// The images anywhere under `folder`, as paths starting with `prefix`, sorted. A folder met again through a
    /// symbolic link is not entered twice.
    static func images(under folder: URL, relativeTo prefix: String) throws -> [String] {
        var out: [String] = []
        var seen: Set<String> = []
        func walk(_ url: URL, _ relative: String) throws {
            guard seen.insert(url.resolvingSymlinksInPath().path).inserted else { return }
            for name in try visibleEntries(url) {
                let child = url.appendingPathComponent(name)
                if isFolder(child) {
                    try walk(child, relative + "/" + name)
                } else if isImage(name) {
                    out.append(relative + "/" + name)
                }
            }
        }
        try walk(folder, prefix)
        return out.sorted()
    }
}
