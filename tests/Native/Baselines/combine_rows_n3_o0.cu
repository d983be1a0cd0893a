// dotnet-merge generated kernel (emitter v2); regenerate rather than edit.
// combine by rows: 3 inputs (bf16, bf16, bf16) -> bf16, sources 1, 2, origin 0
// launch: blockDim.x = 256, any gridDim.x (grid-stride loop); one by-value parameter, struct dm_params.

#define DM_MODEL_COUNT 3
#define DM_BLOCK_SIZE 256

// ==== kernels/dtype.cuh ==== (111 lines inlined)
// ==== kernels/merge_ops.cuh ==== (27 lines inlined)
// ==== generated ====
struct dm_params
{
    const void* in[3];          // @0: input i, element 0 of this launch
    void* out;                  // @24: output, element 0 of this launch
    dm_u64 count;               // @32: elements in this launch
    const void* row_coefficients;// @40: double[rows * k]: the coefficients of each row
    dm_u64 first;               // @48: tensor element index of element 0
    dm_u64 width;               // @56: elements per row
}; // 64 bytes

extern "C" __global__ void __launch_bounds__(DM_BLOCK_SIZE) dm_combine_rows_n3_s1x2_o0_bf16_bf16_bf16_to_bf16(const dm_params p)
{
    const dm_u64 stride = (dm_u64)blockDim.x * gridDim.x;
    for (dm_u64 i = (dm_u64)blockIdx.x * blockDim.x + threadIdx.x; i < p.count; i += stride)
    {
        const double* coefficient = (const double*)p.row_coefficients + (p.first + i) / p.width * 2u;
        const double origin = (double)dm_load_bf16(p.in[0], i);
        double sum = origin;
        sum = sum + coefficient[0] * ((double)dm_load_bf16(p.in[1], i) - origin);
        sum = sum + coefficient[1] * ((double)dm_load_bf16(p.in[2], i) - origin);
        dm_store_bf16(p.out, i, dm_narrow_odd(sum));
    }
}
