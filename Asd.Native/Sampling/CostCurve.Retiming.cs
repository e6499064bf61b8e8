namespace Asd.Native.Sampling;

public sealed partial class CostCurve
{
    /// <summary>
    /// T(B) timed again at a few sizes, one pass at a time (largest first, each size's calls after an untimed one of
    /// its size), and DDPM's call back to back (<see cref="DdpmCallSeconds"/>): so that a bench predicts its runs from
    /// timings of the same minutes. On the 2-vCPU VM one call of the 28x28 UNet fixture (row-parallel, one row on 2
    /// intra-op threads) took 1.05 ms during a bench's calibration and 0.73 ms during its repeats, and the speedups
    /// predicted from the calibration were 32-47% high.
    /// </summary>
    /// <remarks>
    /// A pass times each size as a run makes its calls, <see cref="BlockCalls"/> back to back, and keeps their mean;
    /// <see cref="Apply"/> takes the median of the passes' means, as the bench takes the median of its repeats, each a
    /// sum of calls. Not the calibration's lower quartile of single calls, which is the machine's cost without
    /// interference (what <c>auto</c> chooses on): a prediction is of wall-clock, which pays the waits. With a
    /// CPU-bound process on one of the VM's two cores, the trained ConditionalUnet1D's 2-sample calls (one sample per
    /// thread) took a median of 472 us, but 17% waited a scheduler slice of the other process (p90 3.95 ms), a mean of
    /// 1.06 ms; single calls timed between untimed ones read a median of 473 us (<c>Asd.Bench quick-sampling-calls</c>),
    /// and the bench predicted fixed L = 2 and 4 1.8-1.9x as fast as they ran (<c>docs/bench/auto-stability-zen4.md</c>).
    /// </remarks>
    public sealed class Retiming
    {
        private readonly Probe _probe;
        private readonly int[] _sizes;
        private readonly List<double>[] _samples;
        private readonly List<double> _ddpm = [], _perCall = [], _perRow = [], _ddpmPerRow = [];
        private readonly int _sampleSize;

        /// <param name="denoiser">The denoiser to time (DDPM's, in a bench).</param>
        /// <param name="sizes">The row counts to time; 1 is always timed.</param>
        /// <param name="trainSteps">The model's training timesteps (the probe's timesteps are drawn below it).</param>
        public Retiming(IDenoiser denoiser, IEnumerable<int> sizes, int trainSteps)
        {
            ArgumentNullException.ThrowIfNull(denoiser);
            ArgumentNullException.ThrowIfNull(sizes);
            int cap = denoiser.MaxRowsPerCall > 0 ? denoiser.MaxRowsPerCall : int.MaxValue;
            _sizes = [.. sizes.Append(1).Where(b => b >= 1).Select(b => Math.Min(b, cap)).Distinct().Order()];
            _probe = new Probe(denoiser, _sizes[^1], trainSteps, 1, null);
            _sampleSize = denoiser.SampleSize;
            _samples = [.. _sizes.Select(_ => new List<double>())];
        }

        /// <summary>The row counts timed, ascending.</summary>
        public IReadOnlyList<int> Sizes => _sizes;

        /// <summary>Passes timed so far.</summary>
        public int Passes => _samples[0].Count;

        /// <summary>Calls of a size timed together in each pass (see remarks).</summary>
        public const int BlockCalls = 8;

        /// <summary>
        /// One pass: every size, largest first, <see cref="BlockCalls"/> calls back to back after an untimed call of
        /// its size, their mean kept; then DDPM's call, one untimed and <see cref="BlockCalls"/> timed one-row calls
        /// back to back; then the sampler's own work per call and per row and DDPM's per step
        /// (<see cref="MeasureSamplerOverhead(int, int)"/>, 3 runs of each).
        /// </summary>
        public void Pass()
        {
            for (int i = _sizes.Length - 1; i >= 0; i--)
            {
                _probe.Call(_sizes[i]);
                _samples[i].Add(_probe.TimeBlock(_sizes[i], BlockCalls));
            }

            _probe.Call(1);
            _ddpm.Add(_probe.TimeBlock(1, BlockCalls));

            (double perCall, double perRow) = MeasureSamplerOverhead(_sampleSize, OverheadRuns, null);
            _perCall.Add(perCall);
            _perRow.Add(perRow);
            _ddpmPerRow.Add(MeasureDdpmOverhead(_sampleSize, OverheadRuns, null));
        }

        /// <summary>Runs per pass of each overhead measurement.</summary>
        private const int OverheadRuns = 3;

        /// <summary>
        /// <paramref name="calibration"/> with T(B) replaced by the median of these passes' means at the sizes timed
        /// (linear between them; beyond the largest, the calibration's shape scaled to it), DDPM's call by theirs, and
        /// the sampler's overheads by the medians of theirs. The calibration itself when no pass was timed. It does not
        /// learn: it is for predictions. The overheads too: a remembered curve carries those of the process that
        /// calibrated it, and the 2-D mixture's, calibrated by the first process of a pass on the Zen 3 VM, read
        /// 0.47 us a row against 0.28-0.29 in every later process, so every warm run predicted each fixed L about 20%
        /// slower than it ran (predicted / measured 0.76-0.81, against 0.97-1.02 cold).
        /// </summary>
        public CostCurve Apply(CostCurve calibration)
        {
            ArgumentNullException.ThrowIfNull(calibration);
            if (Passes == 0)
            {
                return calibration;
            }

            double[] mid = [.. _samples.Select(s => Median([.. s]))];
            int largest = _sizes[^1], rows = Math.Max(largest, calibration.MaxRows);
            var seconds = new double[rows];
            FillBetween(_sizes, mid, seconds);

            double scale = mid[^1] / calibration.CallSeconds(largest);
            for (int b = largest + 1; b <= rows; b++)
            {
                seconds[b - 1] = calibration.CallSeconds(b) * scale;
            }

            return new CostCurve(seconds, calibration.Model, Median([.. _perRow]), Median([.. _perCall]), calibration.Noise)
            {
                DdpmRowOverheadSeconds = Median([.. _ddpmPerRow]),
                DdpmCallSeconds = Median([.. _ddpm]),
            };
        }
    }
}
