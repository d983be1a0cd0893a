using System;
using System.Text;

namespace DotnetMerge.Generators.Emitting;

/// <summary>A StringBuilder with indentation (four spaces) and '\n' line endings, so the output is the same on every OS.</summary>
internal sealed class SourceWriter
{
    private readonly StringBuilder _builder = new();

    public int Indentation { get; set; }

    public SourceWriter WriteLine(string line = "")
    {
        if (line.Length > 0)
            _builder.Append(' ', 4 * Indentation).Append(line);
        _builder.Append('\n');
        return this;
    }

    public SourceWriter Open(string line)
    {
        WriteLine(line);
        WriteLine("{");
        Indentation++;
        return this;
    }

    public SourceWriter Close(string suffix = "")
    {
        Indentation--;
        return WriteLine("}" + suffix);
    }

    /// <summary>The text; the indentation must be back to zero.</summary>
    public override string ToString()
    {
        if (Indentation != 0)
            throw new InvalidOperationException("unbalanced indentation in generated code: " + Indentation);
        return _builder.ToString();
    }
}
