using System.Globalization;
using System.Runtime.CompilerServices;

namespace DotnetMerge.Plans;

/// <summary>The kind of a <see cref="ParameterValue"/>: the catalog's parameter types.</summary>
public enum ParameterValueKind
{
    Number,
    Boolean,
    Integer,
    String,
}

/// <summary>One override value, stored as what it is (a double, a bool, an int or a string) rather than as an object:
/// overrides compare by value and read back as their own type without a cast. Converts implicitly from the four types,
/// so <c>overrides.WithGlobal("lambda", 0.9)</c> reads as before.</summary>
public readonly struct ParameterValue : IEquatable<ParameterValue>
{
    private readonly double _number;
    private readonly int _integer;
    private readonly bool _boolean;
    private readonly string? _string;

    private ParameterValue(ParameterValueKind kind, double number = 0, int integer = 0, bool boolean = false, string? text = null)
    {
        Kind = kind; _number = number; _integer = integer; _boolean = boolean; _string = text;
    }

    public ParameterValueKind Kind { get; }

    public static ParameterValue Of(double value) => new(ParameterValueKind.Number, number: value);

    public static ParameterValue Of(bool value) => new(ParameterValueKind.Boolean, boolean: value);

    public static ParameterValue Of(int value) => new(ParameterValueKind.Integer, integer: value);

    public static ParameterValue Of(string value) => new(ParameterValueKind.String, text: value ?? throw new ArgumentNullException(nameof(value)));

    public static implicit operator ParameterValue(double value) => Of(value);

    public static implicit operator ParameterValue(bool value) => Of(value);

    public static implicit operator ParameterValue(int value) => Of(value);

    public static implicit operator ParameterValue(string value) => Of(value);

    /// <summary>The value as <typeparamref name="T"/> (double, bool, int, string or their nullable forms); an int reads as a
    /// double too. Throws <see cref="InvalidCastException"/> naming both kinds otherwise.</summary>
    public T As<T>()
    {
        if (typeof(T) == typeof(double) || typeof(T) == typeof(double?))
        {
            if (Kind is not (ParameterValueKind.Number or ParameterValueKind.Integer))
                throw Mismatch(typeof(T));
            var d = Kind == ParameterValueKind.Number ? _number : _integer;
            if (typeof(T) == typeof(double))
                return Unsafe.As<double, T>(ref d);
            double? n = d;
            return Unsafe.As<double?, T>(ref n);
        }

        if (typeof(T) == typeof(bool) || typeof(T) == typeof(bool?))
        {
            if (Kind != ParameterValueKind.Boolean)
                throw Mismatch(typeof(T));
            var b = _boolean;
            if (typeof(T) == typeof(bool))
                return Unsafe.As<bool, T>(ref b);
            bool? n = b;
            return Unsafe.As<bool?, T>(ref n);
        }

        if (typeof(T) == typeof(int) || typeof(T) == typeof(int?))
        {
            if (Kind != ParameterValueKind.Integer)
                throw Mismatch(typeof(T));
            var i = _integer;
            if (typeof(T) == typeof(int))
                return Unsafe.As<int, T>(ref i);
            int? n = i;
            return Unsafe.As<int?, T>(ref n);
        }

        if (typeof(T) == typeof(string) && Kind == ParameterValueKind.String)
            return (T)(object)_string!;
        throw Mismatch(typeof(T));
    }

    /// <summary>The value in the form the definition model holds (<see cref="Definitions.ScalarSetting.Value"/>): a double
    /// for numbers and integers, a bool or a string.</summary>
    public object ToSettingValue() => Kind switch
    {
        ParameterValueKind.Number => _number,
        ParameterValueKind.Integer => (double)_integer,
        ParameterValueKind.Boolean => _boolean,
        _ => _string!,
    };

    public bool Equals(ParameterValue other)
        => Kind == other.Kind && Kind switch
        {
            ParameterValueKind.Number => _number.Equals(other._number),
            ParameterValueKind.Integer => _integer == other._integer,
            ParameterValueKind.Boolean => _boolean == other._boolean,
            _ => string.Equals(_string, other._string, StringComparison.Ordinal),
        };

    public override bool Equals(object? obj) => obj is ParameterValue other && Equals(other);

    public override int GetHashCode() => Kind switch
    {
        ParameterValueKind.Number => HashCode.Combine(Kind, _number),
        ParameterValueKind.Integer => HashCode.Combine(Kind, _integer),
        ParameterValueKind.Boolean => HashCode.Combine(Kind, _boolean),
        _ => HashCode.Combine(Kind, StringComparer.Ordinal.GetHashCode(_string ?? string.Empty)),
    };

    public static bool operator ==(ParameterValue left, ParameterValue right) => left.Equals(right);

    public static bool operator !=(ParameterValue left, ParameterValue right) => !left.Equals(right);

    /// <summary>Invariant text: "0.5", "true", "3", "model".</summary>
    public override string ToString() => Kind switch
    {
        ParameterValueKind.Number => _number.ToString("R", CultureInfo.InvariantCulture),
        ParameterValueKind.Integer => _integer.ToString(CultureInfo.InvariantCulture),
        ParameterValueKind.Boolean => _boolean ? "true" : "false",
        _ => _string ?? string.Empty,
    };

    private InvalidCastException Mismatch(Type type)
        => new(PlanDiagnostics.ValueMismatchId + ": the override holds " + Article(Kind) + " (" + ToString() + "), not " + (Nullable.GetUnderlyingType(type) ?? type).Name);

    private static string Article(ParameterValueKind kind) => kind switch
    {
        ParameterValueKind.Number => "a number",
        ParameterValueKind.Integer => "an integer",
        ParameterValueKind.Boolean => "a boolean",
        _ => "a string",
    };
}
