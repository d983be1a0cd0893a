// dotnet-merge generated kernel (emitter v2); regenerate rather than edit.
// task arithmetic: 3 inputs (bf16, bf16, bf16) -> bf16, base: input 0, DARE mask: true, sign consensus: true, normalize: true
// launch: blockDim.x = 256, any gridDim.x (grid-stride loop); one by-value parameter, struct dm_params.

#define DM_MODEL_COUNT 3
#define DM_BLOCK_SIZE 256

// ==== kernels/dtype.cuh ==== (111 lines inlined)
// ==== kernels/philox.cuh ==== (67 lines inlined)
// ==== kernels/merge_ops.cuh ==== (27 lines inlined)
// ==== generated ====
struct dm_params
{
    const void* in[3];          // @0: input i, element 0 of this launch
    void* out;                  // @24: output, element 0 of this launch
    dm_u64 count;               // @32: elements in this launch
    dm_u64 first;               // @40: tensor element index of element 0
    dm_u64 seed;                // @48: run seed (random stream key)
    double weight[3];           // @56: weight of input i (base: unused)
    double lambda;              // @80: scale of the mixed delta
    double divisor;             // @88: divisor of the mixed delta (no sign consensus)
    double density[3];          // @96: keep probability of input i
    double scale[3];            // @120: factor of the kept deltas of input i
    dm_u32 name_hash;           // @144: FNV-1a of the output tensor name
}; // 152 bytes

extern "C" __global__ void __launch_bounds__(DM_BLOCK_SIZE) dm_task_arithmetic_n3_b0_bf16_bf16_bf16_to_bf16_dare_ties_norm(const dm_params p)
{
    const dm_u64 stride = (dm_u64)blockDim.x * gridDim.x;
    for (dm_u64 i = (dm_u64)blockIdx.x * blockDim.x + threadIdx.x; i < p.count; i += stride)
    {
        const dm_u64 element = p.first + i;
        const float base = dm_load_bf16(p.in[0], i);
        const float delta1 = dm_load_bf16(p.in[1], i) - base;
        const double weighted1 = p.weight[1] * ((dm_bernoulli_keep(p.seed, 1u, p.name_hash, element, p.density[1]) ? (double)delta1 : 0.0) * p.scale[1]);
        const float delta2 = dm_load_bf16(p.in[2], i) - base;
        const double weighted2 = p.weight[2] * ((dm_bernoulli_keep(p.seed, 2u, p.name_hash, element, p.density[2]) ? (double)delta2 : 0.0) * p.scale[2]);
        double sum = 0.0;
        sum = sum + weighted1;
        sum = sum + weighted2;
        const bool positive = sum >= 0.0;
        double agreeing = 0.0, weights = 0.0;
        if (positive ? weighted1 > 0.0 : weighted1 < 0.0) { agreeing = agreeing + weighted1; weights = weights + p.weight[1]; }
        if (positive ? weighted2 > 0.0 : weighted2 < 0.0) { agreeing = agreeing + weighted2; weights = weights + p.weight[2]; }
        const double mixed = agreeing / (weights == 0.0 ? 1.0 : weights);
        dm_store_bf16(p.out, i, dm_narrow_odd((double)base + p.lambda * mixed));
    }
}
