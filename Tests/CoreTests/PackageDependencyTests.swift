import Foundation
import Testing

/// Package.swift's dependencies are the imports: a module that imports what it does not declare builds only by
/// accident of build order, and one that declares what it does not import drags that module into every build of it.
/// docs/architecture.md says which module may import which; this keeps the manifest honest about what they do.
@Suite struct PackageDependencyTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Modules every target may import without declaring them (the toolchain's).
    static let toolchainModules: Set<String> = ["Foundation", "Glibc", "Darwin", "Dispatch", "Testing", "XCTest", "Synchronization"]

    struct Target {
        var name: String
        var path: String
        var dependencies: Set<String>
    }

    /// The targets of Package.swift: name, folder and the dependencies named in their `dependencies:` list
    /// (`.product(name: X, …)` counts as X).
    static func targets() throws -> [Target] {
        let manifest = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let start = try #require(manifest.range(of: "targets: ["))
        var targets: [Target] = []
        // Each declaration starts at `.target(`, `.testTarget(` or `.executableTarget(` and runs to the next one.
        let pattern = try NSRegularExpression(pattern: #"\.(target|testTarget|executableTarget|systemLibrary)\("#)
        let body = String(manifest[start.upperBound...])
        let ns = body as NSString
        let matches = pattern.matches(in: body, range: NSRange(location: 0, length: ns.length))
        for (k, match) in matches.enumerated() {
            let end = k + 1 < matches.count ? matches[k + 1].range.location : ns.length
            let text = ns.substring(with: NSRange(location: match.range.location, length: end - match.range.location))
            let kind = ns.substring(with: match.range(at: 1))
            guard let name = firstCapture(#"name:\s*"([^"]+)""#, in: text) else { continue }
            let isTest = kind == "testTarget"
            let path = firstCapture(#"path:\s*"([^"]+)""#, in: text) ?? (isTest ? "Tests/\(name)" : "Sources/\(name)")
            var deps = Set<String>()
            if let list = firstCapture(#"dependencies:\s*\[([\s\S]*?)\]\s*[,)]"#, in: text) {
                deps = Set(allCaptures(#""([^"]+)""#, in: list.replacingOccurrences(
                    of: #"package:\s*"[^"]+""#, with: "", options: .regularExpression)))
            }
            targets.append(Target(name: name, path: path, dependencies: deps))
        }
        return targets
    }

    static func firstCapture(_ pattern: String, in text: String) -> String? { allCaptures(pattern, in: text).first }

    static func allCaptures(_ pattern: String, in text: String) -> [String] {
        guard let re = try? NSRegularExpression(pattern: pattern) else { return [] }
        let ns = text as NSString
        return re.matches(in: text, range: NSRange(location: 0, length: ns.length)).map { ns.substring(with: $0.range(at: 1)) }
    }

    /// The modules the Swift files under `folder` import (`import X`, `@testable import X`, `@_exported import X`).
    static func imports(under folder: URL) -> Set<String> {
        var found = Set<String>()
        let files = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)?
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" } ?? []
        for file in files where !file.path.contains("/Fixtures/") {
            guard let text = try? String(contentsOf: file, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") {
                let words = line.split(separator: " ").map(String.init)
                guard let i = words.firstIndex(of: "import"), i + 1 < words.count,
                      words[..<i].allSatisfy({ $0.hasPrefix("@") }) else { continue }
                found.insert(words[i + 1].split(separator: ".").first.map(String.init) ?? words[i + 1])
            }
        }
        return found.subtracting(toolchainModules)
    }

    @Test func everyTargetDeclaresExactlyWhatItImports() throws {
        let targets = try Self.targets()
        #expect(targets.count > 20, "Package.swift's targets were not found (\(targets.count))")
        let cTargets = Set(targets.filter { $0.name.hasPrefix("C") && $0.name.dropFirst().first?.isUppercase == true }.map(\.name))
        for target in targets {
            let folder = Self.root.appendingPathComponent(target.path)
            guard FileManager.default.fileExists(atPath: folder.path) else { continue }
            // A C target's own sources are not Swift; a Swift target that wraps one declares it and imports it.
            if cTargets.contains(target.name) { continue }
            let imported = Self.imports(under: folder)
            let undeclared = imported.subtracting(target.dependencies).subtracting([target.name]).sorted()
            let unused = target.dependencies.subtracting(imported).sorted()
            #expect(undeclared.isEmpty, "\(target.name) imports \(undeclared) without declaring them in Package.swift")
            #expect(unused.isEmpty, "\(target.name) declares \(unused) in Package.swift but imports none of them")
        }
    }
}
