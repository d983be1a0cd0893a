// select.cuh: magnitude selection of task-vector elements (TIES trim, Model Breadcrumbs), as the CPU's
// MagnitudeSelect / TopSet define it.
//
// Elements are ordered by |delta| through the order-preserving 32-bit key of the float (for |delta|, whose sign bit
// is clear, the key is its bits with the top bit set), larger first, and among equal keys the lower element index
// first. A selected set is "key above the threshold key, or equal to it at an index below `end`", where end is one
// past the index of the last threshold copy kept (0: none, 2^63: all). The threshold is found by a radix select
// (integer histograms of the high, then the low 16 key bits, built with atomicAdd: counts do not depend on the order
// of the additions), so the GPU and the CPU pick the same elements.
#pragma once
#include "dtype.cuh"

// The sort key of |delta| (MagnitudeSelect.SortKey(MathF.Abs(delta)) on the CPU).
__device__ __forceinline__ dm_u32 dm_magnitude_key(float delta) { return (dm_f32_to_bits(delta) & 0x7fffffffu) | 0x80000000u; }

// The order-preserving key of any float (MagnitudeSelect.SortKey): -NaN < -inf < ... < -0 < +0 < ... < +inf < +NaN.
// For a value whose sign bit is clear (|delta|, a variance) it equals dm_magnitude_key.
__device__ __forceinline__ dm_u32 dm_sort_key(float value)
{
    const dm_u32 bits = dm_f32_to_bits(value);
    return (bits & 0x80000000u) != 0u ? ~bits : (bits | 0x80000000u);
}

// Whether the element of key `key` at tensor index `element` is in the set (threshold key, end).
__device__ __forceinline__ bool dm_in_top(dm_u32 key, dm_u64 element, dm_u32 threshold, dm_u64 end)
{
    return key > threshold || (key == threshold && element < end);
}
