// cuda_shim.h: just enough of the CUDA C dialect to compile dotnet-merge's kernel headers and
// generated kernels with a host C++20 compiler (g++), and to run a kernel over its grid on the CPU.
//
// Blocks run one after another; the threads of one block run as real std::threads that meet at a
// std::barrier in __syncthreads(). So __shared__ (a function-local static here) is shared by the
// threads of the running block, exactly as on a GPU, and reductions that need __syncthreads work.
// atomicAdd is a real atomic read-modify-write (std::atomic_ref), so histograms built by concurrent
// threads count every element, as on a GPU.
#pragma once

#include <atomic>
#include <barrier>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __shared__ static
#define __launch_bounds__(...)

struct dim3
{
    unsigned int x, y, z;
    constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
};

inline thread_local dim3 threadIdx;
inline thread_local dim3 blockIdx;
inline dim3 blockDim;
inline dim3 gridDim;

namespace dm_shim
{
    inline thread_local std::barrier<>* current_barrier = nullptr;

    // Runs kernel() once per thread of the grid. The kernel reads threadIdx/blockIdx/blockDim/gridDim.
    template <typename Kernel>
    void launch(dim3 grid, dim3 block, Kernel kernel)
    {
        gridDim = grid;
        blockDim = block;
        const unsigned int threads = block.x * block.y * block.z;
        for (unsigned int bz = 0; bz < grid.z; ++bz)
            for (unsigned int by = 0; by < grid.y; ++by)
                for (unsigned int bx = 0; bx < grid.x; ++bx)
                {
                    std::barrier<> barrier((std::ptrdiff_t)threads);
                    std::vector<std::thread> workers;
                    workers.reserve(threads);
                    for (unsigned int t = 0; t < threads; ++t)
                    {
                        workers.emplace_back([&, t, bx, by, bz]() {
                            blockIdx = dim3(bx, by, bz);
                            threadIdx = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
                            current_barrier = &barrier;
                            kernel();
                        });
                    }
                    for (auto& w : workers) w.join();
                }
    }
}

inline void __syncthreads() { dm_shim::current_barrier->arrive_and_wait(); }

inline float __uint_as_float(unsigned int bits)
{
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

inline unsigned int __float_as_uint(float f)
{
    unsigned int bits;
    std::memcpy(&bits, &f, sizeof bits);
    return bits;
}

// CUDA's atomicAdd: adds to *address atomically and returns the old value.
inline unsigned int atomicAdd(unsigned int* address, unsigned int value)
{
    return std::atomic_ref<unsigned int>(*address).fetch_add(value, std::memory_order_relaxed);
}

inline unsigned long long atomicAdd(unsigned long long* address, unsigned long long value)
{
    return std::atomic_ref<unsigned long long>(*address).fetch_add(value, std::memory_order_relaxed);
}
