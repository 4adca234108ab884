import Foundation

/// A safetensors file, memory-mapped and fully validated on opening. Tensor data is never copied: the
/// accessors hand out views into the mapping, which lives until this object is deinitialised. A tensor
/// library can wrap those views without copying (e.g. libtorch `from_blob`) as long as it keeps this
/// object alive for as long as it uses the memory, and as long as `SafetensorsTensorInfo.isAligned`.
///
/// The mapping is private (`MAP_PRIVATE`): changes never reach the file. In `.readOnly` mode the pages are
/// `PROT_READ`, so writing through a view crashes; open with `.copyOnWrite` when the memory may be
/// written in place (the written pages are then copied privately by the kernel).
///
/// As with every memory mapping, if another process truncates the file while it is mapped, touching the
/// lost pages raises SIGBUS; writers that replace files by renaming (as `SafetensorsWriter` does) are safe.
public final class SafetensorsFile: @unchecked Sendable {
    public enum MappingMode: Sendable {
        /// `PROT_READ`: any write through the views crashes.
        case readOnly
        /// `PROT_READ | PROT_WRITE`, still `MAP_PRIVATE`: writes stay in this process.
        case copyOnWrite
    }

    public let url: URL
    public let mode: MappingMode
    /// The validated header.
    public let header: SafetensorsHeader
    /// Size of the whole file in bytes.
    public let fileSize: Int

    /// The whole file, mapped; its base address is page-aligned.
    public let mappedBytes: UnsafeRawBufferPointer
    private let nameToIndex: [String: Int]

    /// `__metadata__` (empty when the file has none).
    public var metadata: [String: String] { header.metadata }
    /// Tensors in file order (by offset).
    public var tensors: [SafetensorsTensorInfo] { header.tensors }
    /// Where the data buffer starts in the file (= in `mappedBytes`).
    public var dataOffset: Int { header.dataOffset }
    /// The page-aligned start of the mapping (the file's byte 0).
    public var baseAddress: UnsafeRawPointer { mappedBytes.baseAddress! }
    /// The data buffer: all tensors' bytes, after the header.
    public var dataBuffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: mappedBytes[dataOffset...]) }

    /// Opens, maps and validates `url` (a file URL). Throws `SafetensorsError` naming the file for any
    /// problem; a malformed file never crashes.
    public init(url: URL, mode: MappingMode = .readOnly) throws(SafetensorsError) {
        let path = url.path
        func fail(_ problem: SafetensorsError.Problem) -> SafetensorsError {
            SafetensorsError(file: path, problem: problem)
        }
        func errnoText() -> String { String(cString: strerror(errno)) }

        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw fail(.cannotOpen(reason: errnoText())) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw fail(.cannotOpen(reason: errnoText())) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw fail(.notARegularFile) }
        let size = Int(st.st_size)
        // Checked before mapping: a zero-length mapping is an error, and a file this small is malformed.
        guard size >= 8 else { throw fail(.fileTooSmall(size: size)) }

        let protection = mode == .readOnly ? PROT_READ : (PROT_READ | PROT_WRITE)
        guard let raw = mmap(nil, size, protection, MAP_PRIVATE, fd, 0), raw != MAP_FAILED else {
            throw fail(.cannotMap(reason: errnoText()))
        }
        let mapped = UnsafeRawBufferPointer(start: raw, count: size)
        do {
            header = try SafetensorsHeader.parse(fileBytes: mapped, file: path)
        } catch {
            munmap(raw, size)
            throw error
        }
        self.url = url
        self.mode = mode
        self.fileSize = size
        self.mappedBytes = mapped
        var index: [String: Int] = [:]
        index.reserveCapacity(header.tensors.count)
        for (i, t) in header.tensors.enumerated() { index[t.name] = i }
        nameToIndex = index
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: mappedBytes.baseAddress!), mappedBytes.count)
    }

    /// The tensor called `name`, if any.
    public func info(_ name: String) -> SafetensorsTensorInfo? {
        nameToIndex[name].map { header.tensors[$0] }
    }

    /// The tensor called `name`, or an error naming the file.
    public func requireInfo(_ name: String) throws(SafetensorsError) -> SafetensorsTensorInfo {
        guard let info = info(name) else {
            throw SafetensorsError(file: url.path, problem: .tensorNotFound(name: name))
        }
        return info
    }

    /// A view of the tensor's bytes in the mapping. It stays valid only while this object is alive:
    /// keep a reference to the file for as long as the pointer (or a tensor over it) is used.
    public func bytes(of info: SafetensorsTensorInfo) -> UnsafeRawBufferPointer {
        let range = info.fileOffset..<(info.fileOffset + info.byteCount)
        precondition(range.upperBound <= fileSize && range.lowerBound >= dataOffset, "tensor info from another file")
        return UnsafeRawBufferPointer(rebasing: mappedBytes[range])
    }

    /// Calls `body` with a zero-copy view of the bytes of the tensor called `name`.
    public func withBytes<R>(of name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let info = try requireInfo(name)
        return try withExtendedLifetime(self) { try body(bytes(of: info)) }
    }

    /// Hands the memory pages that hold only `tensor`'s bytes back to the system (`MADV_DONTNEED`), when it is a
    /// tensor over this mapping (``tensor(_:)``), and does nothing otherwise. A later read maps the pages in again
    /// from the file, so tensors over the mapping stay valid, but pages written through a copy-on-write mapping
    /// lose their changes. For loaders that copy a tensor and move on.
    public func releasePages(of tensor: Tensor) {
        let start = Int(bitPattern: tensor.dataAddress), count = tensor.byteCount
        let base = Int(bitPattern: baseAddress) + dataOffset, limit = Int(bitPattern: baseAddress) + fileSize
        guard count > 0, start >= base, start + count <= limit else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let first = (start + page - 1) / page * page, end = (start + count) / page * page
        guard end > first else { return }
        _ = madvise(UnsafeMutableRawPointer(bitPattern: first), end - first, MADV_DONTNEED)
    }

    /// A copy of the bytes of the tensor called `name`.
    public func data(of name: String) throws(SafetensorsError) -> Data {
        Data(bytes(of: try requireInfo(name)))
    }
}
