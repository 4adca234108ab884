import ArgumentParser
import Torch

/// The compute precision a `--dtype` option names: fp32 or bf16 (also spelled float32, bfloat16).
func parseDType(_ text: String) throws -> DType {
    switch text.lowercased() {
    case "fp32", "float32": return .float32
    case "bf16", "bfloat16": return .bfloat16
    default: throw ValidationError("--dtype \(text): use fp32 or bf16")
    }
}
