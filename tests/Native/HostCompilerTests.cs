using DotnetMerge.Cuda.Tests.Infrastructure;

namespace DotnetMerge.Cuda.Tests;

/// <summary>The shim tests' compiler gate: without g++ they skip with the reason, unless DOTNET_MERGE_REQUIRE_GXX=1
/// (set by .ci/run), where the missing compiler is a failure.</summary>
public sealed class HostCompilerTests
{
    [Fact]
    public void A_missing_compiler_fails_the_test_when_the_environment_requires_it()
    {
        var e = Assert.Throws<InvalidOperationException>(() => HostCompiler.SkipIfUnavailable("g++ (C++20) was not found on PATH", "1"));
        Assert.Contains("g++ (C++20) was not found on PATH", e.Message);
        Assert.Contains(HostCompiler.RequireVariable + "=1", e.Message);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("0")]
    [InlineData("")]
    public void A_missing_compiler_skips_with_the_reason_otherwise(string? required)
    {
        var e = Assert.Throws<SkipException>(() => HostCompiler.SkipIfUnavailable("g++ (C++20) was not found on PATH", required));
        Assert.Contains("g++ (C++20) was not found on PATH", e.Message);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("1")]
    public void A_compiler_that_is_there_neither_skips_nor_fails(string? required) => HostCompiler.SkipIfUnavailable(null, required);

    [Fact]
    public void Ci_requires_the_compiler()
    {
        string script = File.ReadAllText(Path.Combine(HostCompiler.RepositoryRoot, ".ci", "run"));
        Assert.Contains($"export {HostCompiler.RequireVariable}=1", script);
    }
}
