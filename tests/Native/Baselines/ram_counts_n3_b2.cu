// dotnet-merge generated kernel (emitter v2); regenerate rather than edit.
// RAM+ change counts: 3 inputs (bf16, f16, bf16), base: input 2
// launch: blockDim.x = 256, any gridDim.x (grid-stride loop); one by-value parameter, struct dm_params.

#define DM_MODEL_COUNT 3
#define DM_BLOCK_SIZE 256

// ==== kernels/dtype.cuh ==== (111 lines inlined)
// ==== kernels/reduce.cuh ==== (37 lines inlined)
// ==== kernels/merge_ops.cuh ==== (27 lines inlined)
// ==== generated ====
struct dm_params
{
    const void* in[3];          // @0: input i, element 0 of the tensor
    void* partial;              // @24: double[chunks * 2 * (n - 1)]: per chunk and non-base input, positions changed alone, then shared
    dm_u64 count;               // @32: elements of the tensor
    dm_u64 chunk;               // @40: elements per chunk
    double epsilon;             // @48: a delta changes its position iff |delta| > epsilon
}; // 56 bytes

extern "C" __global__ void __launch_bounds__(DM_BLOCK_SIZE) dm_ram_counts_n3_b2_bf16_f16_bf16(const dm_params p)
{
    __shared__ dm_u64 scratch[DM_BLOCK_SIZE];
    double* partial = (double*)p.partial;
    const dm_u64 chunks = (p.count + p.chunk - 1) / p.chunk;
    for (dm_u64 c = blockIdx.x; c < chunks; c += gridDim.x)
    {
        const dm_u64 start = c * p.chunk;
        const dm_u64 end = start + p.chunk < p.count ? start + p.chunk : p.count;
        dm_u64 alone0 = 0, shared0 = 0;
        dm_u64 alone1 = 0, shared1 = 0;
        for (dm_u64 i = start + threadIdx.x; i < end; i += blockDim.x)
        {
            const float base = dm_load_bf16(p.in[2], i);
            const float delta0 = dm_load_bf16(p.in[0], i) - base;
            const float delta1 = dm_load_f16(p.in[1], i) - base;
            const bool changes0 = ((double)dm_abs32(delta0) > p.epsilon);
            const bool changes1 = ((double)dm_abs32(delta1) > p.epsilon);
            const int changed = (changes0 ? 1 : 0) + (changes1 ? 1 : 0);
            if (changes0) { if (changed == 1) ++alone0; else ++shared0; }
            if (changes1) { if (changed == 1) ++alone1; else ++shared1; }
        }
        const dm_u64 alone_total0 = dm_block_sum(alone0, scratch);
        const dm_u64 shared_total0 = dm_block_sum(shared0, scratch);
        const dm_u64 alone_total1 = dm_block_sum(alone1, scratch);
        const dm_u64 shared_total1 = dm_block_sum(shared1, scratch);
        if (threadIdx.x == 0)
        {
            partial[c * 4 + 0] = (double)alone_total0;
            partial[c * 4 + 1] = (double)shared_total0;
            partial[c * 4 + 2] = (double)alone_total1;
            partial[c * 4 + 3] = (double)shared_total1;
        }
    }
}
