// dotnet-merge generated kernel (emitter v2); regenerate rather than edit.
// linear: 2 inputs (f16, f8e4m3) -> f32
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
    double weight[2];           // @32: weight of input i
    double divisor;             // @48: sum of the weights when normalising, else 1
}; // 56 bytes

extern "C" __global__ void __launch_bounds__(DM_BLOCK_SIZE) dm_linear_n2_f16_f8e4m3_to_f32(const dm_params p)
{
    const dm_u64 stride = (dm_u64)blockDim.x * gridDim.x;
    for (dm_u64 i = (dm_u64)blockIdx.x * blockDim.x + threadIdx.x; i < p.count; i += stride)
    {
        double acc = 0.0;
        acc = acc + p.weight[0] * (double)dm_load_f16(p.in[0], i);
        acc = acc + p.weight[1] * (double)dm_load_f8e4m3(p.in[1], i);
        dm_store_f32(p.out, i, dm_narrow_nearest(acc / p.divisor));
    }
}
