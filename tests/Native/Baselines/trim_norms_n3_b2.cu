// dotnet-merge generated kernel (emitter v2); regenerate rather than edit.
// magnitude trim L1 norms: 3 inputs (bf16, f16, bf16), base: input 2
// launch: blockDim.x = 32, any gridDim.x (grid-stride loop); one by-value parameter, struct dm_params.

#define DM_MODEL_COUNT 3
#define DM_BLOCK_SIZE 32

// ==== kernels/dtype.cuh ==== (111 lines inlined)
// ==== kernels/select.cuh ==== (27 lines inlined)
// ==== kernels/reduce.cuh ==== (37 lines inlined)
// ==== kernels/merge_ops.cuh ==== (27 lines inlined)
// ==== generated ====
struct dm_params
{
    const void* in[3];          // @0: input i, element 0 of the tensor
    void* partial;              // @24: double[chunks * 2 * n]: per chunk and input, sum |delta| and sum |kept delta|
    dm_u64 count;               // @32: elements of the tensor
    dm_u64 chunk;               // @40: elements per chunk
    dm_u64 keep_end[3];         // @48: kept set of input i: one past the last kept threshold copy
    dm_u64 drop_end[3];         // @72: dropped set of input i: one past the last dropped threshold copy
    dm_u32 keep_key[3];         // @96: kept set of input i: threshold key of |delta|
    dm_u32 drop_key[3];         // @108: dropped set of input i: threshold key of |delta|
}; // 120 bytes

extern "C" __global__ void __launch_bounds__(DM_BLOCK_SIZE) dm_trim_norms_n3_b2_bf16_f16_bf16(const dm_params p)
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
        double all1 = 0.0, kept1 = 0.0;
        for (dm_u64 tile = start; tile < end; tile += DM_BLOCK_SIZE)
        {
            const dm_u64 i = tile + threadIdx.x;
            if (i < end)
            {
                const float base = dm_load_bf16(p.in[2], i);
                const float magnitude0 = dm_abs32(dm_load_bf16(p.in[0], i) - base);
                all[0][threadIdx.x] = magnitude0;
                kept[0][threadIdx.x] = (dm_in_top(dm_magnitude_key(magnitude0), i, p.keep_key[0], p.keep_end[0]) && !dm_in_top(dm_magnitude_key(magnitude0), i, p.drop_key[0], p.drop_end[0])) ? magnitude0 : 0.0f;
                const float magnitude1 = dm_abs32(dm_load_f16(p.in[1], i) - base);
                all[1][threadIdx.x] = magnitude1;
                kept[1][threadIdx.x] = (dm_in_top(dm_magnitude_key(magnitude1), i, p.keep_key[1], p.keep_end[1]) && !dm_in_top(dm_magnitude_key(magnitude1), i, p.drop_key[1], p.drop_end[1])) ? magnitude1 : 0.0f;
            }
            __syncthreads();
            if (threadIdx.x < DM_LANES)
            {
                const unsigned int n = end - tile < DM_BLOCK_SIZE ? (unsigned int)(end - tile) : DM_BLOCK_SIZE;
                for (unsigned int t = threadIdx.x; t < n; t += DM_LANES)
                {
                    all0 = all0 + (double)all[0][t];
                    kept0 = kept0 + (double)kept[0][t];
                    all1 = all1 + (double)all[1][t];
                    kept1 = kept1 + (double)kept[1][t];
                }
            }
            __syncthreads();
        }
        if (threadIdx.x < DM_LANES)
        {
            lanes[0][threadIdx.x] = all0;
            lanes[1][threadIdx.x] = kept0;
            lanes[2][threadIdx.x] = all1;
            lanes[3][threadIdx.x] = kept1;
        }
        __syncthreads();
        if (threadIdx.x == 0)
        {
            partial[c * 6 + 0] = dm_lane_total(lanes[0]);
            partial[c * 6 + 1] = dm_lane_total(lanes[1]);
            partial[c * 6 + 2] = dm_lane_total(lanes[2]);
            partial[c * 6 + 3] = dm_lane_total(lanes[3]);
        }
        __syncthreads();
    }
}
