import ArgumentParser
import Foundation
import Imaging
import Torch

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List the tensors of a safetensors file or a diffusers folder, or describe a DICOM file.",
        discussion: """
            Prints each tensor's name, dtype, shape and size, then totals. The header
            of every file is fully validated: a malformed file is reported with its
            name and the problem.

            Examples:
              prism inspect unet/diffusion_pytorch_model.safetensors
              prism inspect path/to/stable-diffusion-v1-5 --summary
              prism inspect scan.dcm --window percentile:0.5,99.5

            A DICOM file: transfer syntax, photometric, bits, rescale, windows,
            patient, view, study, and the range of its modality values and of the
            gray image Prism decodes from it (with --window).
            """
    )

    @Argument(help: "A .safetensors file, a folder (searched recursively for .safetensors files) or a DICOM file.")
    var path: String

    @Flag(help: "Print only per-file totals, not every tensor.")
    var summary = false

    @OptionGroup var window: WindowOption

    func run() throws {
        let url = URL(fileURLWithPath: path)
        if InspectDICOM.applies(to: url) {
            do { _ = try InspectDICOM.report(url, window: try window.value()) { $0.forEach { print($0) } } } catch let error as ImagingError {
                throw CLIError("\(error)")
            }
            return
        }
        let files = try weightFiles(at: url)
        var grandBytes = 0, grandCount = 0, grandParams = 0
        for file in files {
            let st = try SafetensorsFile(url: file)
            let bytes = st.tensors.reduce(0) { $0 + $1.byteCount }
            let params = st.tensors.reduce(0) { $0 + $1.elementCount }
            print("\(file.path): \(st.tensors.count) tensors, \(formatCount(params)) values, \(formatBytes(bytes))")
            if !summary {
                let width = min(st.tensors.map(\.name.count).max() ?? 0, 90)
                for t in st.tensors {
                    let shape = "[" + t.shape.map(String.init).joined(separator: ", ") + "]"
                    let name = t.name.padding(toLength: max(width, t.name.count), withPad: " ", startingAt: 0)
                    let dtype = t.dtype.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0)
                    print("  \(name)  \(dtype) \(shape.padding(toLength: 22, withPad: " ", startingAt: 0)) \(formatBytes(t.byteCount))")
                }
                if !st.metadata.isEmpty {
                    print("  metadata: " + st.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
                }
            }
            grandBytes += bytes
            grandCount += st.tensors.count
            grandParams += params
        }
        if files.count > 1 {
            print("total: \(files.count) files, \(grandCount) tensors, \(formatCount(grandParams)) values, \(formatBytes(grandBytes))")
        }
    }

    func weightFiles(at url: URL) throws -> [URL] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw ValidationError("\(url.path): no such file or folder")
        }
        guard isDirectory.boolValue else { return [url] }
        let found = (FileManager.default.enumerator(at: url, includingPropertiesForKeys: nil)?.allObjects as? [URL] ?? [])
            .filter { $0.pathExtension == "safetensors" }
            .sorted { $0.path < $1.path }
        guard !found.isEmpty else { throw ValidationError("\(url.path): no .safetensors files in this folder") }
        return found
    }
}

func formatBytes(_ n: Int) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"]
    var value = Double(n), unit = 0
    while value >= 1000 && unit < units.count - 1 { value /= 1000; unit += 1 }
    return unit == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[unit])
}

func formatCount(_ n: Int) -> String {
    if n >= 1_000_000_000 { return String(format: "%.2fB", Double(n) / 1e9) }
    if n >= 1_000_000 { return String(format: "%.2fM", Double(n) / 1e6) }
    if n >= 1000 { return String(format: "%.1fK", Double(n) / 1e3) }
    return "\(n)"
}
