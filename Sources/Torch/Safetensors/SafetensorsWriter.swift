import Foundation

/// Collects tensors and metadata and writes a safetensors file.
///
/// The layout mirrors the reference implementation (`safetensors.torch.save_file`): tensors ordered by
/// descending dtype alignment and then by name (byte order), `__metadata__` first with sorted keys (omitted
/// when `metadata` is nil), compact JSON padded with spaces to a multiple of 8 bytes. The same tensors and
/// metadata therefore give a byte-identical file, and every tensor's data is aligned for its dtype.
///
/// `write(to:)` writes `<name>.tmp-<random>` in the destination folder, fsyncs it, renames it over the
/// destination and fsyncs the folder: readers see the old file or the new one, never a partial one.
public struct SafetensorsWriter {
    /// Supplies a tensor's bytes at write time by calling `emit` one or more times with consecutive
    /// chunks that together hold exactly the declared byte count.
    public typealias ByteProvider = (_ emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Void

    struct Entry {
        let name: String
        let dtype: SafetensorsDType
        let shape: [Int]
        let byteCount: Int
        let provider: ByteProvider
    }

    /// Written as `__metadata__`; nil writes no `__metadata__` entry (an empty map writes `{}`).
    public var metadata: [String: String]?
    private(set) var entries: [Entry] = []
    private var names: Set<String> = []

    /// Used as the file name in errors raised before a destination is known.
    static let unsavedFileName = "<safetensors writer>"

    public init(metadata: [String: String]? = nil) {
        self.metadata = metadata
    }

    /// Names of the tensors added so far, in the order they were added.
    public var tensorNames: [String] { entries.map(\.name) }

    /// Adds a tensor whose bytes (little-endian, row-major) are copied from `bytes` at write time.
    public mutating func add(_ name: String, dtype: SafetensorsDType, shape: [Int], bytes: Data) throws(SafetensorsError) {
        try add(name, dtype: dtype, shape: shape, byteCount: bytes.count) { emit in
            try bytes.withUnsafeBytes { try emit($0) }
        }
    }

    /// Adds a tensor whose bytes are produced by `provider` when the file is written, so large tensors
    /// need not be copied into the writer (the provider may read straight from tensor memory).
    public mutating func add(
        _ name: String, dtype: SafetensorsDType, shape: [Int], byteCount: Int,
        provider: @escaping ByteProvider
    ) throws(SafetensorsError) {
        func fail(_ problem: SafetensorsError.Problem) -> SafetensorsError {
            SafetensorsError(file: Self.unsavedFileName, problem: problem)
        }
        if name == "__metadata__" { throw fail(.invalidTensorName(name: name, reason: "reserved for the metadata entry")) }
        if names.contains(name) { throw fail(.duplicateTensor(name: name)) }
        var count = 1
        for d in shape {
            guard d >= 0 else { throw fail(.invalidTensor(name: name, reason: "negative dimension \(d) in shape \(shape)")) }
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw fail(.sizeOverflow(tensor: name)) }
            count = p
        }
        let (expected, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw fail(.sizeOverflow(tensor: name)) }
        guard expected == byteCount else {
            throw fail(.invalidTensor(
                name: name,
                reason: "shape \(shape) of \(dtype.rawValue) needs \(expected) bytes but \(byteCount) were given"))
        }
        names.insert(name)
        entries.append(Entry(name: name, dtype: dtype, shape: shape, byteCount: byteCount, provider: provider))
    }

    /// The entries in file order.
    private var orderedEntries: [Entry] {
        entries.sorted { a, b in
            if a.dtype.layoutRank != b.dtype.layoutRank { return a.dtype.layoutRank > b.dtype.layoutRank }
            return a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
        }
    }

    /// The tensors as they will be laid out in the file.
    public var layout: [SafetensorsTensorInfo] {
        let header = headerBytes(orderedEntries)
        var offset = 0
        return orderedEntries.map { e in
            defer { offset += e.byteCount }
            return SafetensorsTensorInfo(
                name: e.name, dtype: e.dtype, shape: e.shape, byteRange: offset..<(offset + e.byteCount),
                fileOffset: 8 + header.count + offset)
        }
    }

    /// The JSON header with its space padding (without the 8-byte length prefix).
    private func headerBytes(_ ordered: [Entry]) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "{")]
        var first = true
        func separator() {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
        }
        func appendInt(_ v: Int) { out += Array(String(v).utf8) }
        if let metadata {
            separator()
            SafetensorsJSON.appendString("__metadata__", to: &out)
            out += Array(":{".utf8)
            let keys = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for (i, key) in keys.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                SafetensorsJSON.appendString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                SafetensorsJSON.appendString(metadata[key]!, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
        var offset = 0
        for e in ordered {
            separator()
            SafetensorsJSON.appendString(e.name, to: &out)
            out += Array(":{\"dtype\":".utf8)
            SafetensorsJSON.appendString(e.dtype.rawValue, to: &out)
            out += Array(",\"shape\":[".utf8)
            for (i, d) in e.shape.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                appendInt(d)
            }
            out += Array("],\"data_offsets\":[".utf8)
            appendInt(offset)
            out.append(UInt8(ascii: ","))
            offset += e.byteCount
            appendInt(offset)
            out += Array("]}".utf8)
        }
        out.append(UInt8(ascii: "}"))
        out += [UInt8](repeating: UInt8(ascii: " "), count: (8 - out.count % 8) % 8)
        return out
    }

    /// Streams the whole file to `sink`; `file` names the destination in errors.
    private func emitFile(file: String, to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let ordered = orderedEntries
        let header = headerBytes(ordered)
        guard header.count <= SafetensorsHeader.maxHeaderLength else {
            throw SafetensorsError(
                file: file,
                problem: .headerTooLarge(length: UInt64(header.count), limit: SafetensorsHeader.maxHeaderLength))
        }
        var prefix = [UInt8](repeating: 0, count: 8)
        for k in 0..<8 { prefix[k] = UInt8(truncatingIfNeeded: UInt64(header.count) >> (8 * UInt64(k))) }
        try (prefix + header).withUnsafeBytes { try sink($0) }
        for e in ordered {
            var written = 0
            try e.provider { chunk in
                written += chunk.count
                guard written <= e.byteCount else { return }
                try sink(chunk)
            }
            guard written == e.byteCount else {
                throw SafetensorsError(
                    file: file,
                    problem: .invalidTensor(
                        name: e.name, reason: "its byte provider supplied \(written) bytes, expected \(e.byteCount)"))
            }
        }
    }

    /// The whole file in memory.
    public func serialized() throws -> Data {
        var data = Data()
        try emitFile(file: Self.unsavedFileName) { data.append(contentsOf: $0) }
        return data
    }

    /// Writes the file atomically: a temporary file in the same folder, fsync, rename over `url`, fsync of
    /// the folder. On failure the temporary file is removed and `url` is left as it was. Errors are
    /// `SafetensorsError`s naming `url`, or whatever a byte provider throws.
    public func write(to url: URL) throws {
        let path = url.path
        func fail(_ reason: String) -> SafetensorsError {
            SafetensorsError(file: path, problem: .writeFailed(reason: reason))
        }
        func errnoText() -> String { String(cString: strerror(errno)) }

        let directory = url.deletingLastPathComponent().path
        let random = String(UInt64.random(in: .min ... .max), radix: 36)
        let tmpPath = "\(path).tmp-\(random)"
        let fd = open(tmpPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fail("cannot create the temporary file \(tmpPath): \(errnoText())") }
        var closed = false
        var renamed = false
        defer {
            if !closed { close(fd) }
            if !renamed { unlink(tmpPath) }
        }

        try emitFile(file: path) { chunk in
            guard var p = chunk.baseAddress else { return }
            var left = chunk.count
            while left > 0 {
                let n = Foundation.write(fd, p, min(left, 1 << 30))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw fail("writing \(tmpPath): \(errnoText())")
                }
                p += n
                left -= n
            }
        }
        guard fsync(fd) == 0 else { throw fail("fsync of \(tmpPath): \(errnoText())") }
        closed = true
        guard close(fd) == 0 else { throw fail("closing \(tmpPath): \(errnoText())") }
        guard rename(tmpPath, path) == 0 else { throw fail("renaming \(tmpPath) to \(path): \(errnoText())") }
        renamed = true
        // Make the rename itself durable; best effort (some file systems refuse fsync on a folder).
        let dirFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_CLOEXEC)
        if dirFD >= 0 {
            _ = fsync(dirFD)
            close(dirFD)
        }
    }
}
