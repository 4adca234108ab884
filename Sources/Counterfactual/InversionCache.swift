import Core
import Foundation
import Torch

/// Inversions kept on disk, keyed by the image, the model and every setting that changes the result, so that
/// many edits of one image pay for one inversion.
public struct InversionCache: Sendable {
    public let folder: URL

    public init(folder: URL) { self.folder = folder }

    /// `$XDG_CACHE_HOME/prism/inversions`, or `~/.cache/prism/inversions`.
    public static var defaultFolder: URL {
        let env = ProcessInfo.processInfo.environment
        let base = env["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
        return base.appendingPathComponent("prism/inversions")
    }

    /// The key: the model input's bytes, the model's identity and the settings, in a fixed order.
    public static func key(image: Tensor, modelIdentity: String, settings: [String: String]) -> String {
        var d = Digest()
        d.update(image.detach().to(.float32).contiguous().bytes())
        d.update(modelIdentity)
        for (k, v) in settings.sorted(by: { $0.key < $1.key }) { d.update(k); d.update(v) }
        return d.description
    }

    /// Who a model folder is, cheaply: each weight file's name, size and its first and last megabyte.
    public static func modelIdentity(_ folder: URL) -> String {
        let fm = FileManager.default
        let files = ((fm.enumerator(at: folder, includingPropertiesForKeys: nil)?.allObjects as? [URL]) ?? [])
            .filter { $0.pathExtension == "safetensors" || $0.lastPathComponent.hasSuffix("config.json") }
            .sorted { $0.path < $1.path }
        var d = Digest()
        for f in files {
            guard let h = try? FileHandle(forReadingFrom: f) else { continue }
            defer { try? h.close() }
            let size = (try? h.seekToEnd()) ?? 0
            d.update(String(f.path.dropFirst(folder.path.count)))
            d.update("\(size)")
            try? h.seek(toOffset: 0)
            d.update(Array((try? h.read(upToCount: 1 << 20)) ?? Data()))
            if size > 1 << 21 {
                try? h.seek(toOffset: size - (1 << 20))
                d.update(Array((try? h.read(upToCount: 1 << 20)) ?? Data()))
            }
        }
        return d.description
    }

    public func url(_ key: String) -> URL { folder.appendingPathComponent("\(key).safetensors") }

    public func load(_ key: String, method: InversionMethod) -> InversionResult? {
        guard let tensors = try? Safetensors.load(url(key)), let trajectory = tensors["trajectory"] else { return nil }
        let steps = trajectory.size(0)
        let nulls = tensors["null_embeddings"].map { t in (0..<t.size(0)).map { t[$0].unsqueeze(0) } }
        let losses = tensors["losses"]?.toArray(Float.self).map(Double.init) ?? []
        return InversionResult(method: method, trajectory: (0..<steps).map { trajectory[$0].unsqueeze(0) },
                               nullEmbeddings: nulls, losses: losses)
    }

    public func save(_ result: InversionResult, key: String, metadata: [String: String]) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var items: [(name: String, tensor: Tensor)] = [("trajectory", Tensor.cat(result.trajectory.map { $0.detach() }))]
        if let nulls = result.nullEmbeddings { items.append(("null_embeddings", Tensor.cat(nulls.map { $0.detach() }))) }
        if !result.losses.isEmpty { items.append(("losses", Tensor(result.losses.map(Float.init), shape: [result.losses.count]))) }
        try Safetensors.save(items, metadata: metadata, to: url(key))
    }
}
