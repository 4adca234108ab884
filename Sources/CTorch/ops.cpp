// Element-wise, reductions, neural-network functions, shape and indexing.
#include "internal.hpp"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>

#include <cstdlib>

using namespace ctorch;

namespace {

at::Tensor unary(int32_t op, const at::Tensor &a) {
    switch (op) {
    case 0: return at::neg(a);
    case 1: return at::abs(a);
    case 2: return at::exp(a);
    case 3: return at::log(a);
    case 4: return at::sqrt(a);
    case 5: return at::rsqrt(a);
    case 6: return at::sin(a);
    case 7: return at::cos(a);
    case 8: return at::tanh(a);
    case 9: return at::sigmoid(a);
    case 10: return at::relu(a);
    case 11: return at::silu(a);
    case 12: return at::erf(a);
    case 13: return at::floor(a);
    case 14: return at::ceil(a);
    case 15: return at::round(a);
    case 16: return at::sign(a);
    case 17: return at::square(a);
    case 18: return at::log1p(a);
    case 19: return at::expm1(a);
    case 20: return at::logical_not(a);
    case 21: return at::reciprocal(a);
    case 22: return at::isnan(a);
    case 23: return at::isfinite(a);
    case 24: return a.contiguous();
    case 25: return a.clone();
    case 26: return a.detach();
    case 27: return a.contiguous(at::MemoryFormat::ChannelsLast);
    case 28: return at::mish(a);
    case 29: return at::softplus(a);
    case 30: return at::trunc(a);
    }
    throw std::invalid_argument("unknown unary op code " + std::to_string(op));
}

at::Tensor binary(int32_t op, const at::Tensor &a, const at::Tensor &b) {
    switch (op) {
    case 0: return at::add(a, b);
    case 1: return at::sub(a, b);
    case 2: return at::mul(a, b);
    case 3: return at::div(a, b);
    case 4: return at::pow(a, b);
    case 5: return at::maximum(a, b);
    case 6: return at::minimum(a, b);
    case 7: return at::eq(a, b);
    case 8: return at::ne(a, b);
    case 9: return at::lt(a, b);
    case 10: return at::le(a, b);
    case 11: return at::gt(a, b);
    case 12: return at::ge(a, b);
    case 13: return at::logical_and(a, b);
    case 14: return at::logical_or(a, b);
    case 15: return at::matmul(a, b);
    case 16: return at::bmm(a, b);
    case 17: return at::remainder(a, b);
    case 18: return at::atan2(a, b);
    case 19: return at::floor_divide(a, b);
    }
    throw std::invalid_argument("unknown binary op code " + std::to_string(op));
}

at::Tensor binary_scalar(int32_t op, const at::Tensor &a, const at::Scalar &s, bool reversed) {
    if (reversed) {
        switch (op) {
        case 0: return at::add(a, s);
        case 1: return at::rsub(a, s);
        case 2: return at::mul(a, s);
        case 3: return at::mul(at::reciprocal(a), s);
        case 4: return at::pow(s, a);
        }
        // Comparisons with the operands swapped reduce to the mirrored comparison.
        switch (op) {
        case 5: return at::clamp_min(a, s);
        case 6: return at::clamp_max(a, s);
        case 7: return at::eq(a, s);
        case 8: return at::ne(a, s);
        case 9: return at::gt(a, s);
        case 10: return at::ge(a, s);
        case 11: return at::lt(a, s);
        case 12: return at::le(a, s);
        }
        throw std::invalid_argument("op code " + std::to_string(op) + " has no reversed scalar form");
    }
    switch (op) {
    case 0: return at::add(a, s);
    case 1: return at::sub(a, s);
    case 2: return at::mul(a, s);
    case 3: return at::div(a, s);
    case 4: return at::pow(a, s);
    case 5: return at::clamp_min(a, s);
    case 6: return at::clamp_max(a, s);
    case 7: return at::eq(a, s);
    case 8: return at::ne(a, s);
    case 9: return at::lt(a, s);
    case 10: return at::le(a, s);
    case 11: return at::gt(a, s);
    case 12: return at::ge(a, s);
    case 17: return at::remainder(a, s);
    }
    throw std::invalid_argument("unknown scalar op code " + std::to_string(op));
}

// Integer tensors keep integer scalars, so that `i64 + 1` stays i64 and `i64 * 2` is exact.
at::Scalar scalar_for(const at::Tensor &a, double s) {
    if (at::isIntegralType(a.scalar_type(), true) && s == static_cast<double>(static_cast<int64_t>(s)))
        return at::Scalar(static_cast<int64_t>(s));
    return at::Scalar(s);
}

std::optional<at::ScalarType> optional_dtype(int32_t code) {
    if (code < 0) return std::nullopt;
    return scalar_type(code);
}

int64_t reduction(int32_t r) {
    switch (r) {
    case 0: return at::Reduction::None;
    case 1: return at::Reduction::Mean;
    case 2: return at::Reduction::Sum;
    }
    throw std::invalid_argument("unknown reduction code " + std::to_string(r));
}

std::vector<at::Tensor> tensors(const pt_tensor *list, int64_t count) {
    std::vector<at::Tensor> v;
    v.reserve(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) v.push_back(T(list[i]));
    return v;
}

void wrap_list(const std::vector<at::Tensor> &v, pt_tensor **out, int64_t *count) {
    auto arr = static_cast<pt_tensor *>(std::malloc(sizeof(pt_tensor) * (v.size() == 0 ? 1 : v.size())));
    for (size_t i = 0; i < v.size(); ++i) arr[i] = wrap(v[i]);
    *out = arr;
    *count = static_cast<int64_t>(v.size());
}

// oneDNN's prepacking ops: registered by libtorch_cpu under the mkldnn namespace with no ATen C++ function, so
// they are found in the dispatcher once and called boxed.
constexpr const char *reorder_conv = "mkldnn::_reorder_convolution_weight";
constexpr const char *conv_pointwise = "mkldnn::_convolution_pointwise";
constexpr const char *reorder_linear = "mkldnn::_reorder_linear_weight";
constexpr const char *linear_pointwise = "mkldnn::_linear_pointwise";

std::vector<int64_t> pair(const int64_t *p) { return {p[0], p[1]}; }
c10::IValue optional_tensor(pt_tensor p) { return p == nullptr ? c10::IValue() : c10::IValue(T(p)); }

// Runs `op` on `stack` and returns its one tensor result.
at::Tensor call(const c10::OperatorHandle &op, torch::jit::Stack stack) {
    op.callBoxed(&stack);
    return stack.back().toTensor();
}
// The trailing arguments of the pointwise ops: no fused post-op (attr "none", no scalars, no algorithm).
void no_post_op(torch::jit::Stack &stack) {
    stack.emplace_back(std::string("none"));
    stack.emplace_back(c10::List<std::optional<c10::Scalar>>());
    stack.emplace_back();
}

} // namespace

extern "C" {

// ---- element-wise -----------------------------------------------------------------------------------------
pt_status pt_unary(int32_t op, pt_tensor a, pt_tensor *out) { PT_GUARD(*out = wrap(unary(op, T(a)))); }
pt_status pt_binary(int32_t op, pt_tensor a, pt_tensor b, pt_tensor *out) {
    PT_GUARD(*out = wrap(binary(op, T(a), T(b))));
}
pt_status pt_binary_scalar(int32_t op, pt_tensor a, double s, bool reversed, pt_tensor *out) {
    PT_GUARD(*out = wrap(binary_scalar(op, T(a), scalar_for(T(a), s), reversed)));
}
pt_status pt_clamp(pt_tensor a, bool has_min, double min, bool has_max, double max, pt_tensor *out) {
    PT_GUARD({
        std::optional<at::Scalar> lo, hi;
        if (has_min) lo = scalar_for(T(a), min);
        if (has_max) hi = scalar_for(T(a), max);
        *out = wrap(at::clamp(T(a), lo, hi));
    });
}
pt_status pt_gelu(pt_tensor a, bool tanh_approximation, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::gelu(T(a), tanh_approximation ? "tanh" : "none")));
}
pt_status pt_leaky_relu(pt_tensor a, double slope, pt_tensor *out) { PT_GUARD(*out = wrap(at::leaky_relu(T(a), slope))); }
pt_status pt_where(pt_tensor condition, pt_tensor a, pt_tensor b, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::where(T(condition), T(a), T(b))));
}
pt_status pt_masked_fill(pt_tensor a, pt_tensor mask, double value, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::masked_fill(T(a), T(mask), value)));
}
pt_status pt_softmax(pt_tensor a, int64_t dim, int32_t dtype, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::softmax(T(a), dim, optional_dtype(dtype))));
}
pt_status pt_log_softmax(pt_tensor a, int64_t dim, int32_t dtype, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::log_softmax(T(a), dim, optional_dtype(dtype))));
}
pt_status pt_dropout(pt_tensor a, double p, bool train, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::dropout(T(a), p, train)));
}
pt_status pt_lerp(pt_tensor a, pt_tensor end, double weight, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::lerp(T(a), T(end), weight)));
}

// ---- reductions ---------------------------------------------------------------------------------------------
pt_status pt_reduce(int32_t op, pt_tensor a, const int64_t *dims, int64_t ndims, bool keepdim, pt_tensor *out) {
    PT_GUARD({
        const auto &x = T(a);
        std::vector<int64_t> all;
        at::IntArrayRef d = ints(dims, ndims);
        if (ndims == 0) {
            for (int64_t i = 0; i < x.dim(); ++i) all.push_back(i);
            d = all;
        }
        switch (op) {
        case 0: *out = wrap(ndims == 0 && !keepdim ? at::sum(x) : at::sum(x, d, keepdim)); break;
        case 1: *out = wrap(ndims == 0 && !keepdim ? at::mean(x) : at::mean(x, d, keepdim)); break;
        case 2: {
            if (ndims == 0 && !keepdim) {
                *out = wrap(at::prod(x));
            } else {
                auto r = x;
                std::vector<int64_t> sorted(d.begin(), d.end());
                std::sort(sorted.rbegin(), sorted.rend());
                for (auto dim : sorted) r = at::prod(r, dim, keepdim);
                *out = wrap(r);
            }
            break;
        }
        case 3: *out = wrap(at::amax(x, d, keepdim)); break;
        case 4: *out = wrap(at::amin(x, d, keepdim)); break;
        case 5: *out = wrap(at::logsumexp(x, d, keepdim)); break;
        case 6: *out = wrap(ndims == 0 && !keepdim ? at::all(x) : at::all(x, d, keepdim)); break;
        case 7: *out = wrap(ndims == 0 && !keepdim ? at::any(x) : at::any(x, d, keepdim)); break;
        default: throw std::invalid_argument("unknown reduction op code " + std::to_string(op));
        }
    });
}
pt_status pt_var(pt_tensor a, const int64_t *dims, int64_t ndims, double correction, bool keepdim, bool std,
                 pt_tensor *out) {
    PT_GUARD({
        at::OptionalIntArrayRef d = ndims == 0 ? at::OptionalIntArrayRef() : at::OptionalIntArrayRef(ints(dims, ndims));
        at::Scalar c(correction);
        *out = wrap(std ? at::std(T(a), d, c, keepdim) : at::var(T(a), d, c, keepdim));
    });
}
pt_status pt_norm(pt_tensor a, double p, const int64_t *dims, int64_t ndims, bool keepdim, pt_tensor *out) {
    PT_GUARD({
        if (ndims == 0)
            *out = wrap(keepdim ? at::linalg_vector_norm(T(a), p, std::nullopt, true) : at::norm(T(a), p));
        else
            *out = wrap(at::norm(T(a), p, ints(dims, ndims), keepdim));
    });
}
pt_status pt_max_dim(pt_tensor a, int64_t dim, bool keepdim, bool minimum, pt_tensor *values, pt_tensor *indices) {
    PT_GUARD({
        auto r = minimum ? at::min(T(a), dim, keepdim) : at::max(T(a), dim, keepdim);
        *values = wrap(std::get<0>(r));
        *indices = wrap(std::get<1>(r));
    });
}
pt_status pt_argmax(pt_tensor a, bool has_dim, int64_t dim, bool keepdim, bool minimum, pt_tensor *out) {
    PT_GUARD({
        std::optional<int64_t> d;
        if (has_dim) d = dim;
        *out = wrap(minimum ? at::argmin(T(a), d, keepdim) : at::argmax(T(a), d, keepdim));
    });
}
pt_status pt_cumsum(pt_tensor a, int64_t dim, pt_tensor *out) { PT_GUARD(*out = wrap(at::cumsum(T(a), dim))); }
pt_status pt_topk(pt_tensor a, int64_t k, int64_t dim, bool largest, pt_tensor *values, pt_tensor *indices) {
    PT_GUARD({
        auto r = at::topk(T(a), k, dim, largest, true);
        *values = wrap(std::get<0>(r));
        *indices = wrap(std::get<1>(r));
    });
}
pt_status pt_sort(pt_tensor a, int64_t dim, bool descending, pt_tensor *values, pt_tensor *indices) {
    PT_GUARD({
        auto r = at::sort(T(a), /*stable=*/true, dim, descending);
        *values = wrap(std::get<0>(r));
        *indices = wrap(std::get<1>(r));
    });
}

// ---- linear algebra and nn ------------------------------------------------------------------------------------
pt_status pt_baddbmm(pt_tensor input, pt_tensor b1, pt_tensor b2, double beta, double alpha, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::baddbmm(T(input), T(b1), T(b2), beta, alpha)));
}
pt_status pt_linear(pt_tensor x, pt_tensor weight, pt_tensor bias, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::linear(T(x), T(weight), opt(bias))));
}
pt_status pt_conv2d(pt_tensor x, pt_tensor weight, pt_tensor bias, const int64_t *stride, const int64_t *padding,
                    const int64_t *dilation, int64_t groups, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::conv2d(T(x), T(weight), opt(bias), ints(stride, 2), ints(padding, 2),
                                    ints(dilation, 2), groups)));
}

bool pt_mkldnn_available(void) {
    // A libtorch built without oneDNN, or one whose mkldnn namespace lacks these ops, runs the plain ones.
    static const bool available = [] {
        if (!at::hasMKLDNN()) return false;
        auto &dispatcher = c10::Dispatcher::singleton();
        for (const char *name : {reorder_conv, conv_pointwise, reorder_linear, linear_pointwise}) {
            if (!dispatcher.findSchema({name, ""}).has_value()) return false;
        }
        return true;
    }();
    return available;
}
pt_status pt_mkldnn_conv2d_prepack(pt_tensor weight, const int64_t *stride, const int64_t *padding,
                                   const int64_t *dilation, int64_t groups, const int64_t *input_size, pt_tensor *out) {
    PT_GUARD({
        static const auto op = c10::Dispatcher::singleton().findSchemaOrThrow(reorder_conv, "");
        *out = wrap(call(op, {T(weight), pair(padding), pair(stride), pair(dilation), groups,
                              std::vector<int64_t>(input_size, input_size + 4)}));
    });
}
pt_status pt_mkldnn_conv2d_prepacked(pt_tensor x, pt_tensor packed_weight, pt_tensor bias, const int64_t *stride,
                                     const int64_t *padding, const int64_t *dilation, int64_t groups, pt_tensor *out) {
    PT_GUARD({
        static const auto op = c10::Dispatcher::singleton().findSchemaOrThrow(conv_pointwise, "");
        torch::jit::Stack stack{T(x), T(packed_weight), optional_tensor(bias), pair(padding), pair(stride),
                                pair(dilation), groups};
        no_post_op(stack);
        *out = wrap(call(op, std::move(stack)));
    });
}
pt_status pt_mkldnn_linear_prepack(pt_tensor weight, pt_tensor *out) {
    PT_GUARD({
        static const auto op = c10::Dispatcher::singleton().findSchemaOrThrow(reorder_linear, "");
        *out = wrap(call(op, {T(weight), c10::IValue()}));  // no batch-size hint: one layout for every input
    });
}
pt_status pt_mkldnn_linear_prepacked(pt_tensor x, pt_tensor packed_weight, pt_tensor bias, pt_tensor *out) {
    PT_GUARD({
        static const auto op = c10::Dispatcher::singleton().findSchemaOrThrow(linear_pointwise, "");
        torch::jit::Stack stack{T(x).contiguous(), T(packed_weight), optional_tensor(bias)};
        no_post_op(stack);
        *out = wrap(call(op, std::move(stack)));
    });
}
pt_status pt_conv_transpose2d(pt_tensor x, pt_tensor weight, pt_tensor bias, const int64_t *stride,
                              const int64_t *padding, const int64_t *output_padding, int64_t groups,
                              const int64_t *dilation, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::conv_transpose2d(T(x), T(weight), opt(bias), ints(stride, 2), ints(padding, 2),
                                              ints(output_padding, 2), groups, ints(dilation, 2))));
}
pt_status pt_group_norm(pt_tensor x, int64_t groups, pt_tensor weight, pt_tensor bias, double eps, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::group_norm(T(x), groups, opt(weight), opt(bias), eps)));
}
pt_status pt_layer_norm(pt_tensor x, const int64_t *shape, int64_t ndim, pt_tensor weight, pt_tensor bias,
                        double eps, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::layer_norm(T(x), ints(shape, ndim), opt(weight), opt(bias), eps)));
}
pt_status pt_batch_norm(pt_tensor x, pt_tensor weight, pt_tensor bias, pt_tensor running_mean, pt_tensor running_var,
                        bool training, double momentum, double eps, pt_tensor *out) {
    PT_GUARD({
        // cudnn_enabled as torch.nn.functional.batch_norm passes it by default (libtorch picks the kernel).
        *out = wrap(at::batch_norm(T(x), opt(weight), opt(bias), opt(running_mean), opt(running_var), training, momentum,
                                   eps, /*cudnn_enabled=*/true));
    });
}
pt_status pt_embedding(pt_tensor weight, pt_tensor indices, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::embedding(T(weight), T(indices))));
}
pt_status pt_scaled_dot_product_attention(pt_tensor q, pt_tensor k, pt_tensor v, pt_tensor mask, double dropout,
                                          bool is_causal, bool has_scale, double scale, pt_tensor *out) {
    PT_GUARD({
        std::optional<double> s;
        if (has_scale) s = scale;
        *out = wrap(at::scaled_dot_product_attention(T(q), T(k), T(v), opt(mask), dropout, is_causal, s));
    });
}
pt_status pt_interpolate(pt_tensor x, int64_t out_h, int64_t out_w, int32_t mode, bool align_corners,
                         double scale_h, double scale_w, pt_tensor *out) {
    PT_GUARD({
        std::vector<int64_t> size{out_h, out_w};
        std::optional<double> sh, sw;
        if (scale_h > 0) sh = scale_h;
        if (scale_w > 0) sw = scale_w;
        switch (mode) {
        case 0: *out = wrap(at::upsample_nearest2d(T(x), size, sh, sw)); break;
        case 1: *out = wrap(at::upsample_bilinear2d(T(x), size, align_corners, sh, sw)); break;
        case 2: *out = wrap(at::upsample_bicubic2d(T(x), size, align_corners, sh, sw)); break;
        case 3: *out = wrap(at::_upsample_nearest_exact2d(T(x), size, sh, sw)); break;
        case 4: *out = wrap(at::adaptive_avg_pool2d(T(x), size)); break;
        default: throw std::invalid_argument("unknown interpolation mode " + std::to_string(mode));
        }
    });
}
pt_status pt_avg_pool2d(pt_tensor x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                        bool ceil_mode, bool count_include_pad, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::avg_pool2d(T(x), ints(kernel, 2), ints(stride, 2), ints(padding, 2), ceil_mode,
                                        count_include_pad)));
}
pt_status pt_max_pool2d(pt_tensor x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                        const int64_t *dilation, bool ceil_mode, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::max_pool2d(T(x), ints(kernel, 2), ints(stride, 2), ints(padding, 2), ints(dilation, 2),
                                        ceil_mode)));
}
pt_status pt_adaptive_avg_pool2d(pt_tensor x, int64_t out_h, int64_t out_w, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::adaptive_avg_pool2d(T(x), {out_h, out_w})));
}
pt_status pt_mse_loss(pt_tensor a, pt_tensor b, int32_t r, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::mse_loss(T(a), T(b), reduction(r))));
}
pt_status pt_l1_loss(pt_tensor a, pt_tensor b, int32_t r, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::l1_loss(T(a), T(b), reduction(r))));
}
pt_status pt_cross_entropy(pt_tensor logits, pt_tensor target, pt_tensor weight, int32_t r, double label_smoothing,
                           pt_tensor *out) {
    PT_GUARD(*out = wrap(at::cross_entropy_loss(T(logits), T(target), opt(weight), reduction(r), -100,
                                                label_smoothing)));
}
pt_status pt_bce_with_logits(pt_tensor logits, pt_tensor target, pt_tensor weight, pt_tensor pos_weight, int32_t r,
                             pt_tensor *out) {
    PT_GUARD(*out = wrap(at::binary_cross_entropy_with_logits(T(logits), T(target), opt(weight), opt(pos_weight),
                                                              reduction(r))));
}

// ---- shape and indexing ----------------------------------------------------------------------------------------
pt_status pt_reshape(pt_tensor a, const int64_t *shape, int64_t ndim, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::reshape(T(a), ints(shape, ndim))));
}
pt_status pt_permute(pt_tensor a, const int64_t *dims, int64_t ndim, pt_tensor *out) {
    PT_GUARD(*out = wrap(T(a).permute(ints(dims, ndim))));
}
pt_status pt_transpose(pt_tensor a, int64_t d0, int64_t d1, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::transpose(T(a), d0, d1)));
}
pt_status pt_expand(pt_tensor a, const int64_t *shape, int64_t ndim, pt_tensor *out) {
    PT_GUARD(*out = wrap(T(a).expand(ints(shape, ndim))));
}
pt_status pt_repeat(pt_tensor a, const int64_t *repeats, int64_t ndim, pt_tensor *out) {
    PT_GUARD(*out = wrap(T(a).repeat(ints(repeats, ndim))));
}
pt_status pt_flatten(pt_tensor a, int64_t start, int64_t end, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::flatten(T(a), start, end)));
}
pt_status pt_squeeze(pt_tensor a, bool has_dim, int64_t dim, pt_tensor *out) {
    PT_GUARD(*out = wrap(has_dim ? at::squeeze(T(a), dim) : at::squeeze(T(a))));
}
pt_status pt_unsqueeze(pt_tensor a, int64_t dim, pt_tensor *out) { PT_GUARD(*out = wrap(at::unsqueeze(T(a), dim))); }
pt_status pt_slice(pt_tensor a, int64_t dim, int64_t start, int64_t end, int64_t step, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::slice(T(a), dim, start, end, step)));
}
pt_status pt_select(pt_tensor a, int64_t dim, int64_t index, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::select(T(a), dim, index)));
}
pt_status pt_index_select(pt_tensor a, int64_t dim, pt_tensor index, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::index_select(T(a), dim, T(index))));
}
pt_status pt_gather(pt_tensor a, int64_t dim, pt_tensor index, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::gather(T(a), dim, T(index))));
}
pt_status pt_flip(pt_tensor a, const int64_t *dims, int64_t ndim, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::flip(T(a), ints(dims, ndim))));
}
pt_status pt_tril(pt_tensor a, int64_t diagonal, bool upper, pt_tensor *out) {
    PT_GUARD(*out = wrap(upper ? at::triu(T(a), diagonal) : at::tril(T(a), diagonal)));
}
pt_status pt_cat(const pt_tensor *list, int64_t count, int64_t dim, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::cat(tensors(list, count), dim)));
}
pt_status pt_stack(const pt_tensor *list, int64_t count, int64_t dim, pt_tensor *out) {
    PT_GUARD(*out = wrap(at::stack(tensors(list, count), dim)));
}
pt_status pt_chunk(pt_tensor a, int64_t chunks, int64_t dim, pt_tensor **out, int64_t *count) {
    PT_GUARD(wrap_list(at::chunk(T(a), chunks, dim), out, count));
}
pt_status pt_split(pt_tensor a, const int64_t *sizes, int64_t nsizes, int64_t dim, pt_tensor **out, int64_t *count) {
    PT_GUARD(wrap_list(at::split_with_sizes(T(a), ints(sizes, nsizes), dim), out, count));
}
pt_status pt_nonzero(pt_tensor a, pt_tensor *out) { PT_GUARD(*out = wrap(at::nonzero(T(a)))); }
pt_status pt_pad(pt_tensor a, const int64_t *pads, int64_t npads, int32_t mode, double value, pt_tensor *out) {
    PT_GUARD({
        static const char *modes[] = {"constant", "reflect", "replicate", "circular"};
        if (mode < 0 || mode > 3) throw std::invalid_argument("unknown pad mode " + std::to_string(mode));
        std::optional<double> v;
        if (mode == 0) v = value;
        *out = wrap(at::pad(T(a), ints(pads, npads), modes[mode], v));
    });
}
pt_status pt_to(pt_tensor a, int32_t dtype, bool has_device, pt_device dev, bool copy, pt_tensor *out) {
    PT_GUARD({
        auto t = T(a);
        auto target_dtype = dtype >= 0 ? scalar_type(dtype) : t.scalar_type();
        auto target_device = has_device ? device(dev) : t.device();
        *out = wrap(t.to(target_device, target_dtype, /*non_blocking=*/false, copy));
    });
}

} // extern "C"
