// dotnet-merge generated kernel (emitter v2); regenerate rather than edit.
// combine: 2 inputs (bf16, f32) -> f16, sources 1, 0, origin none
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
    double coefficient[2];      // @32: coefficient of source s
}; // 48 bytes

extern "C" __global__ void __launch_bounds__(DM_BLOCK_SIZE) dm_combine_n2_s1x0_plain_bf16_f32_to_f16(const dm_params p)
{
    const dm_u64 stride = (dm_u64)blockDim.x * gridDim.x;
    for (dm_u64 i = (dm_u64)blockIdx.x * blockDim.x + threadIdx.x; i < p.count; i += stride)
    {
        const double origin = 0.0;
        double sum = origin;
        sum = sum + p.coefficient[0] * ((double)dm_load_f32(p.in[1], i) - origin);
        sum = sum + p.coefficient[1] * ((double)dm_load_bf16(p.in[0], i) - origin);
        dm_store_f16(p.out, i, dm_narrow_odd(sum));
    }
}
