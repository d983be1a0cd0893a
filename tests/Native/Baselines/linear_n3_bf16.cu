// dotnet-merge generated kernel (emitter v1); regenerate rather than edit.
// linear: 3 inputs (bf16, bf16, bf16) -> bf16, normalize: true
// launch: blockDim.x = 256, any gridDim.x (grid-stride loop); one by-value parameter, struct dm_params.

#define DM_MODEL_COUNT 3
#define DM_BLOCK_SIZE 256

// ==== kernels/dtype.cuh ==== (106 lines inlined)
// ==== kernels/merge_ops.cuh ==== (25 lines inlined)
// ==== generated ====
struct dm_params
{
    const void* in[3];          // @0: input i, element 0 of this launch
    void* out;                  // @24: output, element 0 of this launch
    dm_u64 count;               // @32: elements in this launch
    float weight[3];            // @40: weight of input i
}; // 56 bytes

extern "C" __global__ void __launch_bounds__(DM_BLOCK_SIZE) dm_linear_n3_bf16_bf16_bf16_to_bf16_norm(const dm_params p)
{
    const float total = p.weight[0] + p.weight[1] + p.weight[2];
    const dm_u64 stride = (dm_u64)blockDim.x * gridDim.x;
    for (dm_u64 i = (dm_u64)blockIdx.x * blockDim.x + threadIdx.x; i < p.count; i += stride)
    {
        float acc = p.weight[0] * dm_load_bf16(p.in[0], i);
        acc = dm_weighted_add(acc, p.weight[1], dm_load_bf16(p.in[1], i));
        acc = dm_weighted_add(acc, p.weight[2], dm_load_bf16(p.in[2], i));
        acc = acc / total;
        dm_store_bf16(p.out, i, acc);
    }
}
