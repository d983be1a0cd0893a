using System.Globalization;

namespace DotnetMerge.Definitions;

/// <summary>A position in a definition file; <see cref="Line"/> and <see cref="Column"/> are 1-based.
/// The default value (line 0) means "no location" (for definitions built in code).</summary>
public readonly record struct SourceLocation(string Path, int Line, int Column)
{
    /// <summary>True when this location points nowhere (a definition built in code).</summary>
    public bool IsEmpty => Line <= 0;

    /// <summary>MSBuild canonical form: <c>path(line,col)</c>; just the path when there is no position, and nothing when
    /// there is no path (a definition that a command built, such as a soup's).</summary>
    public override string ToString() => IsEmpty || string.IsNullOrEmpty(Path)
        ? Path ?? string.Empty
        : string.Format(CultureInfo.InvariantCulture, "{0}({1},{2})", Path, Line, Column);
}
