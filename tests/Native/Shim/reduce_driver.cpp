// reduce_driver.cpp: runs kernels/reduce.cuh's block sum over a grid on the CPU through cuda_shim.h,
// exercising __syncthreads and __shared__ with real concurrent threads.
// usage: reduce_driver <input.f64> <grid> <block>   -> prints one line per block: the block's sum (%a)
#include "cuda_shim.h"
#include "reduce.cuh"

#include <fstream>
#include <iterator>

static const double* g_data;
static unsigned long long g_count;
static double g_results[1024];

__global__ void block_sums()
{
    __shared__ double scratch[1024];
    double local = 0.0;
    for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; i < g_count;
         i += (unsigned long long)blockDim.x * gridDim.x)
        local += g_data[i];
    double total = dm_block_sum(local, scratch);
    // a second reduction on the same scratch, to check it is safe to reuse
    double again = dm_block_sum(local, scratch);
    if (threadIdx.x == 0) g_results[blockIdx.x] = total == again ? total : NAN;
}

int main(int argc, char** argv)
{
    std::ifstream in(argv[1], std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<double> data(bytes.size() / sizeof(double));
    std::memcpy(data.data(), bytes.data(), data.size() * sizeof(double));
    g_data = data.data();
    g_count = data.size();
    unsigned int grid = (unsigned int)std::strtoul(argv[2], nullptr, 10);
    unsigned int block = (unsigned int)std::strtoul(argv[3], nullptr, 10);
    dm_shim::launch(dim3(grid), dim3(block), []() { block_sums(); });
    for (unsigned int b = 0; b < grid; ++b) std::printf("%a\n", g_results[b]);
    return 0;
}
