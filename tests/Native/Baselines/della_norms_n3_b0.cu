// dotnet-merge generated kernel (emitter v2); regenerate rather than edit.
// DELLA L1 norms: 3 inputs (bf16, bf16, bf16), base: input 0
// launch: blockDim.x = 32, any gridDim.x (grid-stride loop); one by-value parameter, struct dm_params.

#define DM_MODEL_COUNT 3
#define DM_BLOCK_SIZE 32

// ==== kernels/dtype.cuh ==== (111 lines inlined)
// ==== kernels/reduce.cuh ==== (37 lines inlined)
// ==== kernels/merge_ops.cuh ==== (27 lines inlined)
// ==== generated ====
struct dm_params
{
    const void* in[3];          // @0: input i, element 0 of the tensor
    void* partial;              // @24: double[chunks * 2 * n]: per chunk and input, sum |delta| and sum |kept delta|
    dm_u64 count;               // @32: elements of the tensor
    dm_u64 chunk;               // @40: elements per chunk
    const void* flags;          // @48: dm_u8[n * total]: 1 where input i keeps element e (EmitDellaKeep)
    dm_u64 total;               // @56: elements of the tensor (the flags' stride)
}; // 64 bytes

extern "C" __global__ void __launch_bounds__(DM_BLOCK_SIZE) dm_della_norms_n3_b0_bf16_bf16_bf16(const dm_params p)
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
        double all1 = 0.0, kept1 = 0.0;
        double all2 = 0.0, kept2 = 0.0;
        for (dm_u64 tile = start; tile < end; tile += DM_BLOCK_SIZE)
        {
            const dm_u64 i = tile + threadIdx.x;
            if (i < end)
            {
                const float base = dm_load_bf16(p.in[0], i);
                const float magnitude1 = dm_abs32(dm_load_bf16(p.in[1], i) - base);
                all[1][threadIdx.x] = magnitude1;
                kept[1][threadIdx.x] = (((const dm_u8*)p.flags)[1ull * p.total + i] != 0) ? magnitude1 : 0.0f;
                const float magnitude2 = dm_abs32(dm_load_bf16(p.in[2], i) - base);
                all[2][threadIdx.x] = magnitude2;
                kept[2][threadIdx.x] = (((const dm_u8*)p.flags)[2ull * p.total + i] != 0) ? magnitude2 : 0.0f;
            }
            __syncthreads();
            if (threadIdx.x < DM_LANES)
            {
                const unsigned int n = end - tile < DM_BLOCK_SIZE ? (unsigned int)(end - tile) : DM_BLOCK_SIZE;
                for (unsigned int t = threadIdx.x; t < n; t += DM_LANES)
                {
                    all1 = all1 + (double)all[1][t];
                    kept1 = kept1 + (double)kept[1][t];
                    all2 = all2 + (double)all[2][t];
                    kept2 = kept2 + (double)kept[2][t];
                }
            }
            __syncthreads();
        }
        if (threadIdx.x < DM_LANES)
        {
            lanes[2][threadIdx.x] = all1;
            lanes[3][threadIdx.x] = kept1;
            lanes[4][threadIdx.x] = all2;
            lanes[5][threadIdx.x] = kept2;
        }
        __syncthreads();
        if (threadIdx.x == 0)
        {
            partial[c * 6 + 2] = dm_lane_total(lanes[2]);
            partial[c * 6 + 3] = dm_lane_total(lanes[3]);
            partial[c * 6 + 4] = dm_lane_total(lanes[4]);
            partial[c * 6 + 5] = dm_lane_total(lanes[5]);
        }
        __syncthreads();
    }
}
