using Asd.Simd.Kernels;
using Asd.Simd.Vectors;

namespace Asd.Tests.Simd;

/// <summary>
/// The read-bandwidth probes of asd bench read what they claim: every element of their whole steps exactly once and
/// nothing past them (a NaN placed after the last whole step would poison the sum). Values are small integers, so the
/// float sums are exact and compared with equality.
/// </summary>
public sealed class MachineProbeTests
{
    private static float[] Buffer(int covered, int tail)
    {
        var a = new float[covered + tail];
        for (int i = 0; i < covered; i++)
        {
            a[i] = i % 13;
        }

        a.AsSpan(covered).Fill(float.NaN);
        return a;
    }

    private static float Expected(int covered) => Enumerable.Range(0, covered).Sum(i => i % 13);

    private static void InterleavedReadsEachElementOnce<TVec>()
        where TVec : struct, IVec<TVec>
    {
        const int step = 64;
        foreach (int steps in (int[])[0, 1, 2, 7, 40])
        {
            // Four runs of `steps` whole steps; a tail shorter than one step per run is not read.
            int covered = MachineProbes.InterleavedStreams * steps * step;
            foreach (int tail in (int[])[0, 1, step - 1, (MachineProbes.InterleavedStreams * step) - 1])
            {
                float[] a = Buffer(covered, tail);
                Assert.Equal(Expected(covered), MachineProbes.StreamSumInterleaved<TVec>(a));
            }
        }
    }

    [Fact]
    public void TheInterleavedProbeReadsEachElementOfItsRunsOnceAtEveryWidth()
    {
        if (Isa.IsSupported(IsaPath.Avx512))
        {
            InterleavedReadsEachElementOnce<Vec512>();
        }

        InterleavedReadsEachElementOnce<Vec256>();
        InterleavedReadsEachElementOnce<Vec128>();
        InterleavedReadsEachElementOnce<VecScalar>();
    }

    [Fact]
    public void TheOneStreamProbeReadsEachElementOfItsWholeStepsOnce()
    {
        // Eight vectors a step.
        foreach (int steps in (int[])[0, 1, 5, 33])
        {
            int covered = steps * 8 * 8;
            float[] a = Buffer(covered, 63);
            Assert.Equal(Expected(covered), MachineProbes.StreamSum<Vec256>(a));
        }
    }
}
