import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes `data` to a temporary file in the destination's folder, then renames it over `url`, so that an
/// interrupted run never leaves a half-written file under the final name. The folder must exist.
public func writeAtomically(_ data: Data, to url: URL) throws {
    let folder = url.deletingLastPathComponent()
    let temp = folder.appendingPathComponent(
        ".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    do {
        try data.write(to: temp)
    } catch {
        throw ImagingError.io(file: url.path, detail: "cannot write (\(error.localizedDescription))")
    }
    if rename(temp.path, url.path) != 0 {
        let reason = String(cString: strerror(errno))
        try? FileManager.default.removeItem(at: temp)
        throw ImagingError.io(file: url.path, detail: "cannot rename the temporary file into place (\(reason))")
    }
}
