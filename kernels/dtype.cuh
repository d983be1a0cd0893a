// dtype.cuh: loads and stores between stored tensor element types and float32.
//
// Written with plain integer bit operations only, so that the same text compiles under NVRTC
// and, with tests/Native/Shim/cuda_shim.h, under a host C++ compiler. Every narrowing store
// rounds to nearest, ties to even. Conventions (shared with the CPU backend, src/Merge/Numerics, and
// documented in docs/configuration.md, "Output dtypes"):
//   bf16  every NaN becomes the positive quiet NaN 0x7fc0 (as the CPU and torch); overflow rounds to infinity.
//   f16   IEEE binary16; NaN -> quiet NaN with its sign and top payload bits (as .NET's Half and x86's
//         vcvtps2ph); overflow -> infinity.
//   f8e5m2 (safetensors F8_E5M2)   like f16 with 2 mantissa bits; overflow -> infinity; every NaN -> S.11111.11
//         (0x7f/0xff, sign kept), as torch's float8_e5m2 conversion.
//   f8e4m3 (safetensors F8_E4M3, "e4m3fn") no infinity: S.1111.111 is NaN; every value that rounds above
//         448, +-infinity and NaN become S.1111.111 (sign kept), as torch's float8_e4m3fn conversion (no saturation).
#pragma once

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
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (dm_u16)0x7fc0u;
    return (dm_u16)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

// ---- narrow binary floats: [sign][E exponent bits][M mantissa bits], exponent bias B ----
// ieee != 0: the all-ones exponent encodes infinity/NaN (f16, e5m2).
// ieee == 0: only the all-ones code encodes NaN, there is no infinity (e4m3fn).
// payload != 0 (f16): a NaN keeps its top payload bits, quiet bit set; payload == 0 (f8): every NaN is S.all-ones.
__device__ __forceinline__ float dm_narrow_to_f32(dm_u32 code, int E, int M, int B, int ieee)
{
    dm_u32 sign = ((code >> (E + M)) & 1u) << 31;
    dm_u32 exponent = (code >> M) & ((1u << E) - 1u);
    dm_u32 mantissa = code & ((1u << M) - 1u);
    dm_u32 allOnes = (1u << E) - 1u;
    // a NaN widens quiet, payload kept (as .NET, x86's vcvtph2ps and torch do)
    if (ieee && exponent == allOnes) return dm_bits_to_f32(sign | 0x7f800000u | (mantissa << (23 - M)) | (mantissa != 0u ? 0x400000u : 0u));
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

__device__ __forceinline__ dm_u32 dm_f32_to_narrow(float value, int E, int M, int B, int ieee, int payload)
{
    dm_u32 bits = dm_f32_to_bits(value);
    dm_u32 sign = (bits >> 31) << (E + M);
    dm_u32 magnitude = bits & 0x7fffffffu;
    dm_u32 allOnes = (1u << E) - 1u;
    dm_u32 nan = payload ? ((allOnes << M) | (1u << (M - 1)) | ((magnitude & 0x7fffffu) >> (23 - M)))
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
__device__ __forceinline__ dm_u16 dm_f32_to_f16(float value) { return (dm_u16)dm_f32_to_narrow(value, 5, 10, 15, 1, 1); }
__device__ __forceinline__ float dm_f8e5m2_to_f32(dm_u8 code) { return dm_narrow_to_f32(code, 5, 2, 15, 1); }
__device__ __forceinline__ dm_u8 dm_f32_to_f8e5m2(float value) { return (dm_u8)dm_f32_to_narrow(value, 5, 2, 15, 1, 0); }
__device__ __forceinline__ float dm_f8e4m3_to_f32(dm_u8 code) { return dm_narrow_to_f32(code, 4, 3, 7, 0); }
__device__ __forceinline__ dm_u8 dm_f32_to_f8e4m3(float value) { return (dm_u8)dm_f32_to_narrow(value, 4, 3, 7, 0, 0); }

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
