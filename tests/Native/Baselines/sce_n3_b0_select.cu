// dotnet-merge generated kernel (emitter v2); regenerate rather than edit.
// sce: 3 inputs (bf16, bf16, bf16) -> bf16, base: input 0, selection: true
// launch: blockDim.x = 256, any gridDim.x (grid-stride loop); one by-value parameter, struct dm_params.

#define DM_MODEL_COUNT 3
#define DM_BLOCK_SIZE 256

// ==== kernels/dtype.cuh ==== (111 lines inlined)
// ==== kernels/select.cuh ==== (27 lines inlined)
// ==== kernels/merge_ops.cuh ==== (27 lines inlined)
// ==== generated ====
struct dm_params
{
    const void* in[3];          // @0: input i, element 0 of this launch
    void* out;                  // @24: output, element 0 of this launch
    dm_u64 count;               // @32: elements in this launch
    dm_u64 first;               // @40: tensor element index of element 0
    double weight[3];           // @48: normalised SCE weight of input i (base: unused)
    dm_u64 select_end;          // @72: selected positions: one past the last selected threshold copy
    dm_u32 select_key;          // @80: selected positions: threshold key of the variance
}; // 88 bytes

extern "C" __global__ void __launch_bounds__(DM_BLOCK_SIZE) dm_sce_n3_b0_bf16_bf16_bf16_to_bf16_select(const dm_params p)
{
    const dm_u64 stride = (dm_u64)blockDim.x * gridDim.x;
    for (dm_u64 i = (dm_u64)blockIdx.x * blockDim.x + threadIdx.x; i < p.count; i += stride)
    {
        const float base = dm_load_bf16(p.in[0], i);
        const float delta1 = dm_load_bf16(p.in[1], i) - base;
        const float delta2 = dm_load_bf16(p.in[2], i) - base;
        double mean = 0.0;
        mean = mean + (double)delta1;
        mean = mean + (double)delta2;
        mean = mean / 2.0;
        double squares = 0.0;
        { const double deviation = (double)delta1 - mean; squares = squares + deviation * deviation; }
        { const double deviation = (double)delta2 - mean; squares = squares + deviation * deviation; }
        const float variance = (float)(squares / 2.0);
        if (!dm_in_top(dm_sort_key(variance), p.first + i, p.select_key, p.select_end))
        {
            dm_store_bf16(p.out, i, dm_narrow_odd((double)base));
            continue;
        }
        double sum = 0.0;
        sum = sum + (double)delta1;
        sum = sum + (double)delta2;
        const bool positive = sum >= 0.0;
        double mixed = 0.0, divisor = 0.0;
        if (positive ? delta1 > 0.0f : delta1 < 0.0f) { mixed = mixed + (double)delta1 * p.weight[1]; divisor = divisor + p.weight[1]; }
        if (positive ? delta2 > 0.0f : delta2 < 0.0f) { mixed = mixed + (double)delta2 * p.weight[2]; divisor = divisor + p.weight[2]; }
        dm_store_bf16(p.out, i, dm_narrow_odd((double)base + mixed / (divisor == 0.0 ? 1.0 : divisor)));
    }
}
