// dotnet-merge generated kernel (emitter v2); regenerate rather than edit.
// Gram matrix: 3 inputs (bf16, bf16, f16), sources 1, 2, origin 0
// launch: blockDim.x = 32, any gridDim.x (grid-stride loop); one by-value parameter, struct dm_params.

#define DM_MODEL_COUNT 3
#define DM_BLOCK_SIZE 32

// ==== kernels/dtype.cuh ==== (111 lines inlined)
// ==== kernels/reduce.cuh ==== (37 lines inlined)
// ==== generated ====
struct dm_params
{
    const void* in[3];          // @0: input i, element 0 of the tensor
    void* partial;              // @24: double[spans * pairs]: per span, the packed upper triangle of dot products
    dm_u64 count;               // @32: elements of the tensor
    dm_u64 span;                // @40: elements per reduction span
}; // 48 bytes

extern "C" __global__ void __launch_bounds__(DM_BLOCK_SIZE) dm_gram_n3_s1x2_o0_bf16_bf16_f16(const dm_params p)
{
    __shared__ double diff[2][DM_BLOCK_SIZE];
    __shared__ double lanes[3][DM_LANES];
    double* partial = (double*)p.partial;
    const dm_u64 spans = (p.count + p.span - 1) / p.span;
    for (dm_u64 c = blockIdx.x; c < spans; c += gridDim.x)
    {
        const dm_u64 start = c * p.span;
        const dm_u64 end = start + p.span < p.count ? start + p.span : p.count;
        // LaneSum order: thread l < DM_LANES owns accumulator l (elements at offsets = l mod DM_LANES, in order).
        double s0 = 0.0;
        double s1 = 0.0;
        double s2 = 0.0;
        for (dm_u64 tile = start; tile < end; tile += DM_BLOCK_SIZE)
        {
            const dm_u64 i = tile + threadIdx.x;
            if (i < end)
            {
                const double origin = (double)dm_load_bf16(p.in[0], i);
                diff[0][threadIdx.x] = (double)dm_load_bf16(p.in[1], i) - origin;
                diff[1][threadIdx.x] = (double)dm_load_f16(p.in[2], i) - origin;
            }
            __syncthreads();
            if (threadIdx.x < DM_LANES)
            {
                const unsigned int n = end - tile < DM_BLOCK_SIZE ? (unsigned int)(end - tile) : DM_BLOCK_SIZE;
                for (unsigned int t = threadIdx.x; t < n; t += DM_LANES)
                {
                    s0 = s0 + diff[0][t] * diff[0][t];
                    s1 = s1 + diff[0][t] * diff[1][t];
                    s2 = s2 + diff[1][t] * diff[1][t];
                }
            }
            __syncthreads();
        }
        if (threadIdx.x < DM_LANES)
        {
            lanes[0][threadIdx.x] = s0;
            lanes[1][threadIdx.x] = s1;
            lanes[2][threadIdx.x] = s2;
        }
        __syncthreads();
        if (threadIdx.x == 0)
        {
            partial[c * 3 + 0] = dm_lane_total(lanes[0]);
            partial[c * 3 + 1] = dm_lane_total(lanes[1]);
            partial[c * 3 + 2] = dm_lane_total(lanes[2]);
        }
        __syncthreads();
    }
}
