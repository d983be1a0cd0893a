// kernel_driver.cpp: runs one generated merge kernel on the CPU through cuda_shim.h.
//
// Compiled with -DDM_KERNEL_FILE=\"kernel.cu\" -DDM_ENTRY=<entry point>. The kernel takes one
// by-value struct dm_params; the test writes its bytes exactly as the host would pass them to
// cuLaunchKernel, and names the pointer slots to patch with host buffers.
//
// usage: kernel_driver <params.bin> <grid> <block> <slot>...
//   slot = in:<byte offset>:<file>          an input buffer read from file
//        | out:<byte offset>:<bytes>:<file> an output buffer (zeroed) written to file afterwards
#include "cuda_shim.h"
#include DM_KERNEL_FILE

#include <fstream>
#include <iterator>
#include <string>

static std::vector<unsigned char> read_file(const char* path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) { std::fprintf(stderr, "cannot read %s\n", path); std::exit(2); }
    return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct Slot { bool output; size_t offset; std::string file; std::vector<unsigned long long> storage; size_t bytes; };

int main(int argc, char** argv)
{
    if (argc < 4) { std::fprintf(stderr, "usage: kernel_driver params grid block slots...\n"); return 2; }
    std::vector<unsigned char> blob = read_file(argv[1]);
    if (blob.size() != sizeof(dm_params))
    {
        std::fprintf(stderr, "parameter block is %zu bytes, sizeof(dm_params) is %zu\n", blob.size(), sizeof(dm_params));
        return 3;
    }
    unsigned int grid = (unsigned int)std::strtoul(argv[2], nullptr, 10);
    unsigned int block = (unsigned int)std::strtoul(argv[3], nullptr, 10);
    std::vector<Slot> slots;
    for (int a = 4; a < argc; ++a)
    {
        std::string spec = argv[a];
        Slot s{};
        size_t c1 = spec.find(':'), c2 = spec.find(':', c1 + 1);
        s.output = spec.substr(0, c1) == "out";
        s.offset = std::stoul(spec.substr(c1 + 1, c2 - c1 - 1));
        if (s.output)
        {
            size_t c3 = spec.find(':', c2 + 1);
            s.bytes = std::stoul(spec.substr(c2 + 1, c3 - c2 - 1));
            s.file = spec.substr(c3 + 1);
            s.storage.assign(s.bytes / 8 + 1, 0ull);
        }
        else
        {
            s.file = spec.substr(c2 + 1);
            std::vector<unsigned char> data = read_file(s.file.c_str());
            s.bytes = data.size();
            s.storage.assign(s.bytes / 8 + 1, 0ull);
            std::memcpy(s.storage.data(), data.data(), data.size());
        }
        slots.push_back(std::move(s));
    }
    for (Slot& s : slots)
    {
        void* p = s.storage.data();
        std::memcpy(blob.data() + s.offset, &p, sizeof p);
    }
    dm_params params;
    std::memcpy(&params, blob.data(), sizeof params);
    dm_shim::launch(dim3(grid), dim3(block), [&]() { DM_ENTRY(params); });
    for (Slot& s : slots)
    {
        if (!s.output) continue;
        std::ofstream out(s.file, std::ios::binary);
        out.write((const char*)s.storage.data(), (std::streamsize)s.bytes);
    }
    return 0;
}
