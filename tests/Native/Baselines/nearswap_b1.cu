// dotnet-merge generated kernel (emitter v2); regenerate rather than edit.
// nearswap: 2 inputs (f16, bf16) -> bf16, base: input 1
// launch: blockDim.x = 256, any gridDim.x (grid-stride loop); one by-value parameter, struct dm_params.

#define DM_MODEL_COUNT 2
#define DM_BLOCK_SIZE 256

// ==== kernels/dtype.cuh ==== (111 lines inlined)
// ==== kernels/merge_ops.cuh ==== (27 lines inlined)
// ==== generated ====
struct dm_params
{
    const void* in[2];          // @0: input i, element 0 of this launch
    void* out;                  // @16: output, element 0 of this launch
    dm_u64 count;               // @24: elements in this launch
    double t;                   // @32: distance scale
}; // 40 bytes

extern "C" __global__ void __launch_bounds__(DM_BLOCK_SIZE) dm_nearswap_n2_b1_f16_bf16_to_bf16(const dm_params p)
{
    const dm_u64 stride = (dm_u64)blockDim.x * gridDim.x;
    for (dm_u64 i = (dm_u64)blockIdx.x * blockDim.x + threadIdx.x; i < p.count; i += stride)
    {
        const double a = (double)dm_load_bf16(p.in[1], i);
        const double b = (double)dm_load_f16(p.in[0], i);
        const double difference = a - b;
        const double distance = difference < 0.0 ? -difference : difference;
        const double clamped = distance != distance ? distance : (distance > 1E-06 ? distance : 1E-06);
        const double ratio = p.t / clamped;
        const double w = ratio < 0.0 ? 0.0 : (ratio > 1.0 ? 1.0 : ratio);
        dm_store_bf16(p.out, i, dm_narrow_odd(w * b + (1.0 - w) * a));
    }
}
