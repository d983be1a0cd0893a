using System.Reflection;

namespace DotnetMerge.Plans;

/// <summary>Where a typed plan's definition is at run time. A generated plan holds the definition's path relative to its
/// project (<c>merges/blend.merge.yaml</c>), never the build machine's absolute path; relative model paths in the
/// definition resolve against the directory this finds (see <see cref="Resolve"/>).</summary>
public static class TypedPlanPaths
{
    private static string? _baseDirectory;

    /// <summary>A directory to resolve every plan's relative definition path against (the project directory of the
    /// definitions, or wherever the definitions and models were deployed); null (the default): search as
    /// <see cref="Resolve"/> says. Set it once at start-up; a single plan can be moved with <c>WithDefinitionPath</c>.</summary>
    public static string? BaseDirectory
    {
        get => Volatile.Read(ref _baseDirectory);
        set => Volatile.Write(ref _baseDirectory, value is null ? null : Path.GetFullPath(value));
    }

    /// <summary>The full path of a plan's definition: an absolute <paramref name="definitionFile"/> as it is; with
    /// <see cref="BaseDirectory"/> set, that directory joined with it; otherwise the first directory, from the plan
    /// assembly's own directory (<see cref="AppContext.BaseDirectory"/> for an assembly without a file) upwards, then the
    /// current directory, where the file exists (so <c>bin/Debug/net10.0/</c> finds the project directory above it, and an
    /// app that copies its definitions to the output finds them there); when none has it, the assembly's directory.</summary>
    public static string Resolve(string definitionFile, Assembly? planAssembly = null)
    {
        ArgumentNullException.ThrowIfNull(definitionFile);
        if (BaseDirectory is { } configured && !Path.IsPathRooted(definitionFile))
            return Path.GetFullPath(Path.Combine(configured, definitionFile.Replace('/', Path.DirectorySeparatorChar)));
        return Search(definitionFile, planAssembly is { Location: { Length: > 0 } location } ? Path.GetDirectoryName(location)! : AppContext.BaseDirectory);
    }

    /// <summary>The search of <see cref="Resolve"/> without <see cref="BaseDirectory"/>, from <paramref name="start"/>
    /// upwards, then the current directory; <paramref name="start"/> joined with the file when none has it.</summary>
    public static string Search(string definitionFile, string start)
    {
        ArgumentNullException.ThrowIfNull(definitionFile);
        ArgumentNullException.ThrowIfNull(start);
        if (Path.IsPathRooted(definitionFile))
            return definitionFile;
        var relative = definitionFile.Replace('/', Path.DirectorySeparatorChar);
        start = Path.GetFullPath(start);
        for (var directory = start; !string.IsNullOrEmpty(directory); directory = Path.GetDirectoryName(directory))
        {
            var candidate = Path.Combine(directory, relative);
            if (File.Exists(candidate))
                return Path.GetFullPath(candidate);
        }

        var current = Path.Combine(Directory.GetCurrentDirectory(), relative);
        return Path.GetFullPath(File.Exists(current) ? current : Path.Combine(start, relative));
    }
}
