// CLIP tokenizer.
