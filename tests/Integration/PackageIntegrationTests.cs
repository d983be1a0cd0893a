namespace DotnetMerge.Integration.Tests;

/// <summary>Real builds of a project consuming the packed DotnetMerge package: compile-time diagnostics from the
/// generator, a typed plan run with `dotnet run`, and the incremental build step. Slow (a few builds), so kept to one class.</summary>
public partial class PackageIntegrationTests(PackageFixture fixture) : IClassFixture<PackageFixture>
{
    private static readonly string[] BuildArguments = { "build", "-nologo", "-v", "m", "-nodeReuse:false", "-p:UseSharedCompilation=false" };

    [Fact]
    public void Build_step_runs_once_then_is_incremental_and_the_typed_plan_runs()
    {
        var project = fixture.CopyFixture("Consumer");
        var output = Path.Combine(project, "out", "step", "model.safetensors");

        var first = fixture.Dotnet(project, BuildArguments);
        Assert.True(first.ExitCode == 0, first.Output);
        Assert.Contains("DotnetMerge: merged", first.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(output), "the build step wrote no model:\n" + first.Output);
        Assert.True(File.Exists(Path.Combine(project, "out", "step", "config.json")));
        var firstWrite = File.GetLastWriteTimeUtc(output);

        var second = fixture.Dotnet(project, BuildArguments);
        Assert.True(second.ExitCode == 0, second.Output);
        Assert.DoesNotContain("DotnetMerge: merged", second.Output, StringComparison.Ordinal);
        Assert.Equal(firstWrite, File.GetLastWriteTimeUtc(output));

        // Every file the merge wrote is tracked: deleting the model (not only config.json) merges again.
        File.Delete(output);
        var afterDelete = fixture.Dotnet(project, BuildArguments);
        Assert.True(afterDelete.ExitCode == 0, afterDelete.Output);
        Assert.Contains("DotnetMerge: merged", afterDelete.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(output), "deleting model.safetensors did not re-merge:\n" + afterDelete.Output);
        firstWrite = File.GetLastWriteTimeUtc(output);

        // A file the merge did not write stops the build step from replacing the directory (with a located error) ...
        var notes = Path.Combine(project, "out", "step", "notes.txt");
        File.WriteAllText(notes, "mine");
        var withNotes = fixture.Dotnet(project, [.. BuildArguments, "-p:DotnetMergeForce=true"]);
        Assert.NotEqual(0, withNotes.ExitCode);
        Assert.Contains(Path.Combine(project, "Consumer.csproj") + " : error DMRG0905: MergeDefinition 'merges/step.merge.yaml': the output directory", withNotes.Output, StringComparison.Ordinal);
        Assert.Equal("mine", File.ReadAllText(notes));
        Assert.Equal(firstWrite, File.GetLastWriteTimeUtc(output));

        // ... and once it is gone, -p:DotnetMergeForce=true merges although nothing changed.
        File.Delete(notes);
        var forced = fixture.Dotnet(project, [.. BuildArguments, "-p:DotnetMergeForce=true"]);
        Assert.True(forced.ExitCode == 0, forced.Output);
        Assert.Contains("DotnetMerge: merged", forced.Output, StringComparison.Ordinal);
        Assert.NotEqual(firstWrite, File.GetLastWriteTimeUtc(output));
        firstWrite = File.GetLastWriteTimeUtc(output);

        // Editing the definition runs the merge again.
        var definition = Path.Combine(project, "merges", "step.merge.yaml");
        File.WriteAllText(definition, File.ReadAllText(definition).Replace("weight: 0.5", "weight: 0.25", StringComparison.Ordinal));
        var third = fixture.Dotnet(project, BuildArguments);
        Assert.True(third.ExitCode == 0, third.Output);
        Assert.Contains("DotnetMerge: merged", third.Output, StringComparison.Ordinal);
        Assert.NotEqual(firstWrite, File.GetLastWriteTimeUtc(output));

        // The typed plan (generated from merges/typed.merge.yaml) runs from Main.
        var typedOutput = Path.Combine(project, "out", "typed");
        var run = fixture.Dotnet(project, "run", "--no-build", "--", typedOutput);
        Assert.True(run.ExitCode == 0, run.Output);
        // Program.cs uses a per-model type (Tuned.Weight is a double next to Other's gradient), the trim_scope enum and
        // a record `with`; the merged model records the definition as edited.
        Assert.Contains("typed plan merged", run.Output, StringComparison.Ordinal);
        Assert.Contains("tuned weight 0.75; other a gradient, then 0.25; trim scope Model; records equal True", run.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(typedOutput, "model.safetensors")), run.Output);
        var recorded = File.ReadAllText(Path.Combine(typedOutput, "mergekit_config.yml"));
        Assert.Contains("trim_scope: model", recorded, StringComparison.Ordinal);
        Assert.Contains("weight: 0.75", recorded, StringComparison.Ordinal);
        Assert.Contains("weight: 0.25", recorded, StringComparison.Ordinal);

        // dotnet clean removes what the build step produced.
        var clean = fixture.Dotnet(project, "clean", "-nologo", "-v", "q", "-nodeReuse:false");
        Assert.True(clean.ExitCode == 0, clean.Output);
        Assert.False(Directory.Exists(Path.Combine(project, "out", "step")), "dotnet clean left the merged model");
    }

    [Fact]
    public void Bad_definition_fails_the_build_with_a_located_error()
    {
        var project = fixture.CopyFixture("Consumer");
        // The misspelled method name is on line 4, its value starting at column 15.
        File.WriteAllText(Path.Combine(project, "merges", "typed.merge.yaml"),
            "# a comment line\nmodels:\n  - model: ../models/base\nmerge_method: linaer\n");

        var build = fixture.Dotnet(project, BuildArguments);

        Assert.NotEqual(0, build.ExitCode);
        var expected = Path.Combine(project, "merges", "typed.merge.yaml") + "(4,15): error DMRG0201: unknown merge method 'linaer'; did you mean 'linear'?";
        Assert.Contains(expected, build.Output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(project, "out", "step")), "the build step ran although compilation failed");
    }

    /// <summary>The build step used to pass --force always: OutputPath="." replaced the project with the merged model, and
    /// OutputPath="out" wiped a sibling out/blend. Now both are located errors and nothing is touched. The project also
    /// has a warning-level definition diagnostic made silent by .globalconfig (docs/typed-plans.md: .editorconfig sections
    /// do not reach AdditionalFiles): with TreatWarningsAsErrors the build would otherwise stop before the build step.</summary>
    [Fact]
    public void Build_step_never_replaces_the_project_or_a_directory_it_did_not_produce()
    {
        var project = fixture.CopyFixture("Consumer");
        var csproj = Path.Combine(project, "Consumer.csproj");
        var typed = Path.Combine(project, "merges", "typed.merge.yaml");
        File.AppendAllText(typed, "comment: a sample for the build step\n"); // DMRG0101 (warning: no close match; a near miss would be DMRG0109, an error)
        File.WriteAllText(Path.Combine(project, ".globalconfig"), "is_global = true\ndotnet_diagnostic.DMRG0101.severity = none\n");
        File.WriteAllText(csproj, File.ReadAllText(csproj).Replace("OutputPath=\"out/step\"", "OutputPath=\".\"", StringComparison.Ordinal));

        var intoProject = fixture.Dotnet(project, BuildArguments);

        Assert.NotEqual(0, intoProject.ExitCode);
        Assert.DoesNotContain("DMRG0101", intoProject.Output, StringComparison.Ordinal);
        Assert.Contains(csproj + " : error DMRG0904: MergeDefinition 'merges/step.merge.yaml': OutputPath '.' is the project directory", intoProject.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("DotnetMerge: merged", intoProject.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(csproj) && File.Exists(Path.Combine(project, "Program.cs")) && File.Exists(typed), "the project was touched");
        Assert.False(File.Exists(Path.Combine(project, "model.safetensors")));

        var sibling = Path.Combine(project, "out", "blend");
        Directory.CreateDirectory(sibling);
        File.WriteAllText(Path.Combine(sibling, "model.safetensors"), "not mine to delete");
        File.WriteAllText(Path.Combine(project, "out", "notes.txt"), "mine");
        File.WriteAllText(csproj, File.ReadAllText(csproj).Replace("OutputPath=\".\"", "OutputPath=\"out\"", StringComparison.Ordinal));

        var intoForeign = fixture.Dotnet(project, BuildArguments);

        Assert.NotEqual(0, intoForeign.ExitCode);
        Assert.Contains(csproj + " : error DMRG0905: MergeDefinition 'merges/step.merge.yaml': the output directory '" + Path.Combine(project, "out") + "' is not empty and was not produced by the build step",
            intoForeign.Output, StringComparison.Ordinal);
        Assert.Equal("not mine to delete", File.ReadAllText(Path.Combine(sibling, "model.safetensors")));
        Assert.Equal("mine", File.ReadAllText(Path.Combine(project, "out", "notes.txt")));
    }

    /// <summary>A definition error found only when the merge runs (an input model that is not there) is one located line,
    /// not followed by MSB3073 repeating the whole command; the build fails and leaves no stamp.</summary>
    [Fact]
    public void Run_time_error_of_the_build_step_is_one_located_line()
    {
        var project = fixture.CopyFixture("Consumer");
        var step = Path.Combine(project, "merges", "step.merge.yaml");
        File.WriteAllText(step, File.ReadAllText(step).Replace("../models/tuned", "../models/missing", StringComparison.Ordinal));

        var build = fixture.Dotnet(project, [.. BuildArguments, "-p:DotnetMergeCheckModelPaths=false"]);

        Assert.NotEqual(0, build.ExitCode);
        Assert.Contains(step + "(4,12): error DMRG0701: model '../models/missing' not found", build.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("MSB3073", build.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("DMRG0906", build.Output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(project, "obj", "dotnet-merge")) && Directory.GetFiles(Path.Combine(project, "obj", "dotnet-merge")).Length > 0,
            "a failed merge left a stamp");
    }

    /// <summary>The package ships the CLI once per folder (it also used to carry the tool's publish/ folder): portable IL in
    /// tools/net10.0/any/, and in tools/net10.0/linux-x64/ the same assemblies with ReadyToRun code, which the build step
    /// runs when the SDK's RID is linux-x64 (a tiny merge then starts without most of its JIT).</summary>
    [Fact]
    public void Package_ships_the_cli_once_portable_and_once_ready_to_run_for_linux_x64()
    {
        using var zip = System.IO.Compression.ZipFile.OpenRead(fixture.Package);
        var tools = zip.Entries.Select(e => e.FullName).Where(n => n.StartsWith("tools/", StringComparison.Ordinal)).ToList();

        Assert.DoesNotContain(tools, n => n.Contains("/publish/", StringComparison.Ordinal));
        Assert.All(tools, n => Assert.True(n.StartsWith("tools/net10.0/any/", StringComparison.Ordinal) || n.StartsWith("tools/net10.0/linux-x64/", StringComparison.Ordinal), n));
        foreach (var (folder, readyToRun) in new[] { ("tools/net10.0/any/", false), ("tools/net10.0/linux-x64/", true) })
        {
            var names = tools.Where(n => n.StartsWith(folder, StringComparison.Ordinal) && !n.EndsWith('/')).Select(n => n[folder.Length..]).ToList();
            Assert.Single(names, n => n.EndsWith("dotnet-merge.dll", StringComparison.Ordinal));
            Assert.Single(names, n => n.EndsWith("DotnetMerge.dll", StringComparison.Ordinal));
            Assert.Contains("dotnet-merge.runtimeconfig.json", names);
            foreach (var assembly in new[] { "dotnet-merge.dll", "DotnetMerge.dll", "DotnetMerge.Definitions.dll", "YamlDotNet.dll", "System.CommandLine.dll" })
                Assert.True(HasReadyToRunCode(zip.GetEntry(folder + assembly)!) == readyToRun, folder + assembly + (readyToRun ? " has no ReadyToRun code" : " has ReadyToRun code"));
        }
        Assert.Contains("tools/net10.0/linux-x64/libhf_tokenizers.so", tools);

        // The library's XML documentation ships next to it (IntelliSense).
        var entries = zip.Entries.Select(e => e.FullName).ToList();
        Assert.Contains("lib/net10.0/DotnetMerge.xml", entries);
        Assert.Contains("lib/net10.0/DotnetMerge.Definitions.xml", entries);

        // The generator and the IDE's code fixes share analyzers/dotnet/cs (the consumer builds above, with warnings as
        // errors, show that the compiler accepts the code-fix assembly there).
        Assert.Contains("analyzers/dotnet/cs/DotnetMerge.Generators.dll", entries);
        Assert.Contains("analyzers/dotnet/cs/DotnetMerge.Generators.CodeFixes.dll", entries);
    }

    /// <summary>Every package with the CLI carries analyze --png's native renderer (SkiaSharp, HarfBuzz) for linux-x64 only, next to each
    /// CLI: none of the Windows, macOS or other Linux builds its packages bring (together over 500 MB).</summary>
    [Fact]
    public void Packages_carry_the_png_renderer_for_linux_x64_only()
    {
        int withCli = 0;
        foreach (var package in Directory.GetFiles(fixture.Packages, "*.nupkg"))
        {
            using var zip = System.IO.Compression.ZipFile.OpenRead(package);
            var names = zip.Entries.Select(e => e.FullName).ToList();
            // Each copy of the CLI (tools/net10.0/any/ portable, tools/net10.0/linux-x64/ ReadyToRun) has the two
            // linux-x64 libraries beside it; the tool's pointer package carries no CLI and no native file.
            var cliFolders = names.Where(n => n.StartsWith("tools/", StringComparison.Ordinal) && n.EndsWith("/dotnet-merge.dll", StringComparison.Ordinal))
                .Select(n => n[..(n.LastIndexOf('/') + 1)]).ToList();
            if (cliFolders.Count > 0) withCli++;
            var natives = names.Where(n => n.Contains("SkiaSharp", StringComparison.Ordinal) || n.Contains("HarfBuzz", StringComparison.Ordinal))
                .Where(n => !n.EndsWith(".dll", StringComparison.Ordinal) || n.Contains("/runtimes/", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
            var expected = cliFolders.SelectMany(f => new[] { f + "libHarfBuzzSharp.so", f + "libSkiaSharp.so" }).Order(StringComparer.Ordinal).ToList();
            Assert.True(expected.SequenceEqual(natives), $"{Path.GetFileName(package)}: native files [{string.Join(", ", natives)}], expected [{string.Join(", ", expected)}]");
            Assert.DoesNotContain(names, n => n.Contains("/runtimes/", StringComparison.Ordinal) && !n.Contains("/runtimes/linux-x64/", StringComparison.Ordinal));
        }
        Assert.True(withCli >= 2, $"expected the portable and the linux-x64 CLI among the packages, found {withCli} package(s) with a CLI");
    }

    /// <summary>Every package lib/ needs at run time (the engine's and the definition library's references, except
    /// build-only ones) is a dependency of the package: a missing one fails only when a consumer reaches the code that
    /// uses it (Polly.Core: the first hub download of a typed plan).</summary>
    [Fact]
    public void Package_declares_every_package_its_libraries_reference()
    {
        using var zip = System.IO.Compression.ZipFile.OpenRead(fixture.Package);
        var nuspec = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        System.Xml.Linq.XDocument spec;
        using (var stream = nuspec.Open()) spec = System.Xml.Linq.XDocument.Load(stream);
        var declared = spec.Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => (string)e.Attribute("id")!).ToHashSet(StringComparer.OrdinalIgnoreCase);

        foreach (var project in new[] { "src/Merge/DotnetMerge.csproj", "src/Definitions/DotnetMerge.Definitions.csproj" })
        {
            var csproj = System.Xml.Linq.XDocument.Load(Path.Combine(PackageFixture.RepositoryRoot, project));
            var needed = csproj.Descendants("PackageReference")
                .Where(r => (string?)r.Attribute("PrivateAssets") != "all")
                .Select(r => (string)r.Attribute("Include")!).ToList();
            Assert.NotEmpty(needed);
            foreach (var id in needed)
                Assert.True(declared.Contains(id), $"{project} references {id}, which the DotnetMerge package does not declare (src/Package/DotnetMerge.Package.csproj)");
        }
    }

    /// <summary>On a linux-x64 SDK the build step runs the ReadyToRun CLI; elsewhere the portable one.</summary>
    [Fact]
    public void Build_step_runs_the_cli_for_the_sdks_runtime()
    {
        var project = fixture.CopyFixture("Consumer");
        // -getProperty with -restore evaluates before the restore has imported the package: restore first.
        var restore = fixture.Dotnet(project, "restore", "-nologo");
        Assert.True(restore.ExitCode == 0, restore.Output);
        var query = fixture.Dotnet(project, "msbuild", "-nologo", "-nodeReuse:false", "-getProperty:DotnetMergeCliPath");
        Assert.True(query.ExitCode == 0, query.Output);
        string folder = System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier == "linux-x64" ? "linux-x64" : "any";
        Assert.Contains(Path.Combine("tools", "net10.0", folder, "dotnet-merge.dll"), query.Output, StringComparison.Ordinal);
    }

    /// <summary>Whether an assembly carries precompiled (ReadyToRun) code: a managed native header in its CLI header.</summary>
    private static bool HasReadyToRunCode(System.IO.Compression.ZipArchiveEntry entry)
    {
        using var bytes = new MemoryStream();
        using (var stream = entry.Open()) stream.CopyTo(bytes);
        bytes.Position = 0;
        using var pe = new System.Reflection.PortableExecutable.PEReader(bytes);
        return pe.PEHeaders.CorHeader!.ManagedNativeHeaderDirectory.Size > 0;
    }
}
