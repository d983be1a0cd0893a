// dotnet-merge generated kernel (emitter v2); regenerate rather than edit.
// linear: 3 inputs (bf16, bf16, bf16) -> bf16
// launch: blockDim.x = 256, any gridDim.x (grid-stride loop); one by-value parameter, struct dm_params.

#define DM_MODEL_COUNT 3
#define DM_BLOCK_SIZE 256

// ==== kernels/dtype.cuh ==== (111 lines inlined)
// ==== kernels/merge_ops.cuh ==== (27 lines inlined)
// ==== generated ====
struct dm_params
{
    const void* in[3];          // @0: input i, element 0 of this launch
    void* out;                  // @24: output, element 0 of this launch
    dm_u64 count;               // @32: elements in this launch
    double weight[3];           // @40: weight of input i
    double divisor;             // @64: sum of the weights when normalising, else 1
}; // 72 bytes

extern "C" __global__ void __launch_bounds__(DM_BLOCK_SIZE) dm_linear_n3_bf16_bf16_bf16_to_bf16(const dm_params p)
{
    const dm_u64 stride = (dm_u64)blockDim.x * gridDim.x;
    for (dm_u64 i = (dm_u64)blockIdx.x * blockDim.x + threadIdx.x; i < p.count; i += stride)
    {
        double acc = 0.0;
        acc = acc + p.weight[0] * (double)dm_load_bf16(p.in[0], i);
        acc = acc + p.weight[1] * (double)dm_load_bf16(p.in[1], i);
        acc = acc + p.weight[2] * (double)dm_load_bf16(p.in[2], i);
        dm_store_bf16(p.out, i, dm_narrow_odd(acc / p.divisor));
    }
}
