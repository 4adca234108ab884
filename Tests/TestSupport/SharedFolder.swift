import Foundation

/// ../shared beside the repository (CI), PRISM_SHARED, or /work/shared.
public func sharedFolder() -> URL {
    if let env = ProcessInfo.processInfo.environment["PRISM_SHARED"] { return URL(fileURLWithPath: env) }
    // This file is Tests/TestSupport/SharedFolder.swift: four levels up is the folder that holds the repository.
    let beside = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared")
    if FileManager.default.fileExists(atPath: beside.path) { return beside }
    return URL(fileURLWithPath: "/work/shared")
}
