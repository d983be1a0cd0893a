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

// The canonical reduction order of dotnet-merge (src/Merge/Kernels/LaneSum.cs): within a span,
// element j goes to accumulator j % DM_LANES; the span total is this fixed tree over the 16
// accumulators. CPU and GPU therefore add the same numbers in the same order.
#define DM_LANES 16

__device__ __forceinline__ double dm_lane_total(const double* s)
{
    double t0 = s[0] + s[8], t1 = s[1] + s[9], t2 = s[2] + s[10], t3 = s[3] + s[11];
    double t4 = s[4] + s[12], t5 = s[5] + s[13], t6 = s[6] + s[14], t7 = s[7] + s[15];
    t0 = t0 + t4; t1 = t1 + t5; t2 = t2 + t6; t3 = t3 + t7;
    t0 = t0 + t2; t1 = t1 + t3;
    return t0 + t1;
}
