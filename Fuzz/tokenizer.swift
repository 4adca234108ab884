// libFuzzer target: reading a CLIP tokenizer folder (Sources/Tokenizer) and tokenizing with it.
//
// The input packs a folder into one byte string, parts separated by the byte 0x1E (ASCII record separator):
//   vocab.json 0x1E merges.txt 0x1E tokenizer_config.json 0x1E prompt 0x1E tokenizer.json
// A missing or empty tokenizer_config.json or tokenizer.json part means no such file (with a tokenizer.json the
// folder is read from it, as transformers 5 saves it; without, from vocab.json and merges.txt). The parts are
// written to a private temporary folder (the tokenizer reads files) and CLIPTokenizer(folder:) reads it.
// Checked on every input:
// - loading never traps, and a failure is a TokenizerError naming a file of the folder;
// - a loaded tokenizer encodes the prompt (and the vocabulary's own tokens) without trapping: start token first,
//   end token kept, padded to the length asked for, truncation reported; decoding the ids never traps.
import Foundation
@testable import Tokenizer

private let separator: UInt8 = 0x1E
private let folder: URL = {
    let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    let url = URL(fileURLWithPath: base).appendingPathComponent("prism-fuzz-tokenizer-\(getpid())")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(atPath: "/dev/shm/prism-fuzz-tokenizer-\(getpid())") }
    return url
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let parts = UnsafeBufferPointer(start: data, count: size).split(separator: separator, omittingEmptySubsequences: false)
    func part(_ i: Int) -> Data? { i < parts.count ? Data(parts[i]) : nil }
    write(part(0) ?? Data(), "vocab.json")
    write(part(1) ?? Data(), "merges.txt")
    write(part(2).flatMap { $0.isEmpty ? nil : $0 }, "tokenizer_config.json")
    let prompt = String(decoding: part(3) ?? Data(), as: UTF8.self)
    write(part(4).flatMap { $0.isEmpty ? nil : $0 }, "tokenizer.json")

    let tokenizer: CLIPTokenizer
    do {
        tokenizer = try CLIPTokenizer(folder: folder)
    } catch let error as TokenizerError {
        check(error.path.hasPrefix(folder.path), "the error names \(error.path), not a file of the folder")
        check(!error.problem.isEmpty && !error.description.contains("\n"), "not a one-line message: \(error)")
        return 0
    } catch {
        fail("CLIPTokenizer threw \(type(of: error)), not a TokenizerError: \(error)")
    }

    for length in [nil, 2, 8] as [Int?] {
        let encoding = tokenizer.encode(prompt, maxLength: length)
        let expected = length ?? tokenizer.modelMaxLength
        check(encoding.ids.count == max(expected, 2),
              "\(encoding.ids.count) ids for a length of \(expected)")
        check(encoding.ids.first == tokenizer.bosTokenID, "the start token is not first")
        check(encoding.truncated == (encoding.fullLength > max(expected, 2)), "truncation misreported")
        _ = tokenizer.decode(encoding.ids)
        _ = tokenizer.decode(encoding.ids, skipSpecialTokens: false)
    }
    _ = tokenizer.encode(prompt, padding: false)
    // Every token of the vocabulary, as text, tokenizes (the merges make odd symbols from odd vocabularies).
    for token in tokenizer.vocabulary.keys.prefix(64) { _ = tokenizer.tokenize(token) }
    _ = tokenizer.decode(Array(tokenizer.tokens.keys.prefix(64)) + [-1, Int.max, Int.min])
    return 0
}

private func write(_ data: Data?, _ name: String) {
    let url = folder.appendingPathComponent(name)
    if let data {
        try! data.write(to: url)
    } else {
        try? FileManager.default.removeItem(at: url)
    }
}

private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}

private func fail(_ message: String) -> Never {
    fatalError("tokenizer fuzz: \(message)")
}
