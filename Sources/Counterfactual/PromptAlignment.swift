import Foundation

/// What prompt-to-prompt needs from a tokenizer: a prompt's ids with its start and end tokens and no padding,
/// and the text of one token (CLIP's `decode([id])`, the end-of-word marker turned into nothing).
public protocol PromptTokenizing {
    func tokenIDs(_ text: String) -> [Int]
    func tokenText(_ id: Int) -> String
    /// The padded length of the text encoder's input (CLIP: 77): the length of every token map here.
    var modelMaxLength: Int { get }
}

public struct PromptAlignmentError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// Token bookkeeping of prompt-to-prompt (Hertz et al. 2022; google/prompt-to-prompt `seq_aligner.py` and
/// `ptp_utils.py`), index for index, so that attention maps of a source prompt land on the right tokens of
/// an edited one.
public enum PromptAlignment {
    /// The token positions (1-based, the start token is 0) of the space-separated word at `wordIndex`.
    public static func tokenIndices(of wordIndex: Int, in text: String, _ tokenizer: PromptTokenizing) -> [Int] {
        tokenIndices(ofWords: [wordIndex], in: text, tokenizer)
    }

    /// The token positions of every occurrence of `word` (compared with the space-separated words as written).
    public static func tokenIndices(of word: String, in text: String, _ tokenizer: PromptTokenizing) -> [Int] {
        let words = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        return tokenIndices(ofWords: words.indices.filter { words[$0] == word }, in: text, tokenizer)
    }

    /// Walks the prompt's tokens, counting characters, to tell which word each token belongs to (as ptp_utils'
    /// `get_word_inds`).
    static func tokenIndices(ofWords places: [Int], in text: String, _ tokenizer: PromptTokenizing) -> [Int] {
        guard !places.isEmpty else { return [] }
        let words = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        let ids = tokenizer.tokenIDs(text)
        guard ids.count > 2 else { return [] }
        let pieces = ids[1..<(ids.count - 1)].map { tokenizer.tokenText($0).trimmingCharacters(in: CharacterSet(charactersIn: "#")) }
        var out: [Int] = []
        var length = 0, pointer = 0
        for (i, piece) in pieces.enumerated() {
            length += piece.unicodeScalars.count
            if places.contains(pointer) { out.append(i + 1) }
            if pointer < words.count && length >= words[pointer].unicodeScalars.count {
                pointer += 1
                length = 0
            }
        }
        return out
    }

    /// The L×L map (L: the tokenizer's `modelMaxLength`) from a source prompt's tokens to a target's, for a word swap (`AttentionReplace`): both
    /// prompts have the same number of words, and a word that became several tokens shares its attention.
    public static func replacementMapper(source: String, target: String, _ tokenizer: PromptTokenizing,
                                         maxLength: Int? = nil) throws -> [[Float]] {
        let maxLength = maxLength ?? tokenizer.modelMaxLength
        let wordsX = source.split(separator: " ", omittingEmptySubsequences: false)
        let wordsY = target.split(separator: " ", omittingEmptySubsequences: false)
        guard wordsX.count == wordsY.count else {
            throw PromptAlignmentError(description: "a word swap needs prompts with the same number of words, but "
                + "\"\(source)\" has \(wordsX.count) and \"\(target)\" has \(wordsY.count); use a refinement instead")
        }
        let replaced = wordsY.indices.filter { wordsY[$0] != wordsX[$0] }
        let sourceIndices = replaced.map { tokenIndices(of: $0, in: source, tokenizer) }
        let targetIndices = replaced.map { tokenIndices(of: $0, in: target, tokenizer) }
        var mapper = Array(repeating: Array(repeating: Float(0), count: maxLength), count: maxLength)
        var i = 0, j = 0, current = 0
        while i < maxLength && j < maxLength {
            if current < sourceIndices.count, let first = sourceIndices[current].first, first == i {
                let s = sourceIndices[current], t = targetIndices[current]
                if s.count == t.count {
                    for (a, b) in zip(s, t) { mapper[a][b] = 1 }
                } else {
                    let ratio = 1 / Float(t.count)
                    for a in s { for b in t { mapper[a][b] = ratio } }
                }
                current += 1
                i += s.count
                j += t.count
            } else if current < sourceIndices.count {
                mapper[i][j] = 1
                i += 1
                j += 1
            } else {
                // The reference writes the diagonal once the swapped words are behind it.
                mapper[j][j] = 1
                i += 1
                j += 1
            }
        }
        return mapper
    }

    /// For prompts of different lengths (`AttentionRefine`): for each target token, the source token it aligns
    /// with (Needleman–Wunsch on the token ids: gap 0, match 1, mismatch −1), and 1 where that exists, 0 for a
    /// token the target added.
    public static func refinementMapper(source: String, target: String, _ tokenizer: PromptTokenizing,
                                        maxLength: Int? = nil) -> (mapper: [Int], alphas: [Float]) {
        let maxLength = maxLength ?? tokenizer.modelMaxLength
        let x = tokenizer.tokenIDs(source), y = tokenizer.tokenIDs(target)
        let pairs = globalAlignment(x, y)
        var mapper = Array(repeating: 0, count: maxLength)
        var alphas = Array(repeating: Float(1), count: maxLength)
        for (k, pair) in pairs.enumerated() where k < maxLength {
            mapper[k] = pair.source
            alphas[k] = pair.source == -1 ? 0 : 1
        }
        var next = y.count
        for k in pairs.count..<max(pairs.count, maxLength) {
            mapper[k] = next
            next += 1
        }
        return (mapper, alphas)
    }

    /// Global alignment of y against x: for each element of y in order, the index in x it is aligned with,
    /// or −1 (as `global_align` + `get_aligned_sequences`, ties broken the same way: left, then up, then diagonal).
    static func globalAlignment(_ x: [Int], _ y: [Int]) -> [(target: Int, source: Int)] {
        let gap = 0, match = 1, mismatch = -1
        let n = x.count, m = y.count
        var score = Array(repeating: Array(repeating: 0, count: m + 1), count: n + 1)
        var trace = Array(repeating: Array(repeating: 0, count: m + 1), count: n + 1)
        for j in 1...max(m, 1) where j <= m { score[0][j] = j * gap; trace[0][j] = 1 }
        for i in 1...max(n, 1) where i <= n { score[i][0] = i * gap; trace[i][0] = 2 }
        trace[0][0] = 4
        if n > 0 && m > 0 {
            for i in 1...n {
                for j in 1...m {
                    let left = score[i][j - 1] + gap
                    let up = score[i - 1][j] + gap
                    let diag = score[i - 1][j - 1] + (x[i - 1] == y[j - 1] ? match : mismatch)
                    let best = max(left, up, diag)
                    score[i][j] = best
                    trace[i][j] = best == left ? 1 : best == up ? 2 : 3
                }
            }
        }
        var out: [(Int, Int)] = []
        var i = n, j = m
        loop: while i > 0 || j > 0 {
            switch trace[i][j] {
            case 3: i -= 1; j -= 1; out.append((j, i))
            case 1: j -= 1; out.append((j, -1))
            case 2: i -= 1
            default: break loop
            }
        }
        return out.reversed().map { (target: $0.0, source: $0.1) }
    }

    /// How much of each target prompt's cross-attention is taken from the source at each step
    /// (`get_time_words_attention_alpha`): `[step][edit][token]`, steps 0…`steps` inclusive. `default` is the
    /// (start, end) fraction of steps for every token; `words` overrides it for chosen words of the targets.
    public static func crossAttentionSchedule(prompts: [String], steps: Int, default bounds: (Double, Double),
                                              words: [String: (Double, Double)] = [:], _ tokenizer: PromptTokenizing,
                                              maxLength: Int? = nil) -> [[[Float]]] {
        let maxLength = maxLength ?? tokenizer.modelMaxLength
        let edits = prompts.count - 1
        var alpha = Array(repeating: Array(repeating: Array(repeating: Float(0), count: maxLength), count: edits),
                          count: steps + 1)
        func update(_ bounds: (Double, Double), _ edit: Int, _ tokens: [Int]?) {
            let start = Int(bounds.0 * Double(steps + 1)), end = Int(bounds.1 * Double(steps + 1))
            for s in 0...steps {
                let v: Float = s >= start && s < end ? 1 : 0
                for t in tokens ?? Array(0..<maxLength) { alpha[s][edit][t] = v }
            }
        }
        for e in 0..<edits { update(bounds, e, nil) }
        for (word, b) in words.sorted(by: { $0.key < $1.key }) {
            for e in 0..<edits {
                let indices = tokenIndices(of: word, in: prompts[e + 1], tokenizer)
                if !indices.isEmpty { update(b, e, indices) }
            }
        }
        return alpha
    }

    /// Per-token attention scale for `AttentionReweight` (`get_equalizer`): 1 everywhere but the chosen words.
    public static func equalizer(text: String, words: [(String, Double)], _ tokenizer: PromptTokenizing,
                                 maxLength: Int? = nil) -> [Float] {
        let maxLength = maxLength ?? tokenizer.modelMaxLength
        var eq = Array(repeating: Float(1), count: maxLength)
        for (word, value) in words {
            for i in tokenIndices(of: word, in: text, tokenizer) where i < maxLength { eq[i] = Float(value) }
        }
        return eq
    }
}
