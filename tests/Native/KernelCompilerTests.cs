using DotnetMerge.Cuda.Compilation;

namespace DotnetMerge.Cuda.Tests;

/// <summary>KernelCompiler's options, keys and memory/disk caching, with a fake compiler in place of NVRTC.</summary>
public sealed class KernelCompilerTests : IDisposable
{
    private readonly string folder = Path.Combine(Path.GetTempPath(), "dm-kernel-cache-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(folder)) Directory.Delete(folder, true);
    }

    /// <summary>"Compiles" by returning the UTF-8 of the options and source; counts calls; can be told to fail.</summary>
    private sealed class FakeCompiler(string identity = "fake 1.0") : IKernelSourceCompiler
    {
        public int Calls;
        public string Identity { get; } = identity;
        public Func<string, Exception?> Fail { get; init; } = _ => null;

        public KernelImage Compile(string source, string programName, IReadOnlyList<string> options)
        {
            Interlocked.Increment(ref Calls);
            Thread.Sleep(20);
            if (Fail(source) is { } error) throw error;
            return new KernelImage(KernelImageKind.Cubin, System.Text.Encoding.UTF8.GetBytes(string.Join('|', options) + "\n" + source), "log of " + programName);
        }
    }

    [Fact]
    public void Options_target_the_device_architecture()
    {
        Assert.Equal(["--gpu-architecture=sm_90", "-default-device", "--std=c++17", "--fmad=false"], KernelCompiler.OptionsFor(9, 0));
        Assert.Equal("--gpu-architecture=sm_86", KernelCompiler.OptionsFor(8, 6)[0]);
        Assert.Throws<ArgumentOutOfRangeException>(() => KernelCompiler.OptionsFor(0, 0));
    }

    [Fact]
    public void Key_depends_on_source_compiler_and_architecture()
    {
        string key = KernelCompiler.CacheKey("src", "nvrtc 12.4", KernelCompiler.OptionsFor(9, 0));
        Assert.Matches("^[0-9a-f]{64}$", key);
        Assert.Equal(key, KernelCompiler.CacheKey("src", "nvrtc 12.4", KernelCompiler.OptionsFor(9, 0)));
        Assert.NotEqual(key, KernelCompiler.CacheKey("src ", "nvrtc 12.4", KernelCompiler.OptionsFor(9, 0)));
        Assert.NotEqual(key, KernelCompiler.CacheKey("src", "nvrtc 13.0", KernelCompiler.OptionsFor(9, 0)));
        Assert.NotEqual(key, KernelCompiler.CacheKey("src", "nvrtc 12.4", KernelCompiler.OptionsFor(8, 9)));
    }

    [Fact]
    public void Second_request_is_served_from_memory()
    {
        var fake = new FakeCompiler();
        var compiler = new KernelCompiler(fake, new KernelCache(null));
        KernelImage first = compiler.Compile("kernel A", "a.cu", 8, 0);
        KernelImage second = compiler.Compile("kernel A", "a.cu", 8, 0);
        Assert.Same(first, second);
        Assert.Equal(1, fake.Calls);
        Assert.Equal((1, 1, 0), (compiler.Compilations, compiler.MemoryHits, compiler.DiskHits));
        Assert.Equal("log of a.cu", first.Log);
        compiler.Compile("kernel A", "a.cu", 9, 0); // another architecture is another kernel
        Assert.Equal(2, fake.Calls);
    }

    [Fact]
    public void A_new_process_finds_the_kernel_on_disk()
    {
        var first = new KernelCompiler(new FakeCompiler(), new KernelCache(folder));
        KernelImage compiled = first.Compile("kernel B", "b.cu", 9, 0);

        var fake = new FakeCompiler();
        var second = new KernelCompiler(fake, new KernelCache(folder));
        KernelImage loaded = second.Compile("kernel B", "b.cu", 9, 0);
        Assert.Equal(0, fake.Calls);
        Assert.Equal(1, second.DiskHits);
        Assert.Equal(compiled.Bytes, loaded.Bytes);
        Assert.Equal(compiled.Kind, loaded.Kind);
        string key = KernelCompiler.CacheKey("kernel B", "fake 1.0", KernelCompiler.OptionsFor(9, 0));
        Assert.Equal("kernel B", File.ReadAllText(Path.Combine(folder, key + ".cu")));
        Assert.Empty(Directory.GetFiles(folder, "*.tmp"));
    }

    [Fact]
    public void A_new_compiler_version_does_not_reuse_old_images()
    {
        new KernelCompiler(new FakeCompiler("nvrtc 12.4"), new KernelCache(folder)).Compile("kernel C", "c.cu", 9, 0);
        var fake = new FakeCompiler("nvrtc 12.8");
        new KernelCompiler(fake, new KernelCache(folder)).Compile("kernel C", "c.cu", 9, 0);
        Assert.Equal(1, fake.Calls);
    }

    [Theory]
    [InlineData("truncate")]
    [InlineData("flip")]
    [InlineData("garbage")]
    public void A_damaged_cache_file_is_ignored_and_rewritten(string damage)
    {
        var cache = new KernelCache(folder);
        new KernelCompiler(new FakeCompiler(), cache).Compile("kernel D", "d.cu", 8, 6);
        string file = cache.ImageFile(KernelCompiler.CacheKey("kernel D", "fake 1.0", KernelCompiler.OptionsFor(8, 6)))!;
        byte[] bytes = File.ReadAllBytes(file);
        File.WriteAllBytes(file, damage switch
        {
            "truncate" => bytes[..^3],
            "flip" => bytes.Select((b, i) => i == bytes.Length - 1 ? (byte)(b ^ 1) : b).ToArray(),
            _ => "not a kernel"u8.ToArray(),
        });

        var fake = new FakeCompiler();
        KernelImage image = new KernelCompiler(fake, new KernelCache(folder)).Compile("kernel D", "d.cu", 8, 6);
        Assert.Equal(1, fake.Calls);
        Assert.Equal(bytes, File.ReadAllBytes(file));
        Assert.EndsWith("kernel D", System.Text.Encoding.UTF8.GetString(image.Bytes));
    }

    [Fact]
    public void Concurrent_requests_compile_once()
    {
        var fake = new FakeCompiler();
        var compiler = new KernelCompiler(fake, new KernelCache(folder));
        KernelImage[] images = Enumerable.Range(0, 8).AsParallel().WithDegreeOfParallelism(8)
            .Select(_ => compiler.Compile("kernel E", "e.cu", 9, 0)).ToArray();
        Assert.Equal(1, fake.Calls);
        Assert.All(images, i => Assert.Equal(images[0].Bytes, i.Bytes));
    }

    [Fact]
    public void A_failed_compilation_is_not_cached()
    {
        int attempts = 0;
        var fake = new FakeCompiler { Fail = _ => ++attempts == 1 ? new InvalidOperationException("boom") : null };
        var compiler = new KernelCompiler(fake, new KernelCache(folder));
        Assert.Throws<InvalidOperationException>(() => compiler.Compile("kernel F", "f.cu", 9, 0));
        compiler.Compile("kernel F", "f.cu", 9, 0);
        Assert.Equal(2, fake.Calls);
    }

    [Fact]
    public void Unwritable_cache_folder_only_warns()
    {
        string file = Path.Combine(Path.GetTempPath(), "dm-not-a-folder-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(file, "x");
        try
        {
            var compiler = new KernelCompiler(new FakeCompiler(), new KernelCache(Path.Combine(file, "sub")));
            compiler.Compile("kernel G", "g.cu", 9, 0);
            Assert.Contains("could not write", compiler.LastCacheWarning);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Dump_folder_receives_the_sources()
    {
        var compiler = new KernelCompiler(new FakeCompiler(), new KernelCache(null), dumpDirectory: folder);
        compiler.Compile("kernel H", "dm_linear_h.cu", 9, 0);
        Assert.Equal("kernel H", File.ReadAllText(Path.Combine(folder, "dm_linear_h.cu")));
    }

    [Fact]
    public void Default_cache_folder_follows_the_environment()
    {
        var env = new Dictionary<string, string?>();
        string? Get(string name) => env.GetValueOrDefault(name);
        env["HOME"] = "/home/u";
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(Path.Combine("/home/u", ".cache", "dotnet-merge", "kernels"), KernelCache.DefaultDirectory(Get));
            env["XDG_CACHE_HOME"] = "/xdg";
            Assert.Equal(Path.Combine("/xdg", "dotnet-merge", "kernels"), KernelCache.DefaultDirectory(Get));
        }
        env[KernelCache.DirectoryVariable] = "/custom/kernels";
        Assert.Equal("/custom/kernels", KernelCache.DefaultDirectory(Get));
        env[KernelCache.DirectoryVariable] = "off";
        Assert.Null(KernelCache.DefaultDirectory(Get));
    }
}
