using System.Text;

namespace DotnetMerge.Tests.Methods.Reference;

/// <summary>A straightforward scalar Philox4x32-10 written from the paper (Salmon et al. 2011), independent of the
/// product's code, plus the stream mapping of helper-common.md.</summary>
public static class ReferencePhilox
{
    public static uint[] Philox4x32x10(uint[] counter, uint[] key)
    {
        var x = (uint[])counter.Clone();
        var k = (uint[])key.Clone();
        for (int round = 1; round <= 10; round++)
        {
            ulong a = Math.BigMul(0xD2511F53u, x[0]);
            ulong c = Math.BigMul(0xCD9E8D57u, x[2]);
            x = [(uint)(c >> 32) ^ x[1] ^ k[0], unchecked((uint)c), (uint)(a >> 32) ^ x[3] ^ k[1], unchecked((uint)a)];
            k[0] = unchecked(k[0] + 0x9E3779B9u);
            k[1] = unchecked(k[1] + 0xBB67AE85u);
        }
        return x;
    }

    public static uint Fnv(string name)
    {
        uint h = 2166136261;
        foreach (byte b in Encoding.UTF8.GetBytes(name)) h = unchecked((h ^ b) * 16777619u);
        return h;
    }

    public static double Uniform(ulong seed, int model, string name, long element)
    {
        ulong block = (ulong)element / 4;
        var words = Philox4x32x10([(uint)(block & 0xFFFFFFFF), (uint)(block >> 32), (uint)model, Fnv(name)],
            [(uint)(seed & 0xFFFFFFFF), (uint)(seed >> 32)]);
        return (words[element % 4] >> 8) / 16777216.0;
    }
}
