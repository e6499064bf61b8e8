namespace Asd.Native.Sampling;

public sealed partial class CostCurve
{
    /// <summary>
    /// T(B) timed again at a few sizes, one pass at a time, the way <see cref="Measure"/> times them (largest first,
    /// each timed call after an untimed one of its size), and DDPM's call back to back (<see cref="DdpmCallSeconds"/>):
    /// so that a bench predicts its runs from timings of the same minutes. On the 2-vCPU VM one call of the 28x28 UNet
    /// fixture (row-parallel, one row on 2 intra-op threads) took 1.05 ms during a bench's calibration and 0.73 ms
    /// during its repeats, and the speedups predicted from the calibration were 32-47% high.
    /// </summary>
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

        /// <summary>
        /// One pass: every size, largest first, each timed once after an untimed call of its size; then DDPM's call,
        /// one untimed and three timed one-row calls back to back; then the sampler's own work per call and per row
        /// and DDPM's per step (<see cref="MeasureSamplerOverhead(int, int)"/>, 3 runs of each).
        /// </summary>
        public void Pass()
        {
            for (int i = _sizes.Length - 1; i >= 0; i--)
            {
                _probe.Call(_sizes[i]);
                _samples[i].Add(_probe.Time(_sizes[i]));
            }

            _probe.Call(1);
            for (int k = 0; k < 3; k++)
            {
                _ddpm.Add(_probe.Time(1));
            }

            (double perCall, double perRow) = MeasureSamplerOverhead(_sampleSize, OverheadRuns, null);
            _perCall.Add(perCall);
            _perRow.Add(perRow);
            _ddpmPerRow.Add(MeasureDdpmOverhead(_sampleSize, OverheadRuns, null));
        }

        /// <summary>Runs per pass of each overhead measurement.</summary>
        private const int OverheadRuns = 3;

        /// <summary>
        /// <paramref name="calibration"/> with T(B) replaced by the lower quartile of these passes at the sizes timed
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

            double[] low = [.. _samples.Select(s => Quantile([.. s.Order()], LowQuantile))];
            int largest = _sizes[^1], rows = Math.Max(largest, calibration.MaxRows);
            var seconds = new double[rows];
            FillBetween(_sizes, low, seconds);

            double scale = low[^1] / calibration.CallSeconds(largest);
            for (int b = largest + 1; b <= rows; b++)
            {
                seconds[b - 1] = calibration.CallSeconds(b) * scale;
            }

            return new CostCurve(seconds, calibration.Model, Median([.. _perRow]), Median([.. _perCall]), calibration.Noise)
            {
                DdpmRowOverheadSeconds = Median([.. _ddpmPerRow]),
                DdpmCallSeconds = Quantile([.. _ddpm.Order()], LowQuantile),
            };
        }
    }
}
