namespace Asd.Tests.Sampling;

/// <summary>
/// The speculation length's one encoding (docs/math.md section 7) beyond the grammar table (BadInputTests): the kinds,
/// the draft limit a round may take, equality, and the messages of the refusals the table does not spell out.
/// </summary>
public sealed class SpecLengthTests
{
    [Fact]
    public void EachKindIsExactlyOneOfFixedUnboundedAndAuto()
    {
        SpecLength fixedL = SpecLength.Fixed(3), inf = SpecLength.Unbounded, auto = SpecLength.Auto;
        Assert.Equal((true, false, false), (fixedL.IsFixed, fixedL.IsUnbounded, fixedL.IsAuto));
        Assert.Equal((false, true, false), (inf.IsFixed, inf.IsUnbounded, inf.IsAuto));
        Assert.Equal((false, false, true), (auto.IsFixed, auto.IsUnbounded, auto.IsAuto));
        Assert.Equal((3, 0, -1), (fixedL.Encoded, inf.Encoded, auto.Encoded));
        Assert.Equal(("3", "inf", "auto"), (fixedL.ToString(), inf.ToString(), auto.ToString()));
    }

    [Fact]
    public void TheDraftLimitIsLForAFixedLengthAndUnboundedOtherwise()
    {
        Assert.Equal(1, SpecLength.Fixed(1).Limit);
        Assert.Equal(8, SpecLength.Fixed(8).Limit);
        Assert.Equal(int.MaxValue, SpecLength.Unbounded.Limit);
        Assert.Equal(int.MaxValue, SpecLength.Auto.Limit);
    }

    [Fact]
    public void EqualityIsByEncoding()
    {
        Assert.True(SpecLength.Parse("8") == SpecLength.Fixed(8));
        Assert.False(SpecLength.Parse("8") != SpecLength.Fixed(8));
        Assert.True(SpecLength.Fixed(8) != SpecLength.Fixed(4));
        Assert.False(SpecLength.Fixed(8) == SpecLength.Fixed(4));
        Assert.True(SpecLength.Parse(" AUTO ").Equals((object)SpecLength.Auto));
        Assert.False(SpecLength.Unbounded.Equals((object)SpecLength.Auto));
        Assert.False(SpecLength.Auto.Equals("auto"));
        Assert.Equal(SpecLength.FromEncoded(0).GetHashCode(), SpecLength.Unbounded.GetHashCode());
        Assert.Equal(SpecLength.FromEncoded(12), SpecLength.Fixed(12));
    }

    [Fact]
    public void RefusalsSayWhatIsAllowed()
    {
        Assert.Throws<ArgumentNullException>(() => SpecLength.Parse(null!));
        Assert.Equal("A fixed speculation length must be >= 1 (got 0); use \"inf\" for unbounded or \"auto\". (Parameter 'length')",
            Assert.Throws<ArgumentOutOfRangeException>(() => SpecLength.Fixed(0)).Message);
        Assert.Equal("spec_len -2 is invalid: use L > 0, 0 for unbounded or -1 for automatic. (Parameter 'value')",
            Assert.Throws<ArgumentOutOfRangeException>(() => SpecLength.FromEncoded(-2)).Message);
        Assert.Equal("--spec-len 99999999999 is invalid: a speculation length must be >= 1 and at most 2147483647 (or \"inf\", or \"auto\").",
            Assert.Throws<ArgumentException>(() => SpecLength.Parse("99999999999", "--spec-len")).Message);
        Assert.Equal("--spec-len 0 is invalid: a speculation length must be >= 1 and at most 2147483647 (or \"inf\", or \"auto\").",
            Assert.Throws<ArgumentException>(() => SpecLength.Parse("0", "--spec-len")).Message);
        Assert.Equal("spec_len '-3' is not a number, \"inf\" or \"auto\": a speculation length must be >= 1.",
            Assert.Throws<ArgumentException>(() => SpecLength.Parse("-3")).Message);
        Assert.Equal("spec_len 'eight' is not a number, \"inf\" or \"auto\".", Assert.Throws<ArgumentException>(() => SpecLength.Parse("eight")).Message);

        // Empty, blank, digits mixed with other characters, and digits that are not ASCII: not numbers.
        foreach (string text in (string[])["", "   ", "4x", "x4", "+4", "4 4", "\u0663", "1\u0663"])
        {
            Assert.Contains("is not a number", Assert.Throws<ArgumentException>(() => SpecLength.Parse(text)).Message);
        }
    }
}
