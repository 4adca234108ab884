// CTorch: a plain C ABI over libtorch (ATen + autograd), the only place C++ lives in Prism.
//
// Rules (see docs/ARCHITECTURE.md):
// - Every function returns a pt_status: 0 on success, non-zero when libtorch threw. The message is kept in a
//   thread-local buffer read with pt_last_error(). No C++ exception ever crosses this boundary.
// - Results are new handles that the caller owns (+1) and frees with pt_tensor_free; inputs are borrowed.
// - Optional tensors are NULL. Integer lists are (pointer, count). Lists of results are malloc'd arrays of
//   handles that the caller frees with pt_free (after taking ownership of each handle).
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pt_tensor_impl *pt_tensor;
typedef struct pt_generator_impl *pt_generator;
typedef int32_t pt_status;

/// Element types. The numbering is Prism's own; the shim maps it to c10::ScalarType.
typedef enum {
    PT_FLOAT32 = 0,
    PT_FLOAT16 = 1,
    PT_BFLOAT16 = 2,
    PT_FLOAT64 = 3,
    PT_INT64 = 4,
    PT_INT32 = 5,
    PT_INT16 = 6,
    PT_INT8 = 7,
    PT_UINT8 = 8,
    PT_BOOL = 9,
} pt_dtype;

typedef enum { PT_CPU = 0, PT_CUDA = 1 } pt_device_type;

typedef struct {
    int32_t type;  // pt_device_type
    int32_t index; // -1: the current device of that type
} pt_device;

typedef struct {
    int32_t dtype; // pt_dtype
    pt_device device;
} pt_options;

// ---- library ------------------------------------------------------------------------------------------
const char *pt_last_error(void);
const char *pt_version(void); // libtorch version the shim was compiled against, "2.13.0"
bool pt_cuda_available(void);
int64_t pt_cuda_device_count(void);
pt_status pt_cuda_synchronize(int64_t device);
void pt_set_num_threads(int32_t n);
int32_t pt_get_num_threads(void);
void pt_manual_seed(uint64_t seed);
bool pt_grad_enabled(void);
void pt_set_grad_enabled(bool enabled);
/// Enters an autocast region on `device_type` computing in `dtype`; returns the previous state to restore.
pt_status pt_autocast_enter(int32_t device_type, int32_t dtype, bool *previous_enabled, int32_t *previous_dtype);
pt_status pt_autocast_exit(int32_t device_type, bool previous_enabled, int32_t previous_dtype);
void pt_free(void *ptr);

// ---- generators (CPU, Philox-free mt19937 exactly as torch.Generator) -----------------------------------
pt_status pt_generator_new(uint64_t seed, pt_generator *out);
void pt_generator_free(pt_generator g);
pt_status pt_generator_set_seed(pt_generator g, uint64_t seed);
pt_status pt_generator_get_state(pt_generator g, pt_tensor *out);
pt_status pt_generator_set_state(pt_generator g, pt_tensor state);

// ---- tensor lifecycle and inspection ---------------------------------------------------------------------
void pt_tensor_free(pt_tensor t);
pt_status pt_undefined(pt_tensor *out);
bool pt_defined(pt_tensor t);
int64_t pt_dim(pt_tensor t);
/// Writes min(dim, capacity) sizes and returns dim.
int64_t pt_sizes(pt_tensor t, int64_t *out, int64_t capacity);
int64_t pt_strides(pt_tensor t, int64_t *out, int64_t capacity);
int64_t pt_numel(pt_tensor t);
int32_t pt_dtype_of(pt_tensor t);
pt_device pt_device_of(pt_tensor t);
bool pt_requires_grad(pt_tensor t);
/// The tensor's version counter: it grows with every in-place change (an optimiser step, a copy of loaded weights).
int64_t pt_version_counter(pt_tensor t);
/// Whether autocast is on for `device_type` (PT_CPU or PT_CUDA).
bool pt_autocast_enabled(int32_t device_type);
bool pt_is_leaf(pt_tensor t);
bool pt_is_contiguous(pt_tensor t, bool channels_last);
pt_status pt_to_string(pt_tensor t, char **out); // free with pt_free
pt_status pt_item_double(pt_tensor t, double *out);
pt_status pt_item_int64(pt_tensor t, int64_t *out);
/// Copies the tensor's elements (converted to CPU, contiguous, same dtype) into dst, which holds nbytes.
pt_status pt_copy_to_buffer(pt_tensor t, void *dst, size_t nbytes);
/// Raw pointer of a CPU tensor's storage (after its storage offset); the tensor must stay alive.
pt_status pt_data_ptr(pt_tensor t, void **out);

// ---- creation ------------------------------------------------------------------------------------------
pt_status pt_from_data(const void *data, const int64_t *shape, int64_t ndim, int32_t dtype, pt_tensor *out);
/// Wraps memory without a copy; `deleter(context)` is called when the last tensor using it is freed.
pt_status pt_from_blob(void *data, const int64_t *shape, int64_t ndim, int32_t dtype,
                       void (*deleter)(void *context), void *context, pt_tensor *out);
pt_status pt_empty(const int64_t *shape, int64_t ndim, pt_options options, pt_tensor *out);
pt_status pt_zeros(const int64_t *shape, int64_t ndim, pt_options options, pt_tensor *out);
pt_status pt_ones(const int64_t *shape, int64_t ndim, pt_options options, pt_tensor *out);
pt_status pt_full(const int64_t *shape, int64_t ndim, double value, pt_options options, pt_tensor *out);
pt_status pt_scalar_tensor(double value, pt_options options, pt_tensor *out);
pt_status pt_arange(double start, double end, double step, pt_options options, pt_tensor *out);
pt_status pt_linspace(double start, double end, int64_t steps, pt_options options, pt_tensor *out);
pt_status pt_randn(const int64_t *shape, int64_t ndim, pt_options options, pt_generator g, pt_tensor *out);
pt_status pt_rand(const int64_t *shape, int64_t ndim, pt_options options, pt_generator g, pt_tensor *out);
pt_status pt_randint(int64_t low, int64_t high, const int64_t *shape, int64_t ndim, pt_options options,
                     pt_generator g, pt_tensor *out);
pt_status pt_randperm(int64_t n, pt_options options, pt_generator g, pt_tensor *out);
pt_status pt_zeros_like(pt_tensor a, pt_tensor *out);
pt_status pt_ones_like(pt_tensor a, pt_tensor *out);
pt_status pt_randn_like(pt_tensor a, pt_generator g, pt_tensor *out);

// ---- element-wise --------------------------------------------------------------------------------------
// Unary ops, by ATen name: op 0 neg, 1 abs, 2 exp, 3 log, 4 sqrt, 5 rsqrt, 6 sin, 7 cos, 8 tanh, 9 sigmoid,
// 10 relu, 11 silu, 12 erf, 13 floor, 14 ceil, 15 round, 16 sign, 17 square, 18 log1p, 19 expm1,
// 20 logical_not, 21 reciprocal, 22 isnan, 23 isfinite, 24 contiguous, 25 clone, 26 detach,
// 27 contiguous (channels last), 28 mish, 29 softplus, 30 trunc.
pt_status pt_unary(int32_t op, pt_tensor a, pt_tensor *out);
// Binary ops with broadcasting: 0 add, 1 sub, 2 mul, 3 div, 4 pow, 5 maximum, 6 minimum, 7 eq, 8 ne, 9 lt,
// 10 le, 11 gt, 12 ge, 13 logical_and, 14 logical_or, 15 matmul, 16 bmm, 17 remainder, 18 atan2,
// 19 floor_divide.
pt_status pt_binary(int32_t op, pt_tensor a, pt_tensor b, pt_tensor *out);
// Tensor-scalar ops, same numbering as pt_binary (0..14, 17); `reversed` computes scalar OP tensor.
pt_status pt_binary_scalar(int32_t op, pt_tensor a, double s, bool reversed, pt_tensor *out);
pt_status pt_clamp(pt_tensor a, bool has_min, double min, bool has_max, double max, pt_tensor *out);
pt_status pt_gelu(pt_tensor a, bool tanh_approximation, pt_tensor *out);
pt_status pt_leaky_relu(pt_tensor a, double slope, pt_tensor *out);
pt_status pt_where(pt_tensor condition, pt_tensor a, pt_tensor b, pt_tensor *out);
pt_status pt_masked_fill(pt_tensor a, pt_tensor mask, double value, pt_tensor *out);
pt_status pt_softmax(pt_tensor a, int64_t dim, int32_t dtype_or_minus1, pt_tensor *out);
pt_status pt_log_softmax(pt_tensor a, int64_t dim, int32_t dtype_or_minus1, pt_tensor *out);
pt_status pt_dropout(pt_tensor a, double p, bool train, pt_tensor *out);
pt_status pt_lerp(pt_tensor a, pt_tensor end, double weight, pt_tensor *out);

// ---- reductions ----------------------------------------------------------------------------------------
// op: 0 sum, 1 mean, 2 prod, 3 amax, 4 amin, 5 logsumexp, 6 all, 7 any. ndims = 0 reduces over all dims.
pt_status pt_reduce(int32_t op, pt_tensor a, const int64_t *dims, int64_t ndims, bool keepdim, pt_tensor *out);
pt_status pt_var(pt_tensor a, const int64_t *dims, int64_t ndims, double correction, bool keepdim, bool std,
                 pt_tensor *out);
pt_status pt_norm(pt_tensor a, double p, const int64_t *dims, int64_t ndims, bool keepdim, pt_tensor *out);
/// max/min along a dimension: values and indices.
pt_status pt_max_dim(pt_tensor a, int64_t dim, bool keepdim, bool minimum, pt_tensor *values, pt_tensor *indices);
pt_status pt_argmax(pt_tensor a, bool has_dim, int64_t dim, bool keepdim, bool minimum, pt_tensor *out);
pt_status pt_cumsum(pt_tensor a, int64_t dim, pt_tensor *out);
pt_status pt_topk(pt_tensor a, int64_t k, int64_t dim, bool largest, pt_tensor *values, pt_tensor *indices);
pt_status pt_sort(pt_tensor a, int64_t dim, bool descending, pt_tensor *values, pt_tensor *indices);

// ---- linear algebra and neural-network functions ---------------------------------------------------------
pt_status pt_baddbmm(pt_tensor input, pt_tensor b1, pt_tensor b2, double beta, double alpha, pt_tensor *out);
pt_status pt_linear(pt_tensor x, pt_tensor weight, pt_tensor bias, pt_tensor *out);
pt_status pt_conv2d(pt_tensor x, pt_tensor weight, pt_tensor bias, const int64_t *stride, const int64_t *padding,
                    const int64_t *dilation, int64_t groups, pt_tensor *out);
pt_status pt_conv_transpose2d(pt_tensor x, pt_tensor weight, pt_tensor bias, const int64_t *stride,
                              const int64_t *padding, const int64_t *output_padding, int64_t groups,
                              const int64_t *dilation, pt_tensor *out);
/// oneDNN's prepacked convolution, as torch.compile's CPU backend runs frozen weights: the weight is reordered
/// into oneDNN's blocked layout once (for an input of `input_size`, 4 values) instead of on every call. CPU only,
/// no autograd; `pt_mkldnn_conv2d_prepacked` takes the packed weight and the convolution's own settings.
/// `pt_mkldnn_available`: whether this libtorch has oneDNN and registers the four ops used here.
bool pt_mkldnn_available(void);
pt_status pt_mkldnn_conv2d_prepack(pt_tensor weight, const int64_t *stride, const int64_t *padding,
                                   const int64_t *dilation, int64_t groups, const int64_t *input_size, pt_tensor *out);
pt_status pt_mkldnn_conv2d_prepacked(pt_tensor x, pt_tensor packed_weight, pt_tensor bias, const int64_t *stride,
                                     const int64_t *padding, const int64_t *dilation, int64_t groups, pt_tensor *out);
/// The same for linear layers (oneDNN's matmul on a packed weight; x may have any leading dimensions).
pt_status pt_mkldnn_linear_prepack(pt_tensor weight, pt_tensor *out);
pt_status pt_mkldnn_linear_prepacked(pt_tensor x, pt_tensor packed_weight, pt_tensor bias, pt_tensor *out);
pt_status pt_group_norm(pt_tensor x, int64_t groups, pt_tensor weight, pt_tensor bias, double eps, pt_tensor *out);
pt_status pt_layer_norm(pt_tensor x, const int64_t *shape, int64_t ndim, pt_tensor weight, pt_tensor bias,
                        double eps, pt_tensor *out);
/// at::batch_norm. Training: normalises with the batch's statistics (biased variance) and, where running_mean and
/// running_var are given, updates them in place: running = (1 - momentum) * running + momentum * batch, the variance
/// unbiased. Otherwise normalises with the running statistics, which are then required. weight, bias and (in
/// training) the running statistics may be NULL.
pt_status pt_batch_norm(pt_tensor x, pt_tensor weight, pt_tensor bias, pt_tensor running_mean, pt_tensor running_var,
                        bool training, double momentum, double eps, pt_tensor *out);
pt_status pt_embedding(pt_tensor weight, pt_tensor indices, pt_tensor *out);
pt_status pt_scaled_dot_product_attention(pt_tensor q, pt_tensor k, pt_tensor v, pt_tensor mask, double dropout,
                                          bool is_causal, bool has_scale, double scale, pt_tensor *out);
/// mode: 0 nearest, 1 bilinear, 2 bicubic, 3 nearest-exact, 4 area. scale <= 0: computed from the sizes.
pt_status pt_interpolate(pt_tensor x, int64_t out_h, int64_t out_w, int32_t mode, bool align_corners,
                         double scale_h, double scale_w, pt_tensor *out);
pt_status pt_avg_pool2d(pt_tensor x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                        bool ceil_mode, bool count_include_pad, pt_tensor *out);
pt_status pt_max_pool2d(pt_tensor x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                        const int64_t *dilation, bool ceil_mode, pt_tensor *out);
pt_status pt_adaptive_avg_pool2d(pt_tensor x, int64_t out_h, int64_t out_w, pt_tensor *out);
/// reduction: 0 none, 1 mean, 2 sum.
pt_status pt_mse_loss(pt_tensor a, pt_tensor b, int32_t reduction, pt_tensor *out);
pt_status pt_l1_loss(pt_tensor a, pt_tensor b, int32_t reduction, pt_tensor *out);
pt_status pt_cross_entropy(pt_tensor logits, pt_tensor target, pt_tensor weight, int32_t reduction,
                           double label_smoothing, pt_tensor *out);
pt_status pt_bce_with_logits(pt_tensor logits, pt_tensor target, pt_tensor weight, pt_tensor pos_weight,
                             int32_t reduction, pt_tensor *out);

// ---- shape and indexing --------------------------------------------------------------------------------
pt_status pt_reshape(pt_tensor a, const int64_t *shape, int64_t ndim, pt_tensor *out);
pt_status pt_permute(pt_tensor a, const int64_t *dims, int64_t ndim, pt_tensor *out);
pt_status pt_transpose(pt_tensor a, int64_t d0, int64_t d1, pt_tensor *out);
pt_status pt_expand(pt_tensor a, const int64_t *shape, int64_t ndim, pt_tensor *out);
pt_status pt_repeat(pt_tensor a, const int64_t *repeats, int64_t ndim, pt_tensor *out);
pt_status pt_flatten(pt_tensor a, int64_t start, int64_t end, pt_tensor *out);
pt_status pt_squeeze(pt_tensor a, bool has_dim, int64_t dim, pt_tensor *out);
pt_status pt_unsqueeze(pt_tensor a, int64_t dim, pt_tensor *out);
pt_status pt_slice(pt_tensor a, int64_t dim, int64_t start, int64_t end, int64_t step, pt_tensor *out);
pt_status pt_select(pt_tensor a, int64_t dim, int64_t index, pt_tensor *out);
pt_status pt_index_select(pt_tensor a, int64_t dim, pt_tensor index, pt_tensor *out);
pt_status pt_gather(pt_tensor a, int64_t dim, pt_tensor index, pt_tensor *out);
pt_status pt_flip(pt_tensor a, const int64_t *dims, int64_t ndim, pt_tensor *out);
pt_status pt_tril(pt_tensor a, int64_t diagonal, bool upper, pt_tensor *out);
pt_status pt_cat(const pt_tensor *tensors, int64_t count, int64_t dim, pt_tensor *out);
pt_status pt_stack(const pt_tensor *tensors, int64_t count, int64_t dim, pt_tensor *out);
/// Results are a malloc'd array of new handles; free the array with pt_free.
pt_status pt_chunk(pt_tensor a, int64_t chunks, int64_t dim, pt_tensor **out, int64_t *count);
pt_status pt_split(pt_tensor a, const int64_t *sizes, int64_t nsizes, int64_t dim, pt_tensor **out, int64_t *count);
pt_status pt_nonzero(pt_tensor a, pt_tensor *out);
/// mode: 0 constant, 1 reflect, 2 replicate, 3 circular. pads as torch.nn.functional.pad (last dim first).
pt_status pt_pad(pt_tensor a, const int64_t *pads, int64_t npads, int32_t mode, double value, pt_tensor *out);
pt_status pt_to(pt_tensor a, int32_t dtype_or_minus1, bool has_device, pt_device device, bool copy, pt_tensor *out);

// ---- in-place (optimizers, initialisation, EMA) ----------------------------------------------------------
pt_status pt_add_(pt_tensor a, pt_tensor b, double alpha);
pt_status pt_mul_(pt_tensor a, pt_tensor b);
pt_status pt_add_scalar_(pt_tensor a, double s);
pt_status pt_mul_scalar_(pt_tensor a, double s);
pt_status pt_addcmul_(pt_tensor a, pt_tensor t1, pt_tensor t2, double value);
pt_status pt_addcdiv_(pt_tensor a, pt_tensor t1, pt_tensor t2, double value);
pt_status pt_lerp_(pt_tensor a, pt_tensor end, double weight);
pt_status pt_copy_(pt_tensor dst, pt_tensor src);
/// Replaces a's data (dtype, device, storage) by src's while keeping a's identity, as `param.data = src`.
pt_status pt_set_data(pt_tensor a, pt_tensor src);
pt_status pt_zero_(pt_tensor a);
// max(a, 0) in place (autograd records it, as nn.ReLU(inplace=True)).
pt_status pt_relu_(pt_tensor a);
pt_status pt_fill_(pt_tensor a, double value);
pt_status pt_normal_(pt_tensor a, double mean, double std, pt_generator g);
pt_status pt_uniform_(pt_tensor a, double low, double high, pt_generator g);

// ---- autograd ------------------------------------------------------------------------------------------
pt_status pt_set_requires_grad(pt_tensor a, bool requires_grad);
pt_status pt_backward(pt_tensor a, pt_tensor gradient, bool retain_graph);
/// The accumulated gradient, or NULL when there is none.
pt_status pt_grad(pt_tensor a, pt_tensor *out);
/// Sets (or with NULL, clears) the accumulated gradient.
pt_status pt_set_grad(pt_tensor a, pt_tensor grad);

#ifdef __cplusplus
}
#endif
