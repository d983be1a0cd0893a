namespace DotnetMerge.Tests.Numerics;

/// <summary>Independent float64 reference for small binary float formats: decodes a code from its sign/exponent/
/// mantissa fields by hand, and encodes a double by searching the ordered code space (round to nearest, ties to the
/// code with an even mantissa).</summary>
internal sealed class FloatReference
{
    private readonly int _expBits, _mantBits, _bias;
    private readonly bool _fn; // "fn": no infinities, only the all-ones pattern is NaN

    public FloatReference(int expBits, int mantBits, bool fn = false)
    {
        _expBits = expBits; _mantBits = mantBits; _bias = (1 << (expBits - 1)) - 1; _fn = fn;
    }

    public static readonly FloatReference Half = new(5, 10);
    public static readonly FloatReference BFloat16 = new(8, 7);
    public static readonly FloatReference E4M3 = new(4, 3, fn: true);
    public static readonly FloatReference E5M2 = new(5, 2);

    private int SignShift => _expBits + _mantBits;
    private int MaxExpField => (1 << _expBits) - 1;

    /// <summary>Largest positive finite code.</summary>
    public int MaxFiniteCode => _fn ? (MaxExpField << _mantBits) | ((1 << _mantBits) - 2) : (MaxExpField << _mantBits) - 1;

    /// <summary>Value of a code; the exponent field is not special-cased, so for IEEE-like formats the code just past
    /// the largest finite one has the value 2^(emax+1), which is where "overflow to Inf" rounding happens.</summary>
    public double Magnitude(int code)
    {
        int exp = (code >> _mantBits) & MaxExpField, mant = code & ((1 << _mantBits) - 1);
        if (exp == 0) return mant * Math.Pow(2, 1 - _bias - _mantBits);
        return (1.0 + mant / Math.Pow(2, _mantBits)) * Math.Pow(2, exp - _bias);
    }

    public double Decode(int code)
    {
        int exp = (code >> _mantBits) & MaxExpField, mant = code & ((1 << _mantBits) - 1);
        bool negative = ((code >> SignShift) & 1) != 0;
        double v;
        if (_fn && exp == MaxExpField && mant == (1 << _mantBits) - 1) return double.NaN;
        if (!_fn && exp == MaxExpField) v = mant == 0 ? double.PositiveInfinity : double.NaN;
        else v = Magnitude(code);
        return negative ? -v : v;
    }

    /// <summary>Encodes with round-to-nearest-even. A value that rounds past the largest finite code takes the next code
    /// up: Inf for IEEE-like formats, the NaN pattern for "fn" formats (which have no Inf; torch's float8_e4m3fn does
    /// not saturate). NaN input returns -1 (see <see cref="NaNCode"/>).</summary>
    public int Encode(double x)
    {
        if (double.IsNaN(x)) return -1;
        int sign = (x < 0 || (x == 0 && double.IsNegative(x))) ? 1 << SignShift : 0;
        double a = Math.Abs(x);
        int top = MaxFiniteCode + 1; // Inf (IEEE-like) or NaN ("fn"); Magnitude(top) is the value one step past the largest
        if (double.IsPositiveInfinity(a)) return sign | top;
        // binary search: largest code c in [0, top] with Magnitude(c) <= a
        int lo = 0, hi = top;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (Magnitude(mid) <= a) lo = mid; else hi = mid - 1;
        }
        int c = lo;
        if (c < top && Magnitude(c) != a)
        {
            double down = a - Magnitude(c), up = Magnitude(c + 1) - a;
            if (up < down || (up == down && (c & 1) == 1)) c++;
        }
        return sign | c;
    }

    /// <summary>The code a float32 NaN encodes to, as torch stores it: bf16 the positive quiet NaN 0x7FC0 (c10's
    /// round_to_nearest_even), 8-bit formats the all-ones pattern with the sign kept (c10's fp8 conversions), f16 the
    /// quiet NaN with the sign and the top payload bits kept (IEEE 754's recommendation, x86's vcvtps2ph).</summary>
    public int NaNCode(float nan)
    {
        uint bits = BitConverter.SingleToUInt32Bits(nan);
        if (_expBits == 8) return 0x7FC0;
        int sign = (int)(bits >> 31) << SignShift, allOnes = MaxExpField << _mantBits;
        if (_mantBits == 10) return sign | allOnes | (1 << (_mantBits - 1)) | (int)((bits & 0x7F_FFFF) >> (23 - _mantBits));
        return sign | allOnes | ((1 << _mantBits) - 1);
    }
}
