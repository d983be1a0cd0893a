// merge_ops.cuh: element operations of the linear and task-arithmetic family of merges.
//
// The kernels follow the CPU backend's order of operations exactly: inputs are decoded to
// float32, task vectors are float32 differences, everything after that is float64 per element
// (models in input order, one rounding per operation: kernels are compiled with --fmad=false),
// and the float64 result is narrowed to float32 once, rounding to odd when the output format is
// narrower than float32, so that the store's round-to-nearest-even rounds the float64 value once.
// Same operations, same order, same roundings: the same bits as the CPU.
#pragma once
#include "dtype.cuh"

// |x| for a float32 (clears the sign bit; NaN stays NaN).
__device__ __forceinline__ float dm_abs32(float value) { return dm_bits_to_f32(dm_f32_to_bits(value) & 0x7fffffffu); }

// The nearest float32 (for float32 outputs).
__device__ __forceinline__ float dm_narrow_nearest(double value) { return (float)value; }

// Round to odd: the float32 toward zero with its lowest bit set when the value is not exact. With at least two
// more bits than the final format, round-to-odd followed by round-to-nearest-even equals one direct rounding.
__device__ __forceinline__ float dm_narrow_odd(double value)
{
    float nearest = (float)value;
    if ((double)nearest == value || value != value) return nearest;
    dm_u32 bits = dm_f32_to_bits(nearest);
    double a = (double)nearest, b = value;
    if ((a < 0.0 ? -a : a) > (b < 0.0 ? -b : b)) bits -= 1u; // the neighbour toward zero
    return dm_bits_to_f32(bits | 1u);
}
