// dotnet-merge generated kernel (emitter v1); regenerate rather than edit.
// task arithmetic: 3 inputs (f32, bf16, f8e5m2) -> f16, base: input 1, normalize: true, DARE mask: true
// launch: blockDim.x = 256, any gridDim.x (grid-stride loop); one by-value parameter, struct dm_params.

#define DM_MODEL_COUNT 3
#define DM_BLOCK_SIZE 256

// ==== kernels/dtype.cuh ==== (106 lines inlined)
// ==== kernels/philox.cuh ==== (66 lines inlined)
// ==== kernels/merge_ops.cuh ==== (25 lines inlined)
// ==== generated ====
struct dm_params
{
    const void* in[3];          // @0: input i, element 0 of this launch
    void* out;                  // @24: output, element 0 of this launch
    dm_u64 count;               // @32: elements in this launch
    dm_u64 first;               // @40: tensor element index of element 0
    dm_u64 seed;                // @48: run seed (random stream key)
    float weight[3];            // @56: weight of input i (base: unused)
    float lambda;               // @68: scale of the mixed delta
    float density[3];           // @72: keep probability of input i
    float rescale[3];           // @84: factor for kept elements of input i
    dm_u32 name_hash;           // @96: FNV-1a of the output tensor name
}; // 104 bytes

extern "C" __global__ void __launch_bounds__(DM_BLOCK_SIZE) dm_task_arithmetic_n3_b1_f32_bf16_f8e5m2_to_f16_dare_norm(const dm_params p)
{
    const float divisor = dm_nonzero_divisor(p.weight[0] + p.weight[2]);
    const dm_u64 stride = (dm_u64)blockDim.x * gridDim.x;
    for (dm_u64 i = (dm_u64)blockIdx.x * blockDim.x + threadIdx.x; i < p.count; i += stride)
    {
        const dm_u64 element = p.first + i;
        const float base = dm_load_bf16(p.in[1], i);
        float delta0 = dm_load_f32(p.in[0], i) - base;
        delta0 = dm_dare_delta(delta0, dm_bernoulli_keep(p.seed, 0u, p.name_hash, element, p.density[0]), p.rescale[0]);
        float mixed = p.weight[0] * delta0;
        float delta2 = dm_load_f8e5m2(p.in[2], i) - base;
        delta2 = dm_dare_delta(delta2, dm_bernoulli_keep(p.seed, 2u, p.name_hash, element, p.density[2]), p.rescale[2]);
        mixed = dm_weighted_add(mixed, p.weight[2], delta2);
        mixed = mixed / divisor;
        mixed = mixed * p.lambda;
        dm_store_f16(p.out, i, base + mixed);
    }
}
