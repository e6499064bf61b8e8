using Asd.Simd.Vectors;

namespace Asd.Tests.Simd;

[Collection(IsaCollection.Name)]
public sealed class RandomTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(0u, 0u, 0u, 0u, 0u, 0u, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)]
    [InlineData(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)]
    [InlineData(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)]
    public void PhiloxMatchesRandom123KnownAnswers(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, uint x0, uint x1, uint x2, uint x3) =>
        Assert.Equal((x0, x1, x2, x3), Philox4x32.Block(c0, c1, c2, c3, k0, k1));

    [Fact]
    public void GaussiansHaveTheSameBitsOnEveryIsaPath()
    {
        int[] lengths = [1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 511, 1024, 1025, 3000];
        var reference = new Dictionary<int, float[]>();
        try
        {
            Isa.Force(IsaPath.Scalar);
            foreach (int n in lengths)
            {
                reference[n] = new float[n];
                CounterRng.Gaussian(99, 5, 3, 2, reference[n]);
            }

            foreach (IsaPath path in Isa.Supported())
            {
                Isa.Force(path);
                foreach (int n in lengths)
                {
                    var v = new float[n];
                    CounterRng.Gaussian(99, 5, 3, 2, v);
                    Assert.True(reference[n].AsSpan().SequenceEqual(v), $"{path} differs from scalar at length {n}");
                }
            }
        }
        finally
        {
            Isa.Force(null);
        }
    }

    [Fact]
    public void DrawsArePureFunctionsOfTheirKey()
    {
        var a = new float[40];
        var b = new float[40];
        CounterRng.Gaussian(1, 2, 3, 4, a);
        CounterRng.Gaussian(1, 2, 3, 4, b);
        Assert.Equal(a, b);
        foreach ((ulong seed, ulong stream, uint index, uint purpose) in new[] { (2UL, 2UL, 3u, 4u), (1UL, 3UL, 3u, 4u), (1UL, 2UL, 4u, 4u), (1UL, 2UL, 3u, 5u), (1UL, 2UL + (1UL << 32), 3u, 4u) })
        {
            CounterRng.Gaussian(seed, stream, index, purpose, b);
            Assert.False(a.AsSpan().SequenceEqual(b), $"key ({seed}, {stream}, {index}, {purpose}) repeats another stream");
        }

        // A prefix of a longer draw is not required to match (the layout is per length), but the draw is stable.
        Assert.Equal(CounterRng.Uniform(7, 8, 9, 3), CounterRng.Uniform(7, 8, 9, 3));
    }

    [Fact]
    public void UniformsStayStrictlyInsideTheUnitInterval()
    {
        for (uint i = 0; i < 100_000; i++)
        {
            double u = CounterRng.Uniform(11, i, i, 3);
            Assert.True(u > 0 && u < 1);
        }
    }

    [Fact]
    public void VectorLogIsAccurate()
    {
        double worst = 0;
        var rng = new System.Random(5);
        for (int i = 0; i < 200_000; i++)
        {
            float u = i < 64 ? MathF.Pow(2, -i / 2f) : (float)((rng.Next() + 0.5) / 2147483648.0);
            float got = VecMath.Log(VecScalar.Broadcast(u)).V;
            double exact = Math.Log(u);
            worst = Math.Max(worst, Math.Abs(got - exact) / Math.Max(1e-30, Math.Abs(exact) + 1e-7));
        }

        output.WriteLine($"worst relative error of Log: {worst:E2}");
        Assert.True(worst < 5e-7);
    }

    [Fact]
    public void VectorCosSinAreAccurate()
    {
        double worst = 0;
        var rng = new System.Random(6);
        for (int i = 0; i < 200_000; i++)
        {
            uint w = (uint)rng.NextInt64(0, 1L << 32);
            VecMath.CosSinTurn(VecScalar.BroadcastBits(w), out VecScalar c, out VecScalar s);
            double angle = 2 * Math.PI * ((w >> 6) << 6) / 4294967296.0;
            worst = Math.Max(worst, Math.Max(Math.Abs(c.V - Math.Cos(angle)), Math.Abs(s.V - Math.Sin(angle))));
        }

        output.WriteLine($"worst absolute error of cos/sin: {worst:E2}");
        Assert.True(worst < 3e-7);
    }

    /// <summary>An empty row draws nothing and touches no counter (a zero-length sample is legal in a batch).</summary>
    [Fact]
    public void GaussiansOfAnEmptyRowAreNothing()
    {
        CounterRng.Gaussian(1, 2, 3, 4, Span<float>.Empty);
        float[] one = [float.NaN];
        CounterRng.Gaussian(1, 2, 3, 4, one.AsSpan(0, 0));
        Assert.True(float.IsNaN(one[0]));
    }

    /// <summary>
    /// A row longer than the stack buffer (2048 floats) borrows its words from the shared pool and gives them back, so
    /// the sampler's step noise allocates nothing per step for large samples either (a 64x64x3 image is 12,288 floats).
    /// </summary>
    [Fact]
    public void GaussiansOfALongRowAllocateNothingOnceWarm()
    {
        float[] row = new float[12_288];
        CounterRng.Gaussian(7, 0, 0, 1, row);
        CounterRng.Gaussian(7, 0, 1, 1, row);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (uint step = 2; step < 10; step++)
        {
            CounterRng.Gaussian(7, 0, step, 1, row);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}

/// <summary>Tests that force an ISA path run one at a time (the forced path is process-wide).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class IsaCollection
{
    public const string Name = "ISA-forcing tests";
}
