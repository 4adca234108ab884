// Library state, generators, tensor lifecycle, creation and autograd.
#include "internal.hpp"

#include <ATen/autocast_mode.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/GradMode.h>
#include <torch/headeronly/version.h>

#include <cstdlib>
#include <cstring>
#include <sstream>

using namespace ctorch;

namespace ctorch {
static thread_local std::string last_error;
void set_error(const std::string &message) { last_error = message; }
} // namespace ctorch

#define STR_(x) #x
#define STR(x) STR_(x)

extern "C" {

const char *pt_last_error(void) { return last_error.c_str(); }
const char *pt_version(void) {
    return STR(TORCH_VERSION_MAJOR) "." STR(TORCH_VERSION_MINOR) "." STR(TORCH_VERSION_PATCH);
}
bool pt_cuda_available(void) {
    try {
        return at::detail::getCUDAHooks().hasCUDA();
    } catch (...) {
        return false;
    }
}
int64_t pt_cuda_device_count(void) {
    try {
        return at::detail::getCUDAHooks().deviceCount();
    } catch (...) {
        return 0;
    }
}
pt_status pt_cuda_synchronize(int64_t device) {
    PT_GUARD(at::detail::getCUDAHooks().deviceSynchronize(static_cast<c10::DeviceIndex>(device)));
}
void pt_set_num_threads(int32_t n) { at::set_num_threads(n); }
int32_t pt_get_num_threads(void) { return at::get_num_threads(); }
void pt_manual_seed(uint64_t seed) {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
}
bool pt_grad_enabled(void) { return c10::GradMode::is_enabled(); }
void pt_set_grad_enabled(bool enabled) { c10::GradMode::set_enabled(enabled); }

pt_status pt_autocast_enter(int32_t device_type, int32_t dtype, bool *previous_enabled, int32_t *previous_dtype) {
    PT_GUARD({
        auto dev = device_type == PT_CUDA ? at::kCUDA : at::kCPU;
        *previous_enabled = at::autocast::is_autocast_enabled(dev);
        *previous_dtype = dtype_code(at::autocast::get_autocast_dtype(dev));
        at::autocast::set_autocast_enabled(dev, true);
        at::autocast::set_autocast_dtype(dev, scalar_type(dtype));
        at::autocast::increment_nesting();
    });
}
pt_status pt_autocast_exit(int32_t device_type, bool previous_enabled, int32_t previous_dtype) {
    PT_GUARD({
        auto dev = device_type == PT_CUDA ? at::kCUDA : at::kCPU;
        if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
        at::autocast::set_autocast_enabled(dev, previous_enabled);
        if (previous_dtype >= 0) at::autocast::set_autocast_dtype(dev, scalar_type(previous_dtype));
    });
}
void pt_free(void *ptr) { std::free(ptr); }

// ---- generators -----------------------------------------------------------------------------------------
pt_status pt_generator_new(uint64_t seed, pt_generator *out) {
    PT_GUARD(*out = reinterpret_cast<pt_generator>(new at::Generator(at::detail::createCPUGenerator(seed))));
}
void pt_generator_free(pt_generator g) { delete reinterpret_cast<at::Generator *>(g); }
pt_status pt_generator_set_seed(pt_generator g, uint64_t seed) {
    PT_GUARD({
        auto &gen = *reinterpret_cast<at::Generator *>(g);
        std::lock_guard<std::mutex> lock(gen.mutex());
        gen.set_current_seed(seed);
    });
}
pt_status pt_generator_get_state(pt_generator g, pt_tensor *out) {
    PT_GUARD({
        auto &gen = *reinterpret_cast<at::Generator *>(g);
        std::lock_guard<std::mutex> lock(gen.mutex());
        *out = wrap(gen.get_state());
    });
}
pt_status pt_generator_set_state(pt_generator g, pt_tensor state) {
    PT_GUARD({
        auto &gen = *reinterpret_cast<at::Generator *>(g);
        std::lock_guard<std::mutex> lock(gen.mutex());
        gen.set_state(T(state));
    });
}

// ---- lifecycle and inspection -----------------------------------------------------------------------------
void pt_tensor_free(pt_tensor t) { delete reinterpret_cast<at::Tensor *>(t); }
pt_status pt_undefined(pt_tensor *out) { PT_GUARD(*out = wrap(at::Tensor())); }
bool pt_defined(pt_tensor t) { return T(t).defined(); }
int64_t pt_dim(pt_tensor t) { return T(t).defined() ? T(t).dim() : 0; }
int64_t pt_sizes(pt_tensor t, int64_t *out, int64_t capacity) {
    if (!T(t).defined()) return 0;
    auto s = T(t).sizes();
    for (int64_t i = 0; i < static_cast<int64_t>(s.size()) && i < capacity; ++i) out[i] = s[i];
    return static_cast<int64_t>(s.size());
}
int64_t pt_strides(pt_tensor t, int64_t *out, int64_t capacity) {
    if (!T(t).defined()) return 0;
    auto s = T(t).strides();
    for (int64_t i = 0; i < static_cast<int64_t>(s.size()) && i < capacity; ++i) out[i] = s[i];
    return static_cast<int64_t>(s.size());
}
int64_t pt_numel(pt_tensor t) { return T(t).defined() ? T(t).numel() : 0; }
int32_t pt_dtype_of(pt_tensor t) { return T(t).defined() ? dtype_code(T(t).scalar_type()) : -1; }
pt_device pt_device_of(pt_tensor t) {
    pt_device d{PT_CPU, -1};
    if (!T(t).defined()) return d;
    auto dev = T(t).device();
    if (dev.is_cuda()) d.type = PT_CUDA;
    d.index = dev.has_index() ? dev.index() : -1;
    return d;
}
bool pt_requires_grad(pt_tensor t) { return T(t).defined() && T(t).requires_grad(); }
int64_t pt_version_counter(pt_tensor t) { return T(t).defined() ? static_cast<int64_t>(T(t)._version()) : 0; }
bool pt_autocast_enabled(int32_t device_type) {
    return at::autocast::is_autocast_enabled(device_type == PT_CUDA ? at::kCUDA : at::kCPU);
}
bool pt_is_leaf(pt_tensor t) { return T(t).defined() && T(t).is_leaf(); }
bool pt_is_contiguous(pt_tensor t, bool channels_last) {
    return T(t).is_contiguous(channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous);
}
pt_status pt_to_string(pt_tensor t, char **out) {
    PT_GUARD({
        std::ostringstream s;
        s << T(t);
        auto str = s.str();
        *out = static_cast<char *>(std::malloc(str.size() + 1));
        std::memcpy(*out, str.c_str(), str.size() + 1);
    });
}
pt_status pt_item_double(pt_tensor t, double *out) { PT_GUARD(*out = T(t).item<double>()); }
pt_status pt_item_int64(pt_tensor t, int64_t *out) { PT_GUARD(*out = T(t).item<int64_t>()); }
pt_status pt_copy_to_buffer(pt_tensor t, void *dst, size_t nbytes) {
    PT_GUARD({
        auto c = T(t).detach().to(at::kCPU).contiguous();
        size_t have = c.numel() * c.element_size();
        if (have != nbytes)
            throw std::invalid_argument("copy out: tensor holds " + std::to_string(have) + " bytes, buffer " +
                                        std::to_string(nbytes));
        if (have > 0) std::memcpy(dst, c.data_ptr(), have);
    });
}
pt_status pt_data_ptr(pt_tensor t, void **out) {
    PT_GUARD({
        if (!T(t).device().is_cpu()) throw std::invalid_argument("data_ptr: tensor is not on the CPU");
        *out = T(t).data_ptr();
    });
}

// ---- creation ---------------------------------------------------------------------------------------------
pt_status pt_from_data(const void *data, const int64_t *shape, int64_t ndim, int32_t dtype, pt_tensor *out) {
    PT_GUARD({
        auto t = at::empty(ints(shape, ndim), at::TensorOptions().dtype(scalar_type(dtype)));
        if (t.numel() > 0) std::memcpy(t.data_ptr(), data, t.numel() * t.element_size());
        *out = wrap(std::move(t));
    });
}
pt_status pt_from_blob(void *data, const int64_t *shape, int64_t ndim, int32_t dtype,
                       void (*deleter)(void *context), void *context, pt_tensor *out) {
    PT_GUARD({
        auto t = at::from_blob(
            data, ints(shape, ndim), [deleter, context](void *) { if (deleter) deleter(context); },
            at::TensorOptions().dtype(scalar_type(dtype)));
        *out = wrap(std::move(t));
    });
}
pt_status pt_empty(const int64_t *shape, int64_t ndim, pt_options o, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::empty(ints(shape, ndim), options(o))));
}
pt_status pt_zeros(const int64_t *shape, int64_t ndim, pt_options o, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::zeros(ints(shape, ndim), options(o))));
}
pt_status pt_ones(const int64_t *shape, int64_t ndim, pt_options o, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::ones(ints(shape, ndim), options(o))));
}
pt_status pt_full(const int64_t *shape, int64_t ndim, double value, pt_options o, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::full(ints(shape, ndim), value, options(o))));
}
pt_status pt_scalar_tensor(double value, pt_options o, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::scalar_tensor(value, options(o))));
}
pt_status pt_arange(double start, double end, double step, pt_options o, pt_tensor *out) {
    PT_GUARD({
        auto opts = options(o);
        // Integral dtypes take integral bounds so the length matches torch.arange(int, int).
        if (at::isIntegralType(scalar_type(o.dtype), true))
            *out = wrap(at::arange(static_cast<int64_t>(start), static_cast<int64_t>(end),
                                   static_cast<int64_t>(step), opts));
        else
            *out = wrap(at::arange(start, end, step, opts));
    });
}
pt_status pt_linspace(double start, double end, int64_t steps, pt_options o, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::linspace(start, end, steps, options(o))));
}
pt_status pt_randn(const int64_t *shape, int64_t ndim, pt_options o, pt_generator g, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::randn(ints(shape, ndim), generator(g), options(o))));
}
pt_status pt_rand(const int64_t *shape, int64_t ndim, pt_options o, pt_generator g, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::rand(ints(shape, ndim), generator(g), options(o))));
}
pt_status pt_randint(int64_t low, int64_t high, const int64_t *shape, int64_t ndim, pt_options o, pt_generator g,
                     pt_tensor *out) {
    PT_GUARD(*out = wrap(at::randint(low, high, ints(shape, ndim), generator(g), options(o))));
}
pt_status pt_randperm(int64_t n, pt_options o, pt_generator g, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::randperm(n, generator(g), options(o))));
}
pt_status pt_zeros_like(pt_tensor a, pt_tensor *out) { PT_GUARD(*out = wrap(at::zeros_like(T(a)))); }
pt_status pt_ones_like(pt_tensor a, pt_tensor *out) { PT_GUARD(*out = wrap(at::ones_like(T(a)))); }
pt_status pt_randn_like(pt_tensor a, pt_generator g, pt_tensor *out) {
    PT_GUARD({
        auto r = at::randn(T(a).sizes(), generator(g), T(a).options().device(at::kCPU));
        *out = wrap(r.to(T(a).device()));
    });
}

// ---- in-place ---------------------------------------------------------------------------------------------
pt_status pt_add_(pt_tensor a, pt_tensor b, double alpha) { PT_GUARD(T(a).add_(T(b), alpha)); }
pt_status pt_mul_(pt_tensor a, pt_tensor b) { PT_GUARD(T(a).mul_(T(b))); }
pt_status pt_add_scalar_(pt_tensor a, double s) { PT_GUARD(T(a).add_(s)); }
pt_status pt_mul_scalar_(pt_tensor a, double s) { PT_GUARD(T(a).mul_(s)); }
pt_status pt_addcmul_(pt_tensor a, pt_tensor t1, pt_tensor t2, double value) {
    PT_GUARD(T(a).addcmul_(T(t1), T(t2), value));
}
pt_status pt_addcdiv_(pt_tensor a, pt_tensor t1, pt_tensor t2, double value) {
    PT_GUARD(T(a).addcdiv_(T(t1), T(t2), value));
}
pt_status pt_lerp_(pt_tensor a, pt_tensor end, double weight) { PT_GUARD(T(a).lerp_(T(end), weight)); }
pt_status pt_copy_(pt_tensor dst, pt_tensor src) { PT_GUARD(T(dst).copy_(T(src))); }
pt_status pt_set_data(pt_tensor a, pt_tensor src) { PT_GUARD(T(a).set_data(T(src))); }
pt_status pt_zero_(pt_tensor a) { PT_GUARD(T(a).zero_()); }
pt_status pt_relu_(pt_tensor a) { PT_GUARD(at::relu_(T(a))); }
pt_status pt_fill_(pt_tensor a, double value) { PT_GUARD(T(a).fill_(value)); }
pt_status pt_normal_(pt_tensor a, double mean, double std, pt_generator g) {
    PT_GUARD(T(a).normal_(mean, std, generator(g)));
}
pt_status pt_uniform_(pt_tensor a, double low, double high, pt_generator g) {
    PT_GUARD(T(a).uniform_(low, high, generator(g)));
}

// ---- autograd ---------------------------------------------------------------------------------------------
pt_status pt_set_requires_grad(pt_tensor a, bool requires_grad) { PT_GUARD(T(a).requires_grad_(requires_grad)); }
pt_status pt_backward(pt_tensor a, pt_tensor gradient, bool retain_graph) {
    PT_GUARD(T(a).backward(or_undefined(gradient), retain_graph));
}
pt_status pt_grad(pt_tensor a, pt_tensor *out) {
    PT_GUARD({
        const auto &g = T(a).grad();
        *out = g.defined() ? wrap(g) : nullptr;
    });
}
pt_status pt_set_grad(pt_tensor a, pt_tensor grad) { PT_GUARD(T(a).mutable_grad() = or_undefined(grad)); }

} // extern "C"
