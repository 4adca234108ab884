import ArgumentParser
import Foundation
import Imaging
import Torch

// Checks of option values that several commands share. Each refusal names the option, the value given and what is
// allowed, so that a bad value is refused in `validate()`, before any model loads or any file is written.

/// The numbers an option allows: an interval whose ends may be open, closed or absent (unbounded).
struct Allowed: CustomStringConvertible {
    var lower: Double?
    var lowerOpen = false
    var upper: Double?
    var upperOpen = false

    /// [a, b]
    static func closed(_ a: Double, _ b: Double) -> Allowed { Allowed(lower: a, upper: b) }
    /// (a, b)
    static func open(_ a: Double, _ b: Double) -> Allowed { Allowed(lower: a, lowerOpen: true, upper: b, upperOpen: true) }
    /// [a, b)
    static func upToExcluding(_ a: Double, _ b: Double) -> Allowed { Allowed(lower: a, upper: b, upperOpen: true) }
    /// (a, b]
    static func aboveUpTo(_ a: Double, _ b: Double) -> Allowed { Allowed(lower: a, lowerOpen: true, upper: b) }
    /// a or more
    static func atLeast(_ a: Double) -> Allowed { Allowed(lower: a) }
    /// more than a
    static func above(_ a: Double) -> Allowed { Allowed(lower: a, lowerOpen: true) }

    func contains(_ x: Double) -> Bool {
        if let lower, lowerOpen ? x <= lower : x < lower { return false }
        if let upper, upperOpen ? x >= upper : x > upper { return false }
        return true
    }

    var description: String {
        switch (lower, upper) {
        case let (a?, b?): return "in \(lowerOpen ? "(" : "[")\(number(a)), \(number(b))\(upperOpen ? ")" : "]")"
        case let (a?, nil): return "\(lowerOpen ? ">" : ">=") \(number(a))"
        case let (nil, b?): return "\(upperOpen ? "<" : "<=") \(number(b))"
        case (nil, nil): return "(any finite number)"
        }
    }
}

/// A number as a user would type it: 1 rather than 1.0, 0.5, 1e-06.
func number(_ x: Double) -> String {
    x.isFinite && x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)"
}

/// Refuses NaN, ±infinity and values outside `range`, naming the option, the value and the allowed range.
func requireFinite(_ value: Double, _ option: String, range: Allowed) throws {
    guard value.isFinite else {
        throw ValidationError("\(option) \(value): not a finite number; use a number \(range)")
    }
    guard range.contains(value) else { throw ValidationError("\(option) \(number(value)): use a number \(range)") }
}

/// `requireFinite` for an option that may be absent.
func requireFinite(_ value: Double?, _ option: String, range: Allowed) throws {
    if let value { try requireFinite(value, option, range: range) }
}

/// Refuses a whole-number option below `minimum` (or above `maximum`), naming the option and the allowed values.
func requireCount(_ value: Int, _ option: String, atLeast minimum: Int, atMost maximum: Int? = nil) throws {
    if value < minimum || maximum.map({ value > $0 }) == true {
        let allowed = maximum.map { "from \(minimum) to \($0)" } ?? "\(minimum) or more"
        throw ValidationError("\(option) \(value): use a whole number \(allowed)")
    }
}

/// `requireCount` for an option that may be absent.
func requireCount(_ value: Int?, _ option: String, atLeast minimum: Int, atMost maximum: Int? = nil) throws {
    if let value { try requireCount(value, option, atLeast: minimum, atMost: maximum) }
}

/// Refuses an image side (pixels) that the VAE cannot take: not a positive multiple of its factor, 8.
func requireImageSide(_ value: Int?, _ option: String) throws {
    if let value, value < 8 || value % 8 != 0 {
        throw ValidationError("\(option) \(value): use a positive multiple of 8 (the VAE's downscale factor)")
    }
}

/// Refuses a value that is not one of `choices`.
func requireChoice(_ value: String, _ option: String, _ choices: [String]) throws {
    guard choices.contains(value) else {
        throw ValidationError("\(option) \(value): use \(choices.dropLast().joined(separator: ", ")) or \(choices.last!)")
    }
}

// MARK: Devices

/// The device a `--device` value names, refused when this process cannot use it: a CUDA device on a machine (or a
/// libtorch) without one would otherwise fail deep inside the first tensor copy.
func requireDevice(_ name: String, option: String = "--device") throws -> Device {
    guard let device = Device(name: name) else { throw ValidationError("\(option) \(name): use cpu, cuda, cuda:N or auto") }
    guard case .cuda(let index) = device else { return device }
    let count = Device.cudaAvailable ? Device.cudaDeviceCount : 0
    if count == 0 {
        throw ValidationError("\(option) \(name): no CUDA device here (this libtorch: \(libtorchBuild); "
                              + "CUDA available: no); use --device cpu or auto")
    }
    guard index < count else {
        throw ValidationError("\(option) \(name): there is no such device; this machine has \(count) "
                              + "(cuda:0\(count > 1 ? "...cuda:\(count - 1)" : ""))")
    }
    return device
}

/// Whether the libtorch this process runs on was built with CUDA (its libtorch_cuda is loaded), in words.
var libtorchBuild: String {
    let cuda = ["libtorch_cuda.so", "libtorch_cuda.dylib"].contains { name in
        guard let handle = dlopen(name, RTLD_NOW | RTLD_NOLOAD) else { return false }
        dlclose(handle)
        return true
    }
    return cuda ? "built with CUDA, but no GPU is visible" : "CPU only"
}

// MARK: Input files

/// Refuses a path that is not an existing regular file (a folder, a missing file), naming the option and the path.
func requireRegularFile(_ path: String, _ option: String) throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw CLIError("\(option) \(path): no such file")
    }
    guard !isDirectory.boolValue else { throw CLIError("\(option) \(path): a folder, not a file") }
}

/// Refuses a path that is not an existing folder, naming the option and the path.
func requireFolder(_ path: String, _ option: String) throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw CLIError("\(option) \(path): no such folder")
    }
    guard isDirectory.boolValue else { throw CLIError("\(option) \(path): a file, not a folder") }
}

/// Refuses a folder that could not be made or written, without making it: the path, if it exists, must be a
/// writable folder, else its nearest existing parent must be one (for commands that write only after long work).
func requireWritableFolder(_ path: String, _ option: String) throws {
    var url = URL(fileURLWithPath: path).standardizedFileURL
    var isDirectory: ObjCBool = false
    while !FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), url.path != "/" {
        url.deleteLastPathComponent()
    }
    guard isDirectory.boolValue else { throw CLIError("\(option) \(path): \(url.path) is a file, not a folder") }
    guard access(url.path, W_OK | X_OK) == 0 else {
        throw CLIError("\(option) \(path): cannot write into \(url.path) (\(String(cString: strerror(errno))))")
    }
}

/// Reads an input image (PNG or JPEG), refusing a path that is not a file, a file that does not decode and an
/// image smaller than `minimumSide` on a side, each naming the option and the file.
func readInputImage(_ path: String, _ option: String, minimumSide: Int = 1, window: DICOMWindow = .auto) throws -> Image {
    try requireRegularFile(path, option)
    let image: Image
    do { image = try Image(contentsOf: URL(fileURLWithPath: path), window: window) } catch let error as ImagingError {
        throw CLIError("\(option) \(error)")
    }
    guard image.width >= minimumSide, image.height >= minimumSide else {
        throw CLIError("\(option) \(path): \(image.width)×\(image.height) pixels, too small; give an image at least "
                       + "\(minimumSide)×\(minimumSide)")
    }
    return image
}
