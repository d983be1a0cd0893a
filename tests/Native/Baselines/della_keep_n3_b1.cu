// dotnet-merge generated kernel (emitter v2); regenerate rather than edit.
// DELLA keep flags: 3 inputs (bf16, f32, f16), base: input 1
// launch: blockDim.x = 256, any gridDim.x (grid-stride loop); one by-value parameter, struct dm_params.

#define DM_MODEL_COUNT 3
#define DM_BLOCK_SIZE 256

// ==== kernels/dtype.cuh ==== (111 lines inlined)
// ==== kernels/philox.cuh ==== (67 lines inlined)
// ==== kernels/select.cuh ==== (27 lines inlined)
// ==== generated ====
struct dm_params
{
    const void* in[3];          // @0: input i, element 0 of the tensor
    void* flags;                // @24: dm_u8[n * count]: 1 where input i keeps element e
    dm_u64 count;               // @32: elements of the tensor
    dm_u64 row;                 // @40: elements per row (at most DM_DELLA_MAX_ROW)
    dm_u64 seed;                // @48: run seed (random stream key)
    double density[3];          // @56: density of input i
    double epsilon[3];          // @80: epsilon of input i
    dm_u32 mode[3];             // @104: 0: no pruner, 1: MagPrune, 2: nothing kept
    dm_u32 name_hash;           // @116: FNV-1a of the output tensor name
}; // 120 bytes

extern "C" __global__ void __launch_bounds__(DM_BLOCK_SIZE) dm_della_keep_n3_b1_bf16_f32_f16(const dm_params p)
{
    __shared__ dm_u64 keys[4096];
    dm_u8* flags = (dm_u8*)p.flags;
    const dm_u64 rows = p.count / p.row;
    unsigned int padded = 1u;
    while ((dm_u64)padded < p.row) padded <<= 1;
    for (dm_u64 r = blockIdx.x; r < rows; r += gridDim.x)
    {
        const dm_u64 start = r * p.row;
        if (p.mode[0] != 1u)
        {
            for (dm_u64 j = threadIdx.x; j < p.row; j += blockDim.x) flags[0ull * p.count + start + j] = p.mode[0] == 0u ? 1 : 0;
        }
        else
        {
            for (unsigned int j = threadIdx.x; j < padded; j += blockDim.x)
                keys[j] = (dm_u64)j < p.row ? ((dm_u64)dm_magnitude_key(dm_load_bf16(p.in[0], start + j) - dm_load_f32(p.in[1], start + j)) << 32) | (dm_u64)(p.row - 1 - j) : ~0ull;
            __syncthreads();
            for (unsigned int size = 2u; size <= padded; size <<= 1)
                for (unsigned int stride = size >> 1; stride > 0u; stride >>= 1)
                {
                    for (unsigned int j = threadIdx.x; j < padded; j += blockDim.x)
                    {
                        const unsigned int partner = j ^ stride;
                        if (partner > j)
                        {
                            const bool ascending = (j & size) == 0u;
                            const dm_u64 a = keys[j], b = keys[partner];
                            if (ascending ? a > b : a < b) { keys[j] = b; keys[partner] = a; }
                        }
                    }
                    __syncthreads();
                }
            for (dm_u64 rank = threadIdx.x; rank < p.row; rank += blockDim.x)
            {
                const dm_u64 j = p.row - 1 - (dm_u64)(dm_u32)keys[rank];
                const double normalized = p.row == 1 ? 0.5 : (double)rank / (double)(p.row - 1);
                const double probability = (p.density[0] - p.epsilon[0]) + normalized * 2.0 * p.epsilon[0];
                flags[0ull * p.count + start + j] = (double)dm_uniform(dm_random_bits(p.seed, 0u, p.name_hash, start + j)) < probability ? 1 : 0;
            }
            __syncthreads();
        }
        if (p.mode[2] != 1u)
        {
            for (dm_u64 j = threadIdx.x; j < p.row; j += blockDim.x) flags[2ull * p.count + start + j] = p.mode[2] == 0u ? 1 : 0;
        }
        else
        {
            for (unsigned int j = threadIdx.x; j < padded; j += blockDim.x)
                keys[j] = (dm_u64)j < p.row ? ((dm_u64)dm_magnitude_key(dm_load_f16(p.in[2], start + j) - dm_load_f32(p.in[1], start + j)) << 32) | (dm_u64)(p.row - 1 - j) : ~0ull;
            __syncthreads();
            for (unsigned int size = 2u; size <= padded; size <<= 1)
                for (unsigned int stride = size >> 1; stride > 0u; stride >>= 1)
                {
                    for (unsigned int j = threadIdx.x; j < padded; j += blockDim.x)
                    {
                        const unsigned int partner = j ^ stride;
                        if (partner > j)
                        {
                            const bool ascending = (j & size) == 0u;
                            const dm_u64 a = keys[j], b = keys[partner];
                            if (ascending ? a > b : a < b) { keys[j] = b; keys[partner] = a; }
                        }
                    }
                    __syncthreads();
                }
            for (dm_u64 rank = threadIdx.x; rank < p.row; rank += blockDim.x)
            {
                const dm_u64 j = p.row - 1 - (dm_u64)(dm_u32)keys[rank];
                const double normalized = p.row == 1 ? 0.5 : (double)rank / (double)(p.row - 1);
                const double probability = (p.density[2] - p.epsilon[2]) + normalized * 2.0 * p.epsilon[2];
                flags[2ull * p.count + start + j] = (double)dm_uniform(dm_random_bits(p.seed, 2u, p.name_hash, start + j)) < probability ? 1 : 0;
            }
            __syncthreads();
        }
    }
}
