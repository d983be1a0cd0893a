// dotnet-merge generated kernel (emitter v1); regenerate rather than edit.
// task arithmetic: 3 inputs (f32, bf16, f8e5m2) -> f16, base: input 1, normalize: true, DARE mask: true
// launch: blockDim.x = 256, any gridDim.x (grid-stride loop); one by-value parameter, struct dm_params.

#define DM_MODEL_COUNT 3
#define DM_BLOCK_SIZE 256

// ---- kernels/dtype.cuh ----
// dtype.cuh: loads and stores between stored tensor element types and float32.
//
// Written with plain integer bit operations only, so that the same text compiles under NVRTC
// and, with tests/Native/Shim/cuda_shim.h, under a host C++ compiler. Every narrowing store
// rounds to nearest, ties to even. Conventions (shared with the CPU backend):
//   bf16  NaN keeps sign and payload and is forced quiet; overflow rounds to infinity.
//   f16   IEEE binary16; NaN -> quiet NaN with the top payload bits; overflow -> infinity.
//   f8e5m2 (safetensors F8_E5M2)   like f16 with 2 mantissa bits; overflow -> infinity.
//   f8e4m3 (safetensors F8_E4M3, "e4m3fn") no infinity: S.1111.111 is NaN; every value that
//         rounds above 448 (and +-infinity) becomes NaN.

typedef unsigned char dm_u8;
typedef unsigned short dm_u16;
typedef unsigned int dm_u32;
typedef unsigned long long dm_u64;

__device__ __forceinline__ float dm_bits_to_f32(dm_u32 bits) { return __uint_as_float(bits); }
__device__ __forceinline__ dm_u32 dm_f32_to_bits(float value) { return __float_as_uint(value); }

// ---- bfloat16: the upper half of a float32 ----
__device__ __forceinline__ float dm_bf16_to_f32(dm_u16 code) { return dm_bits_to_f32((dm_u32)code << 16); }

__device__ __forceinline__ dm_u16 dm_f32_to_bf16(float value)
{
    dm_u32 bits = dm_f32_to_bits(value);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (dm_u16)((bits >> 16) | 0x0040u);
    return (dm_u16)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

// ---- narrow binary floats: [sign][E exponent bits][M mantissa bits], exponent bias B ----
// ieee != 0: the all-ones exponent encodes infinity/NaN (f16, e5m2).
// ieee == 0: only the all-ones code encodes NaN, there is no infinity (e4m3fn).
__device__ __forceinline__ float dm_narrow_to_f32(dm_u32 code, int E, int M, int B, int ieee)
{
    dm_u32 sign = ((code >> (E + M)) & 1u) << 31;
    dm_u32 exponent = (code >> M) & ((1u << E) - 1u);
    dm_u32 mantissa = code & ((1u << M) - 1u);
    dm_u32 allOnes = (1u << E) - 1u;
    if (ieee && exponent == allOnes) return dm_bits_to_f32(sign | 0x7f800000u | (mantissa << (23 - M)));
    if (!ieee && exponent == allOnes && mantissa == (1u << M) - 1u) return dm_bits_to_f32(sign | 0x7fc00000u);
    if (exponent == 0u)
    {
        if (mantissa == 0u) return dm_bits_to_f32(sign);
        int shift = 0;
        while ((mantissa & (1u << M)) == 0u) { mantissa <<= 1; ++shift; }
        mantissa &= (1u << M) - 1u;
        return dm_bits_to_f32(sign | ((dm_u32)(128 - B - shift) << 23) | (mantissa << (23 - M)));
    }
    return dm_bits_to_f32(sign | ((exponent + (dm_u32)(127 - B)) << 23) | (mantissa << (23 - M)));
}

__device__ __forceinline__ dm_u32 dm_f32_to_narrow(float value, int E, int M, int B, int ieee)
{
    dm_u32 bits = dm_f32_to_bits(value);
    dm_u32 sign = (bits >> 31) << (E + M);
    dm_u32 magnitude = bits & 0x7fffffffu;
    dm_u32 allOnes = (1u << E) - 1u;
    dm_u32 nan = ieee ? ((allOnes << M) | (1u << (M - 1)) | ((magnitude & 0x7fffffu) >> (23 - M)))
                      : ((allOnes << M) | ((1u << M) - 1u));
    // The first code past the largest finite value: infinity (ieee) or NaN (e4m3fn).
    dm_u32 overflow = ieee ? (allOnes << M) : nan;
    if (magnitude > 0x7f800000u) return sign | nan;
    if (magnitude == 0x7f800000u) return sign | overflow;
    int exponent = (int)(magnitude >> 23);
    dm_u32 code;
    if (exponent >= 128 - B)
    {
        int dropped = 23 - M;
        dm_u32 rounded = magnitude + ((1u << (dropped - 1)) - 1u) + ((magnitude >> dropped) & 1u);
        code = (rounded - ((dm_u32)(127 - B) << 23)) >> dropped;
    }
    else
    {
        int shift = 151 - B - M - exponent;
        if (shift >= 25) return sign;
        dm_u32 significand = (magnitude & 0x7fffffu) | 0x800000u;
        dm_u32 quotient = significand >> shift;
        dm_u32 remainder = significand & ((1u << shift) - 1u);
        dm_u32 half = 1u << (shift - 1);
        if (remainder > half || (remainder == half && (quotient & 1u) != 0u)) ++quotient;
        code = quotient;
    }
    if (code >= (allOnes << M) + (ieee ? 0u : ((1u << M) - 1u))) return sign | overflow;
    return sign | code;
}

__device__ __forceinline__ float dm_f16_to_f32(dm_u16 code) { return dm_narrow_to_f32(code, 5, 10, 15, 1); }
__device__ __forceinline__ dm_u16 dm_f32_to_f16(float value) { return (dm_u16)dm_f32_to_narrow(value, 5, 10, 15, 1); }
__device__ __forceinline__ float dm_f8e5m2_to_f32(dm_u8 code) { return dm_narrow_to_f32(code, 5, 2, 15, 1); }
__device__ __forceinline__ dm_u8 dm_f32_to_f8e5m2(float value) { return (dm_u8)dm_f32_to_narrow(value, 5, 2, 15, 1); }
__device__ __forceinline__ float dm_f8e4m3_to_f32(dm_u8 code) { return dm_narrow_to_f32(code, 4, 3, 7, 0); }
__device__ __forceinline__ dm_u8 dm_f32_to_f8e4m3(float value) { return (dm_u8)dm_f32_to_narrow(value, 4, 3, 7, 0); }

// ---- element loads and stores: element `index` of a tensor in the given dtype ----
__device__ __forceinline__ float dm_load_f32(const void* base, dm_u64 index) { return ((const float*)base)[index]; }
__device__ __forceinline__ float dm_load_bf16(const void* base, dm_u64 index) { return dm_bf16_to_f32(((const dm_u16*)base)[index]); }
__device__ __forceinline__ float dm_load_f16(const void* base, dm_u64 index) { return dm_f16_to_f32(((const dm_u16*)base)[index]); }
__device__ __forceinline__ float dm_load_f8e5m2(const void* base, dm_u64 index) { return dm_f8e5m2_to_f32(((const dm_u8*)base)[index]); }
__device__ __forceinline__ float dm_load_f8e4m3(const void* base, dm_u64 index) { return dm_f8e4m3_to_f32(((const dm_u8*)base)[index]); }

__device__ __forceinline__ void dm_store_f32(void* base, dm_u64 index, float value) { ((float*)base)[index] = value; }
__device__ __forceinline__ void dm_store_bf16(void* base, dm_u64 index, float value) { ((dm_u16*)base)[index] = dm_f32_to_bf16(value); }
__device__ __forceinline__ void dm_store_f16(void* base, dm_u64 index, float value) { ((dm_u16*)base)[index] = dm_f32_to_f16(value); }
__device__ __forceinline__ void dm_store_f8e5m2(void* base, dm_u64 index, float value) { ((dm_u8*)base)[index] = dm_f32_to_f8e5m2(value); }
__device__ __forceinline__ void dm_store_f8e4m3(void* base, dm_u64 index, float value) { ((dm_u8*)base)[index] = dm_f32_to_f8e4m3(value); }

// ---- kernels/philox.cuh ----
// philox.cuh: the counter-based random stream shared by the CPU and CUDA backends.
//
// Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011).
// Element e of the output tensor whose name hashes (FNV-1a, 32 bit, over its UTF-8 bytes) to
// `nameHash`, for the input at model index m, under run seed s, draws
//   key     = (lo32(s), hi32(s))
//   counter = (lo32(e / 4), hi32(e / 4), m, nameHash)
//   bits    = Philox4x32-10(counter, key)[e % 4]
//   uniform = (bits >> 8) * 2^-24          (a float in [0, 1))
// and Bernoulli(p) keeps the element iff uniform < p. The CPU must produce the same bits.

struct dm_u32x4 { dm_u32 x, y, z, w; };

__device__ __forceinline__ dm_u32 dm_mul_hi32(dm_u32 a, dm_u32 b)
{
    return (dm_u32)(((dm_u64)a * (dm_u64)b) >> 32);
}

__device__ __forceinline__ dm_u32x4 dm_philox_round(dm_u32x4 c, dm_u32 k0, dm_u32 k1)
{
    const dm_u32 m0 = 0xD2511F53u;
    const dm_u32 m1 = 0xCD9E8D57u;
    dm_u32x4 r;
    r.x = dm_mul_hi32(m1, c.z) ^ c.y ^ k0;
    r.y = m1 * c.z;
    r.z = dm_mul_hi32(m0, c.x) ^ c.w ^ k1;
    r.w = m0 * c.x;
    return r;
}

__device__ __forceinline__ dm_u32x4 dm_philox4x32_10(dm_u32x4 counter, dm_u32 k0, dm_u32 k1)
{
    for (int round = 0; round < 10; ++round)
    {
        if (round > 0) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
        counter = dm_philox_round(counter, k0, k1);
    }
    return counter;
}

// The 32 random bits of element `element` for model `model` (see the header comment).
__device__ __forceinline__ dm_u32 dm_random_bits(dm_u64 seed, dm_u32 model, dm_u32 nameHash, dm_u64 element)
{
    dm_u64 block = element >> 2;
    dm_u32x4 counter;
    counter.x = (dm_u32)block;
    counter.y = (dm_u32)(block >> 32);
    counter.z = model;
    counter.w = nameHash;
    dm_u32x4 r = dm_philox4x32_10(counter, (dm_u32)seed, (dm_u32)(seed >> 32));
    switch ((dm_u32)(element & 3u))
    {
        case 0u: return r.x;
        case 1u: return r.y;
        case 2u: return r.z;
        default: return r.w;
    }
}

__device__ __forceinline__ float dm_uniform(dm_u32 bits) { return (float)(bits >> 8) * 5.9604644775390625e-8f; }

__device__ __forceinline__ bool dm_bernoulli_keep(dm_u64 seed, dm_u32 model, dm_u32 nameHash, dm_u64 element, float probability)
{
    return dm_uniform(dm_random_bits(seed, model, nameHash, element)) < probability;
}

// ---- kernels/merge_ops.cuh ----
// merge_ops.cuh: element operations of the linear and task-arithmetic family of merges.
//
// Generated kernels call these in a fixed order (models in input order, one rounding per
// operation, no fused multiply-add: kernels are compiled with --fmad=false) so that a CPU
// backend doing the same float32 operations produces the same bits.

// acc + w * x, rounded twice (as two separate float32 operations).
__device__ __forceinline__ float dm_weighted_add(float acc, float weight, float x)
{
    float product = weight * x;
    return acc + product;
}

// A normalisation divisor: values with |d| < 1e-8 are replaced by 1 (NaN is kept).
__device__ __forceinline__ float dm_nonzero_divisor(float divisor)
{
    return (divisor < 1e-8f && divisor > -1e-8f) ? 1.0f : divisor;
}

// A DARE-sparsified delta: dropped elements become 0, kept ones are multiplied by the rescale factor.
__device__ __forceinline__ float dm_dare_delta(float delta, bool keep, float rescale)
{
    return keep ? delta * rescale : 0.0f;
}

// ---- generated ----
struct dm_params
{
    const void* in[3];          // @0: input i, element 0 of this launch
    void* out;                  // @24: output, element 0 of this launch
    dm_u64 count;               // @32: elements in this launch
    dm_u64 first;               // @40: tensor element index of element 0
    dm_u64 seed;                // @48: run seed (random stream key)
    float weight[3];            // @56: weight of input i (base: unused)
    float lambda;               // @68: scale of the mixed delta
    float density[3];           // @72: keep probability of input i
    float rescale[3];           // @84: factor for kept elements of input i
    dm_u32 name_hash;           // @96: FNV-1a of the output tensor name
}; // 104 bytes

extern "C" __global__ void __launch_bounds__(DM_BLOCK_SIZE) dm_task_arithmetic_n3_b1_f32_bf16_f8e5m2_to_f16_dare_norm(const dm_params p)
{
    const float divisor = dm_nonzero_divisor(p.weight[0] + p.weight[2]);
    const dm_u64 stride = (dm_u64)blockDim.x * gridDim.x;
    for (dm_u64 i = (dm_u64)blockIdx.x * blockDim.x + threadIdx.x; i < p.count; i += stride)
    {
        const dm_u64 element = p.first + i;
        const float base = dm_load_bf16(p.in[1], i);
        float delta0 = dm_load_f32(p.in[0], i) - base;
        delta0 = dm_dare_delta(delta0, dm_bernoulli_keep(p.seed, 0u, p.name_hash, element, p.density[0]), p.rescale[0]);
        float mixed = p.weight[0] * delta0;
        float delta2 = dm_load_f8e5m2(p.in[2], i) - base;
        delta2 = dm_dare_delta(delta2, dm_bernoulli_keep(p.seed, 2u, p.name_hash, element, p.density[2]), p.rescale[2]);
        mixed = dm_weighted_add(mixed, p.weight[2], delta2);
        mixed = mixed / divisor;
        mixed = mixed * p.lambda;
        dm_store_f16(p.out, i, base + mixed);
    }
}
