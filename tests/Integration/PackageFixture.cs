using System.Diagnostics;
using System.Reflection;
using System.Text;
using DotnetMerge.Demo;

namespace DotnetMerge.Integration.Tests;

/// <summary>Once per test class: packs the DotnetMerge package into a temp folder, writes synthetic input models and a
/// nuget.config (sources: that folder and the machine's package cache, so nothing is downloaded), and uses a private
/// NUGET_PACKAGES folder (the package's version, a time-stamped 0.1.0-dev.*, is read from the packed file).</summary>
public sealed class PackageFixture : IDisposable
{
    public PackageFixture()
    {
        Root = Directory.CreateTempSubdirectory("dmrg-it-").FullName;
        Packages = Path.Combine(Root, "packages");
        NuGetCache = Path.Combine(Root, "nuget");
        Models = Path.Combine(Root, "models");
        var repo = Metadata("RepositoryRoot");
        var configuration = Metadata("Configuration");

        // Both packages, the tool first, as `dotnet pack dotnet-merge.sln` does: packing the tool leaves a publish/ folder
        // in the CLI's output directory, which the DotnetMerge package must not ship a second time.
        foreach (var project in new[] { Path.Combine("src", "Tool", "DotnetMerge.Tool.csproj"), Path.Combine("src", "Package", "DotnetMerge.Package.csproj") })
        {
            var pack = Run(repo, "dotnet", "pack", Path.Combine(repo, project),
                "-c", configuration, "-o", Packages, "-nologo", "-v", "q", "-nodeReuse:false", "-p:UseSharedCompilation=false");
            if (pack.ExitCode != 0)
                throw new InvalidOperationException("dotnet pack " + project + " failed:\n" + pack.Output);
        }

        Package = Directory.GetFiles(Packages, "DotnetMerge.*.nupkg").Single();
        Version = Path.GetFileNameWithoutExtension(Package)["DotnetMerge.".Length..];

        var spec = new LlamaSpec(Layers: 2, Hidden: 16, Intermediate: 32, Vocab: 64, Heads: 2, KvHeads: 1);
        SyntheticModels.WriteBaseAsync(Path.Combine(Models, "base"), spec).GetAwaiter().GetResult();
        SyntheticModels.WriteFineTuneAsync(Path.Combine(Models, "tuned"), spec, new FineTune("tuned", "mlp", 0, 0.5, 1.0, 3)).GetAwaiter().GetResult();
        SyntheticModels.WriteFineTuneAsync(Path.Combine(Models, "other"), spec, new FineTune("other", "self_attn", 0, 0.5, 1.0, 5)).GetAwaiter().GetResult();
    }

    public string Root { get; }

    public string Packages { get; }

    public string NuGetCache { get; }

    public string Models { get; }

    public string Version { get; }

    /// <summary>The packed DotnetMerge .nupkg.</summary>
    public string Package { get; }

    /// <summary>Copies the fixture project <paramref name="name"/> into a fresh directory next to the models
    /// (definitions refer to ../models), with a nuget.config.</summary>
    public string CopyFixture(string name)
    {
        var source = Path.Combine(Metadata("RepositoryRoot"), "tests", "Integration", "Fixtures", name);
        var target = Path.Combine(Root, name + "-" + Guid.NewGuid().ToString("N")[..8]);
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(source, file);
            if (relative.StartsWith("bin", StringComparison.Ordinal) || relative.StartsWith("obj", StringComparison.Ordinal))
                continue;
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(target, relative))!);
            File.Copy(file, Path.Combine(target, relative));
        }

        // The definitions refer to ../models relative to merges/, i.e. <fixture>/models.
        CopyDirectory(Models, Path.Combine(target, "models"));
        var machineCache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p
            ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        File.WriteAllText(Path.Combine(target, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{Packages}" />
                <add key="machine" value="{machineCache}" />
              </packageSources>
            </configuration>
            """);
        return target;
    }

    /// <summary>Runs dotnet in <paramref name="directory"/> with a clean MSBuild environment and the private package cache.</summary>
    public (int ExitCode, string Output) Dotnet(string directory, params string[] arguments)
        => Run(directory, "dotnet", arguments);

    /// <summary><see cref="Dotnet(string, string[])"/> with extra environment variables (HF_ENDPOINT, HF_HUB_CACHE...).</summary>
    public (int ExitCode, string Output) DotnetWith(IReadOnlyDictionary<string, string> environment, string directory, params string[] arguments)
        => Run(directory, "dotnet", arguments, environment);

    private (int ExitCode, string Output) Run(string directory, string file, params string[] arguments) => Run(directory, file, arguments, null);

    private (int ExitCode, string Output) Run(string directory, string file, string[] arguments, IReadOnlyDictionary<string, string>? environment)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments)
            start.ArgumentList.Add(a);
        // The test host's MSBuild variables would point child builds at the wrong SDK pieces.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)
                     || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase) || k == "DOTNET_HOST_PATH").ToList())
            start.Environment.Remove(key);
        start.Environment["NUGET_PACKAGES"] = NuGetCache;
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DotnetMergeVersion"] = Version ?? "0.1.0";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
            start.Environment[key] = value;

        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        // Packing the tool publishes it three times (portable, any, linux-x64 with ReadyToRun): minutes on a loaded 2-core machine.
        if (!process.WaitForExit(TimeSpan.FromMinutes(15)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not finish in 15 minutes:\n{output}");
        }

        process.WaitForExit();
        return (process.ExitCode, output.ToString());
    }

    /// <summary>The repository this test assembly was built from.</summary>
    public static string RepositoryRoot => Metadata("RepositoryRoot");

    private static string Metadata(string key)
        => typeof(PackageFixture).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;

    private static void CopyDirectory(string source, string target)
    {
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            var destination = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(file, destination);
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a build server may still hold a file.
        }
    }
}
