namespace DotnetMerge.Definitions;

/// <summary>"Did you mean" suggestions: optimal-string-alignment (Damerau) distance, case-insensitive, '-' equal to '_'.</summary>
public static class NameSuggester
{
    /// <summary>Candidates close to <paramref name="name"/>, best first, at most <paramref name="max"/>.
    /// Accepted: distance ≤ 2 (≤ 1 for names of up to 3 characters), a candidate the name is a prefix of
    /// (3+ characters), or a single clear best within half the name's length.</summary>
    public static IReadOnlyList<string> Suggest(string name, IEnumerable<string> candidates, int max = 3)
    {
        if (string.IsNullOrEmpty(name))
            return Array.Empty<string>();
        var key = Normalize(name);
        var scored = candidates.Distinct(StringComparer.Ordinal)
            .Select(c => (Name: c, Distance: Distance(key, Normalize(c))))
            .OrderBy(p => p.Distance).ThenBy(p => p.Name, StringComparer.Ordinal)
            .ToList();
        var limit = key.Length <= 3 ? 1 : 2;
        var result = scored.Where(p => p.Distance > 0 && p.Distance <= limit
                || (p.Distance == 0 && !string.Equals(p.Name, name, StringComparison.Ordinal)))
            .Select(p => p.Name).ToList();
        if (key.Length >= 3)
        {
            result.AddRange(scored.Where(p => Normalize(p.Name).StartsWith(key, StringComparison.Ordinal) && p.Distance > limit)
                .Select(p => p.Name));
        }

        if (result.Count == 0 && scored.Count > 0)
        {
            var best = scored[0];
            var second = scored.Count > 1 ? scored[1].Distance : int.MaxValue;
            if (best.Distance <= key.Length / 2 && second >= best.Distance + 2)
                result.Add(best.Name);
        }

        return result.Distinct(StringComparer.Ordinal).Take(max).ToList();
    }

    /// <summary>"did you mean 'a'?", "did you mean 'a' or 'b'?", or null for no suggestions.</summary>
    public static string? Hint(IReadOnlyList<string> suggestions)
    {
        if (suggestions.Count == 0)
            return null;
        var quoted = suggestions.Select(s => "'" + s + "'").ToList();
        var text = quoted.Count == 1 ? quoted[0]
            : string.Join(", ", quoted.Take(quoted.Count - 1)) + " or " + quoted[quoted.Count - 1];
        return "did you mean " + text + "?";
    }

    /// <summary>The names a <see cref="Hint(IReadOnlyList{string})"/> text suggests ("did you mean 'a' or 'b'?" -> a, b);
    /// empty for any other text. For tools that offer the replacement (the IDE's code fix).</summary>
    public static IReadOnlyList<string> Suggested(string? hint)
    {
        const string prefix = "did you mean ";
        if (hint is null || !hint.StartsWith(prefix, StringComparison.Ordinal) || !hint.EndsWith("?", StringComparison.Ordinal))
            return Array.Empty<string>();
        var names = new List<string>();
        var body = hint.Substring(prefix.Length, hint.Length - prefix.Length - 1);
        foreach (var part in body.Replace(" or ", ", ").Split(new[] { ", " }, StringSplitOptions.None))
        {
            if (part.Length < 3 || part[0] != '\'' || part[part.Length - 1] != '\'')
                return Array.Empty<string>();
            names.Add(part.Substring(1, part.Length - 2));
        }

        return names;
    }

    /// <summary>Optimal string alignment distance (insertions, deletions, substitutions, adjacent transpositions).</summary>
    public static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                var v = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    v = Math.Min(v, d[i - 2, j - 2] + 1);
                d[i, j] = v;
            }
        }

        return d[a.Length, b.Length];
    }

    private static string Normalize(string s) => s.Trim().ToLowerInvariant().Replace('-', '_').Replace(' ', '_');
}
