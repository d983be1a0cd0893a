// dotnet-merge generated kernel (emitter v2); regenerate rather than edit.
// sce sums of squares: 3 inputs (f32, bf16, f16), base: input 1, selection: true
// launch: blockDim.x = 32, any gridDim.x (grid-stride loop); one by-value parameter, struct dm_params.

#define DM_MODEL_COUNT 3
#define DM_BLOCK_SIZE 32

// ==== kernels/dtype.cuh ==== (111 lines inlined)
// ==== kernels/select.cuh ==== (27 lines inlined)
// ==== kernels/reduce.cuh ==== (37 lines inlined)
// ==== generated ====
struct dm_params
{
    const void* in[3];          // @0: input i, element 0 of the tensor
    void* partial;              // @24: double[chunks * (n - 1)]: per chunk and non-base input, the sum of its squared selected deltas
    dm_u64 count;               // @32: elements of the tensor
    dm_u64 chunk;               // @40: elements per chunk
    dm_u64 select_end;          // @48: selected positions: one past the last selected threshold copy
    dm_u32 select_key;          // @56: selected positions: threshold key of the variance
}; // 64 bytes

extern "C" __global__ void __launch_bounds__(DM_BLOCK_SIZE) dm_sce_squares_n3_b1_f32_bf16_f16_select(const dm_params p)
{
    __shared__ float value[2][DM_BLOCK_SIZE];
    __shared__ double lanes[2][DM_LANES];
    double* partial = (double*)p.partial;
    const dm_u64 chunks = (p.count + p.chunk - 1) / p.chunk;
    for (dm_u64 c = blockIdx.x; c < chunks; c += gridDim.x)
    {
        const dm_u64 start = c * p.chunk;
        const dm_u64 end = start + p.chunk < p.count ? start + p.chunk : p.count;
        // LaneSum order: thread l < DM_LANES owns accumulator l (elements at offsets = l mod DM_LANES, in order).
        double squares0 = 0.0;
        double squares1 = 0.0;
        for (dm_u64 tile = start; tile < end; tile += DM_BLOCK_SIZE)
        {
            const dm_u64 i = tile + threadIdx.x;
            if (i < end)
            {
                const float base = dm_load_bf16(p.in[1], i);
                const float delta0 = dm_load_f32(p.in[0], i) - base;
                const float delta2 = dm_load_f16(p.in[2], i) - base;
                double mean = 0.0;
                mean = mean + (double)delta0;
                mean = mean + (double)delta2;
                mean = mean / 2.0;
                double squares = 0.0;
                { const double deviation = (double)delta0 - mean; squares = squares + deviation * deviation; }
                { const double deviation = (double)delta2 - mean; squares = squares + deviation * deviation; }
                const float variance = (float)(squares / 2.0);
                const bool selected = dm_in_top(dm_sort_key(variance), i, p.select_key, p.select_end);
                value[0][threadIdx.x] = selected ? delta0 : 0.0f;
                value[1][threadIdx.x] = selected ? delta2 : 0.0f;
            }
            __syncthreads();
            if (threadIdx.x < DM_LANES)
            {
                const unsigned int n = end - tile < DM_BLOCK_SIZE ? (unsigned int)(end - tile) : DM_BLOCK_SIZE;
                for (unsigned int t = threadIdx.x; t < n; t += DM_LANES)
                {
                    squares0 = squares0 + (double)value[0][t] * (double)value[0][t];
                    squares1 = squares1 + (double)value[1][t] * (double)value[1][t];
                }
            }
            __syncthreads();
        }
        if (threadIdx.x < DM_LANES)
        {
            lanes[0][threadIdx.x] = squares0;
            lanes[1][threadIdx.x] = squares1;
        }
        __syncthreads();
        if (threadIdx.x == 0)
        {
            partial[c * 2 + 0] = dm_lane_total(lanes[0]);
            partial[c * 2 + 1] = dm_lane_total(lanes[1]);
        }
        __syncthreads();
    }
}
