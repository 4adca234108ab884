// Shared by the shim's translation units: handle conversion, dtype mapping and the exception guard.
#pragma once
#include "ctorch.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <exception>
#include <string>
#include <vector>

namespace ctorch {

void set_error(const std::string &message);

inline pt_tensor wrap(at::Tensor t) { return reinterpret_cast<pt_tensor>(new at::Tensor(std::move(t))); }
inline at::Tensor &T(pt_tensor p) { return *reinterpret_cast<at::Tensor *>(p); }
inline std::optional<at::Tensor> opt(pt_tensor p) {
    if (p == nullptr) return std::nullopt;
    return T(p);
}
inline at::Tensor or_undefined(pt_tensor p) { return p == nullptr ? at::Tensor() : T(p); }
inline at::IntArrayRef ints(const int64_t *p, int64_t n) { return at::IntArrayRef(p, static_cast<size_t>(n)); }

inline at::ScalarType scalar_type(int32_t dtype) {
    switch (dtype) {
    case PT_FLOAT32: return at::kFloat;
    case PT_FLOAT16: return at::kHalf;
    case PT_BFLOAT16: return at::kBFloat16;
    case PT_FLOAT64: return at::kDouble;
    case PT_INT64: return at::kLong;
    case PT_INT32: return at::kInt;
    case PT_INT16: return at::kShort;
    case PT_INT8: return at::kChar;
    case PT_UINT8: return at::kByte;
    case PT_BOOL: return at::kBool;
    }
    throw std::invalid_argument("unknown Prism dtype code " + std::to_string(dtype));
}

inline int32_t dtype_code(at::ScalarType t) {
    switch (t) {
    case at::kFloat: return PT_FLOAT32;
    case at::kHalf: return PT_FLOAT16;
    case at::kBFloat16: return PT_BFLOAT16;
    case at::kDouble: return PT_FLOAT64;
    case at::kLong: return PT_INT64;
    case at::kInt: return PT_INT32;
    case at::kShort: return PT_INT16;
    case at::kChar: return PT_INT8;
    case at::kByte: return PT_UINT8;
    case at::kBool: return PT_BOOL;
    default: return -1;
    }
}

inline at::Device device(pt_device d) {
    switch (d.type) {
    case PT_CPU: return at::Device(at::kCPU);
    case PT_CUDA: return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(d.index));
    }
    throw std::invalid_argument("unknown Prism device type " + std::to_string(d.type));
}

inline at::TensorOptions options(pt_options o) {
    return at::TensorOptions().dtype(scalar_type(o.dtype)).device(device(o.device));
}

inline std::optional<at::Generator> generator(pt_generator g) {
    if (g == nullptr) return std::nullopt;
    return *reinterpret_cast<at::Generator *>(g);
}

} // namespace ctorch

// Runs `body`; a C++ exception becomes a non-zero status and a message for pt_last_error().
#define PT_GUARD(...)                                                                                           \
    try {                                                                                                        \
        __VA_ARGS__;                                                                                                  \
        return 0;                                                                                                \
    } catch (const c10::Error &e) {                                                                              \
        ctorch::set_error(e.what_without_backtrace());                                                           \
        return 1;                                                                                                \
    } catch (const std::exception &e) {                                                                          \
        ctorch::set_error(e.what());                                                                             \
        return 1;                                                                                                \
    } catch (...) {                                                                                              \
        ctorch::set_error("unknown C++ exception");                                                              \
        return 1;                                                                                                \
    }
