// dotnet-merge generated kernel (emitter v2); regenerate rather than edit.
// arcee_fusion: 2 inputs (bf16, bf16) -> bf16, base: input 0
// launch: blockDim.x = 256, any gridDim.x (grid-stride loop); one by-value parameter, struct dm_params.

#define DM_MODEL_COUNT 2
#define DM_BLOCK_SIZE 256

// ==== kernels/dtype.cuh ==== (111 lines inlined)
// ==== kernels/merge_ops.cuh ==== (27 lines inlined)
// ==== generated ====
struct dm_params
{
    const void* in[2];          // @0: input i, element 0 of this launch
    void* out;                  // @16: output, element 0 of this launch
    dm_u64 count;               // @24: elements in this launch
    dm_u64 first;               // @32: tensor element index of element 0
    double threshold;           // @40: median + 1.5 IQR of the importances
    const void* row_coefficients;// @48: double[rows]: each row's KL(softmax(b) || softmax(a))
    dm_u64 width;               // @56: elements per row
}; // 64 bytes

extern "C" __global__ void __launch_bounds__(DM_BLOCK_SIZE) dm_arcee_fusion_n2_b0_bf16_bf16_to_bf16(const dm_params p)
{
    const dm_u64 stride = (dm_u64)blockDim.x * gridDim.x;
    for (dm_u64 i = (dm_u64)blockIdx.x * blockDim.x + threadIdx.x; i < p.count; i += stride)
    {
        const float x = dm_load_bf16(p.in[0], i);
        const float y = dm_load_bf16(p.in[1], i);
        const double difference = (double)y - (double)x;
        const double row_kl = ((const double*)p.row_coefficients)[(p.first + i) / p.width];
        const float importance = (float)((difference < 0.0 ? -difference : difference + 0.0) * row_kl);
        dm_store_bf16(p.out, i, dm_narrow_odd((double)((double)importance >= p.threshold ? y : x)));
    }
}
