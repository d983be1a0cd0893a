using System.Text;

namespace DotnetMerge.Tests.Fuzzing;

/// <summary>A seeded, dictionary-guided byte mutator (in the manner of AFL's havoc stage): the same seed gives the same
/// inputs on every machine, so a failure is reproduced by its seed and iteration alone. The dictionary holds the tokens
/// that broke parsers before (deep nesting, aliases, tags, tabs, lone surrogates, huge numbers), so that the search
/// starts near known trouble.</summary>
internal sealed class Mutator
{
    private readonly Random _random;
    private readonly byte[][] _dictionary;

    public Mutator(int seed, IEnumerable<string> dictionary)
    {
        _random = new Random(seed);
        _dictionary = dictionary.Select(Encoding.UTF8.GetBytes).ToArray();
    }

    public int Next(int maxExclusive) => _random.Next(maxExclusive);

    /// <summary>One to eight stacked mutations of <paramref name="input"/>, at most <paramref name="maxLength"/> bytes.</summary>
    public byte[] Mutate(byte[] input, IReadOnlyList<byte[]> corpus, int maxLength)
    {
        var data = new List<byte>(input);
        int rounds = 1 + _random.Next(8);
        for (int r = 0; r < rounds; r++)
        {
            switch (_random.Next(9))
            {
                case 0 when data.Count > 0: // flip a bit
                    int i = _random.Next(data.Count);
                    data[i] ^= (byte)(1 << _random.Next(8));
                    break;
                case 1: // a random byte
                    data.Insert(_random.Next(data.Count + 1), (byte)_random.Next(256));
                    break;
                case 2 when data.Count > 0: // delete a range
                    int start = _random.Next(data.Count);
                    data.RemoveRange(start, Math.Min(data.Count - start, 1 + _random.Next(16)));
                    break;
                case 3 or 4: // a dictionary token
                    data.InsertRange(_random.Next(data.Count + 1), _dictionary[_random.Next(_dictionary.Length)]);
                    break;
                case 5 when data.Count > 0: // duplicate a range in place
                    int from = _random.Next(data.Count);
                    var piece = data.GetRange(from, Math.Min(data.Count - from, 1 + _random.Next(32)));
                    data.InsertRange(_random.Next(data.Count + 1), piece);
                    break;
                case 6: // a token repeated many times (nesting, long lists, long keys)
                    var token = _dictionary[_random.Next(_dictionary.Length)];
                    int times = 1 << _random.Next(12);
                    var repeated = new byte[token.Length * times];
                    for (int t = 0; t < times; t++) token.CopyTo(repeated, t * token.Length);
                    data.InsertRange(_random.Next(data.Count + 1), repeated);
                    break;
                case 7 when corpus.Count > 0: // splice with another corpus entry
                    var other = corpus[_random.Next(corpus.Count)];
                    int cut = _random.Next(data.Count + 1), otherCut = _random.Next(other.Length + 1);
                    data.RemoveRange(cut, data.Count - cut);
                    data.AddRange(other.Skip(otherCut));
                    break;
                case 8 when data.Count > 0: // overwrite with an "interesting" byte
                    data[_random.Next(data.Count)] = Interesting[_random.Next(Interesting.Length)];
                    break;
            }
        }

        if (data.Count > maxLength) data.RemoveRange(maxLength, data.Count - maxLength);
        return data.ToArray();
    }

    private static readonly byte[] Interesting = [0, 0x7F, 0x80, 0xFF, (byte)'\t', (byte)'\n', (byte)'\r', (byte)'"', (byte)'\\', (byte)':', (byte)'{', (byte)'[', (byte)'&', (byte)'*', (byte)'!'];
}
