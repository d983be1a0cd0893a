// philox_driver.cpp: evaluates kernels/philox.cuh on the CPU through cuda_shim.h.
// stdin lines:  raw c0 c1 c2 c3 k0 k1            -> the four output words (hex)
//               elem seed model nameHash element  -> dm_random_bits (hex) and dm_uniform (as float bits, hex)
#include "cuda_shim.h"
#include "philox.cuh"

#include <iostream>
#include <string>

int main()
{
    std::string kind;
    std::cout << std::hex;
    while (std::cin >> kind)
    {
        if (kind == "raw")
        {
            dm_u32x4 c; dm_u32 k0, k1;
            std::cin >> std::hex >> c.x >> c.y >> c.z >> c.w >> k0 >> k1;
            dm_u32x4 r = dm_philox4x32_10(c, k0, k1);
            std::cout << r.x << ' ' << r.y << ' ' << r.z << ' ' << r.w << '\n';
        }
        else
        {
            dm_u64 seed, element; dm_u32 model, nameHash;
            std::cin >> std::hex >> seed >> model >> nameHash >> element;
            dm_u32 bits = dm_random_bits(seed, model, nameHash, element);
            std::cout << bits << ' ' << __float_as_uint(dm_uniform(bits)) << '\n';
        }
    }
    return 0;
}
