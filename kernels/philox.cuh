// philox.cuh: the counter-based random stream shared by the CPU and CUDA backends.
//
// Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011).
// Element e of the output tensor whose name hashes (FNV-1a, 32 bit, over its UTF-8 bytes) to
// `nameHash`, for the input at model index m, under run seed s, draws
//   key     = (lo32(s), hi32(s))
//   counter = (lo32(e / 4), hi32(e / 4), m, nameHash)
//   bits    = Philox4x32-10(counter, key)[e % 4]
//   uniform = (bits >> 8) * 2^-24          (a float in [0, 1))
// and Bernoulli(p) keeps the element iff (double)uniform < p. The CPU must produce the same bits.
#pragma once
#include "dtype.cuh"

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

// Compared in double precision, as the CPU does (a probability is a float64 parameter).
__device__ __forceinline__ bool dm_bernoulli_keep(dm_u64 seed, dm_u32 model, dm_u32 nameHash, dm_u64 element, double probability)
{
    return (double)dm_uniform(dm_random_bits(seed, model, nameHash, element)) < probability;
}
