// merge_ops.cuh: element operations of the linear and task-arithmetic family of merges.
//
// Generated kernels call these in a fixed order (models in input order, one rounding per
// operation, no fused multiply-add: kernels are compiled with --fmad=false) so that a CPU
// backend doing the same float32 operations produces the same bits.
#pragma once

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
