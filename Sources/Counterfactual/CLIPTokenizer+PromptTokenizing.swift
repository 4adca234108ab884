import Tokenizer

extension CLIPTokenizer: PromptTokenizing {
    /// Start token, the prompt's tokens, end token: `tokenizer.encode(text)` of transformers.
    public func tokenIDs(_ text: String) -> [Int] { [bosTokenID] + tokenize(text) + [eosTokenID] }

    /// `tokenizer.decode([id])`.
    public func tokenText(_ id: Int) -> String { decode([id], skipSpecialTokens: false) }
}
