using System.Numerics.Tensors;
using Asd.Native.Backends.Analytic;

namespace Asd.Native.Denoising;

/// <summary>
/// Classifier-free guidance as a denoiser: m = m_uncond + w (m_cond - m_uncond), both halves evaluated in ONE call
/// of the inner model (the conditional rows, then the same rows with the null condition). The guided m is just
/// another function of (x, t, c), so ASD stays exact with it. Combining raw outputs equals combining x0 estimates,
/// because the conversion to x0 is affine with the same coefficients for both halves.
/// </summary>
public sealed class GuidedDenoiser : IDenoiser
{
    private readonly IDenoiser _inner;
    private readonly NullCondition _null;
    private readonly float _scale;
    private readonly int _c, _innerC, _pairsPerPass;
    private float[] _x = [], _cond = [], _out = [];
    private int[] _t = [];

    /// <summary>Wraps <paramref name="inner"/>; with a flag null condition, the inner model's last conditioning value is the flag.</summary>
    public GuidedDenoiser(IDenoiser inner, NullCondition nullCondition, double scale)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(nullCondition);
        if (!double.IsFinite(scale))
        {
            throw new ArgumentOutOfRangeException(nameof(scale), $"The guidance scale must be finite (got {scale}).");
        }

        _inner = inner;
        _null = nullCondition;
        _scale = (float)scale;
        _innerC = inner.ConditionSize;
        _c = nullCondition is NullCondition.FlagInput ? _innerC - 1 : _innerC;
        if (_c < 1 && nullCondition is not NullCondition.FlagInput)
        {
            throw new ArgumentException("Guidance needs a conditional model.");
        }

        // A flag lives in the inner model's last conditioning value: with none, every row's slices would be negative.
        if (_c < 0)
        {
            throw new ArgumentException($"The null condition 'input:{((NullCondition.FlagInput)nullCondition).InputName}' needs the model's last conditioning value for its flag, but the model takes no conditioning.");
        }

        if (nullCondition is NullCondition.Value v && v.Values.Length != _c)
        {
            throw new ArgumentException($"The null condition has {v.Values.Length} values but a conditioning row has {_c}.");
        }

        if (inner.MaxRowsPerCall == 1)
        {
            throw new ArgumentException("Guidance evaluates both halves in one call, which a static batch of 1 cannot hold.");
        }

        _pairsPerPass = PairsPerPass(inner.SampleSize, _innerC);
    }

    /// <summary>
    /// Rows a guided pass takes so that its doubled buffers (2 x rows x the wider of a sample and a conditioning row)
    /// stay within the batch ceiling (<see cref="Validation.ResourceLimits.MaxBatchFloats"/>), as every other batch
    /// buffer does; at least 1. A call of more rows runs in passes (each row's halves stay in one inner call).
    /// </summary>
    public static int PairsPerPass(int sampleSize, int innerConditionSize) =>
        Validation.ResourceLimits.RowsWithinBatchFloats(2 * Math.Max(1, Math.Max(sampleSize, innerConditionSize)));

    /// <summary>The guidance scale w.</summary>
    public double Scale => _scale;

    /// <inheritdoc/>
    public int SampleSize => _inner.SampleSize;

    /// <inheritdoc/>
    public int ConditionSize => _c;

    /// <inheritdoc/>
    public bool IsBatchInvariant => _inner.IsBatchInvariant;

    /// <inheritdoc/>
    public int MaxRowsPerCall => _inner.MaxRowsPerCall / 2;

    /// <inheritdoc/>
    public bool SharedTimestep => _inner.SharedTimestep;

    /// <inheritdoc/>
    public void Denoise(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
    {
        int rows = timesteps.Length, d = SampleSize;
        DenoiserChecks.CheckBatch(this, samples.Length, rows, conditioning.Length, output.Length);
        for (int start = 0; start < rows; start += _pairsPerPass)
        {
            int n = Math.Min(_pairsPerPass, rows - start);
            Pass(samples.Slice(start * d, n * d), timesteps.Slice(start, n), conditioning.Slice(start * _c, n * _c), output.Slice(start * d, n * d));
        }
    }

    private void Pass(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
    {
        int rows = timesteps.Length, d = SampleSize;
        if (_t.Length < 2 * rows)
        {
            _x = new float[2 * rows * d];
            _t = new int[2 * rows];
            _cond = new float[2 * rows * _innerC];
            _out = new float[2 * rows * d];
        }

        Span<float> x = _x.AsSpan(0, 2 * rows * d), cond = _cond.AsSpan(0, 2 * rows * _innerC), outp = _out.AsSpan(0, 2 * rows * d);
        samples.CopyTo(x);
        samples.CopyTo(x[(rows * d)..]);
        timesteps.CopyTo(_t);
        timesteps.CopyTo(_t.AsSpan(rows));
        for (int r = 0; r < rows; r++)
        {
            Span<float> condRow = cond.Slice(r * _innerC, _innerC), nullRow = cond.Slice((rows + r) * _innerC, _innerC);
            conditioning.Slice(r * _c, _c).CopyTo(condRow);
            switch (_null)
            {
                case NullCondition.Zeros:
                    nullRow.Clear();
                    break;
                case NullCondition.Value v:
                    v.Values.CopyTo(nullRow);
                    break;
                default:
                    conditioning.Slice(r * _c, _c).CopyTo(nullRow);
                    condRow[_c] = 0f;
                    nullRow[_c] = 1f;
                    break;
            }
        }

        _inner.Denoise(x, _t.AsSpan(0, 2 * rows), cond, outp);
        // m = m_u + w (m_c - m_u), element-wise: each operation is one correctly rounded IEEE operation (no fused
        // multiply-add, no reduction), so TensorPrimitives gives the same bits on every ISA and at every position.
        ReadOnlySpan<float> conditional = outp[..(rows * d)], unconditional = outp[(rows * d)..];
        Span<float> result = output[..(rows * d)];
        TensorPrimitives.Subtract(conditional, unconditional, result);
        TensorPrimitives.MultiplyAdd(result, _scale, unconditional, result);
    }
}
