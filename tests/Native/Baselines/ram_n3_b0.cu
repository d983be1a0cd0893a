// dotnet-merge generated kernel (emitter v2); regenerate rather than edit.
// ram: 3 inputs (bf16, bf16, f16) -> bf16, base: input 0
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
    double epsilon;             // @40: a delta changes its position iff |delta| > epsilon
    double scale[3];            // @48: factor of input i's delta where it alone changes the position
}; // 72 bytes

extern "C" __global__ void __launch_bounds__(DM_BLOCK_SIZE) dm_ram_n3_b0_bf16_bf16_f16_to_bf16(const dm_params p)
{
    const dm_u64 stride = (dm_u64)blockDim.x * gridDim.x;
    for (dm_u64 i = (dm_u64)blockIdx.x * blockDim.x + threadIdx.x; i < p.count; i += stride)
    {
        const float base = dm_load_bf16(p.in[0], i);
        const float delta1 = dm_load_bf16(p.in[1], i) - base;
        const float delta2 = dm_load_f16(p.in[2], i) - base;
        int changed = 0;
        double sum = 0.0, unique = 0.0;
        if ((double)dm_abs32(delta1) > p.epsilon) { changed = changed + 1; sum = sum + (double)delta1; unique = (double)delta1 * p.scale[1]; }
        if ((double)dm_abs32(delta2) > p.epsilon) { changed = changed + 1; sum = sum + (double)delta2; unique = (double)delta2 * p.scale[2]; }
        const double merged = changed == 0 ? 0.0 : changed == 1 ? unique : sum / (double)changed;
        dm_store_bf16(p.out, i, dm_narrow_odd((double)base + merged));
    }
}
