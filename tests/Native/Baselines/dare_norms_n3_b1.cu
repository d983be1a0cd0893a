// dotnet-merge generated kernel (emitter v2); regenerate rather than edit.
// DARE L1 norms: 3 inputs (bf16, bf16, f32), base: input 1
// launch: blockDim.x = 32, any gridDim.x (grid-stride loop); one by-value parameter, struct dm_params.

#define DM_MODEL_COUNT 3
#define DM_BLOCK_SIZE 32

// ==== kernels/dtype.cuh ==== (111 lines inlined)
// ==== kernels/philox.cuh ==== (67 lines inlined)
// ==== kernels/reduce.cuh ==== (37 lines inlined)
// ==== kernels/merge_ops.cuh ==== (27 lines inlined)
// ==== generated ====
struct dm_params
{
    const void* in[3];          // @0: input i, element 0 of the tensor
    void* partial;              // @24: double[chunks * 2 * n]: per chunk and input, sum |delta| and sum |kept delta|
    dm_u64 count;               // @32: elements of the tensor
    dm_u64 chunk;               // @40: elements per chunk
    dm_u64 seed;                // @48: run seed (random stream key)
    double density[3];          // @56: keep probability of input i
    dm_u32 name_hash;           // @80: FNV-1a of the output tensor name
}; // 88 bytes

extern "C" __global__ void __launch_bounds__(DM_BLOCK_SIZE) dm_dare_norms_n3_b1_bf16_bf16_f32(const dm_params p)
{
    __shared__ float all[DM_MODEL_COUNT][DM_BLOCK_SIZE];
    __shared__ float kept[DM_MODEL_COUNT][DM_BLOCK_SIZE];
    __shared__ double lanes[2 * DM_MODEL_COUNT][DM_LANES];
    double* partial = (double*)p.partial;
    const dm_u64 chunks = (p.count + p.chunk - 1) / p.chunk;
    for (dm_u64 c = blockIdx.x; c < chunks; c += gridDim.x)
    {
        const dm_u64 start = c * p.chunk;
        const dm_u64 end = start + p.chunk < p.count ? start + p.chunk : p.count;
        // LaneSum order: thread l < DM_LANES owns accumulator l (elements at offsets = l mod DM_LANES, in order).
        double all0 = 0.0, kept0 = 0.0;
        double all2 = 0.0, kept2 = 0.0;
        for (dm_u64 tile = start; tile < end; tile += DM_BLOCK_SIZE)
        {
            const dm_u64 i = tile + threadIdx.x;
            if (i < end)
            {
                const float base = dm_load_bf16(p.in[1], i);
                const float magnitude0 = dm_abs32(dm_load_bf16(p.in[0], i) - base);
                all[0][threadIdx.x] = magnitude0;
                kept[0][threadIdx.x] = dm_bernoulli_keep(p.seed, 0u, p.name_hash, i, p.density[0]) ? magnitude0 : 0.0f;
                const float magnitude2 = dm_abs32(dm_load_f32(p.in[2], i) - base);
                all[2][threadIdx.x] = magnitude2;
                kept[2][threadIdx.x] = dm_bernoulli_keep(p.seed, 2u, p.name_hash, i, p.density[2]) ? magnitude2 : 0.0f;
            }
            __syncthreads();
            if (threadIdx.x < DM_LANES)
            {
                const unsigned int n = end - tile < DM_BLOCK_SIZE ? (unsigned int)(end - tile) : DM_BLOCK_SIZE;
                for (unsigned int t = threadIdx.x; t < n; t += DM_LANES)
                {
                    all0 = all0 + (double)all[0][t];
                    kept0 = kept0 + (double)kept[0][t];
                    all2 = all2 + (double)all[2][t];
                    kept2 = kept2 + (double)kept[2][t];
                }
            }
            __syncthreads();
        }
        if (threadIdx.x < DM_LANES)
        {
            lanes[0][threadIdx.x] = all0;
            lanes[1][threadIdx.x] = kept0;
            lanes[4][threadIdx.x] = all2;
            lanes[5][threadIdx.x] = kept2;
        }
        __syncthreads();
        if (threadIdx.x == 0)
        {
            partial[c * 6 + 0] = dm_lane_total(lanes[0]);
            partial[c * 6 + 1] = dm_lane_total(lanes[1]);
            partial[c * 6 + 4] = dm_lane_total(lanes[4]);
            partial[c * 6 + 5] = dm_lane_total(lanes[5]);
        }
        __syncthreads();
    }
}
