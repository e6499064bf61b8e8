namespace Asd.Native.Sampling;

/// <summary>
/// The speculation length L, with the one encoding every interface shares (docs/math.md section 7):
/// CLI/JSON strings "1", "8", ... / "inf" / "auto"; C ABI int32 L &gt; 0 / 0 (unbounded) / -1 (automatic).
/// </summary>
public readonly struct SpecLength : IEquatable<SpecLength>
{
    private SpecLength(int encoded) => Encoded = encoded;

    /// <summary>Speculate to the end of the chain.</summary>
    public static SpecLength Unbounded => new(0);

    /// <summary>Choose L per round from the measured cost curve and acceptance.</summary>
    public static SpecLength Auto => new(-1);

    /// <summary>The C ABI encoding: L &gt; 0 fixed, 0 unbounded, -1 automatic.</summary>
    public int Encoded { get; }

    /// <summary>True for a fixed L.</summary>
    public bool IsFixed => Encoded > 0;

    /// <summary>True for "inf".</summary>
    public bool IsUnbounded => Encoded == 0;

    /// <summary>True for "auto".</summary>
    public bool IsAuto => Encoded == -1;

    /// <summary>A fixed speculation length.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> &lt; 1.</exception>
    public static SpecLength Fixed(int length) => length >= 1
        ? new(length)
        : throw new ArgumentOutOfRangeException(nameof(length), $"A fixed speculation length must be >= 1 (got {length}); use \"inf\" for unbounded or \"auto\".");

    /// <summary>Decodes the C ABI value.</summary>
    public static SpecLength FromEncoded(int value) => value switch
    {
        > 0 => new(value),
        0 => Unbounded,
        -1 => Auto,
        _ => throw new ArgumentOutOfRangeException(nameof(value), $"spec_len {value} is invalid: use L > 0, 0 for unbounded or -1 for automatic."),
    };

    /// <summary>
    /// Parses the one grammar every interface shares (docs/math.md section 7; tests/fixtures/spec_len_grammar.json is
    /// the table both this and the Python package are tested against): after trimming white space and ignoring case,
    /// "auto", "inf", or ASCII digits only for a fixed L in 1 .. int.MaxValue. No sign, no other spelling.
    /// </summary>
    /// <param name="text">The text to parse.</param>
    /// <param name="name">The caller's name for the field, used in errors (a CLI flag, a JSON key).</param>
    public static SpecLength Parse(string text, string name = "spec_len")
    {
        ArgumentNullException.ThrowIfNull(text);
        string t = text.Trim().ToLowerInvariant();
        if (t == "inf")
        {
            return Unbounded;
        }

        if (t == "auto")
        {
            return Auto;
        }

        if (t.Length > 0 && t.All(char.IsAsciiDigit))
        {
            return int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out int l) && l >= 1
                ? new(l)
                : throw new ArgumentException($"{name} {text} is invalid: a speculation length must be >= 1 and at most {int.MaxValue} (or \"inf\", or \"auto\").");
        }

        throw new ArgumentException($"{name} '{text}' is not a number, \"inf\" or \"auto\"" + (t.StartsWith('-') ? ": a speculation length must be >= 1." : "."));
    }

    /// <summary>The string form: "8", "inf" or "auto".</summary>
    public override string ToString() => Encoded switch
    {
        0 => "inf",
        -1 => "auto",
        _ => Encoded.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>The largest draft a round may take before the end of the chain cuts it: L, or int.MaxValue.</summary>
    internal int Limit => Encoded > 0 ? Encoded : int.MaxValue;

    /// <inheritdoc/>
    public bool Equals(SpecLength other) => Encoded == other.Encoded;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is SpecLength other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => Encoded;

    /// <summary>Equality.</summary>
    public static bool operator ==(SpecLength left, SpecLength right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(SpecLength left, SpecLength right) => !left.Equals(right);
}
