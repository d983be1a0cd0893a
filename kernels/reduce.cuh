// reduce.cuh: deterministic block-wide reductions.
//
// A fixed binary tree over shared memory (no atomics, no warp shuffles): for a given block size
// the additions happen in the same order on every run and on every device, and the text runs
// unchanged on the CPU test shim. blockDim.x must be a power of two and scratch must hold
// blockDim.x values. Every thread of the block must call it; every thread gets the total.
#pragma once

template <typename T>
__device__ __forceinline__ T dm_block_sum(T value, T* scratch)
{
    const unsigned int t = threadIdx.x;
    scratch[t] = value;
    __syncthreads();
    for (unsigned int stride = blockDim.x >> 1; stride > 0u; stride >>= 1)
    {
        if (t < stride) scratch[t] = scratch[t] + scratch[t + stride];
        __syncthreads();
    }
    T total = scratch[0];
    __syncthreads(); // scratch may be reused by the caller's next reduction
    return total;
}
