using System.Numerics;
using Asd.Native.Backends.Analytic;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.OnnxRuntime;

namespace Asd.Native.Backends.Onnx;

/// <summary>
/// Runs an <see cref="OnnxModel"/> through ONNX Runtime with I/O binding over buffers allocated once: after the first
/// call for a given row count, a call allocates nothing. Values are converted at the boundary (float16 models,
/// integer timesteps and class inputs). A static batch dimension is filled by padding; a dynamic one takes the whole
/// batch in one call, padded up to a power of two when the model uses batch buckets (<see cref="OnnxModel.BatchBuckets"/>,
/// the CUDA default), each bucket on its own session. Not batch-invariant (ONNX Runtime does not promise it): the ONNX path is checked in law only.
/// </summary>
public sealed class OnnxDenoiser : IDenoiser, IDisposable
{
    private readonly OnnxModel _model;
    private readonly InferenceSession? _session; // a row-parallel lane's own session; null: the model's (bucket) session
    private readonly int _capacity;
    private readonly bool _flagged;
    private readonly Buffer _sample, _timestep, _output;
    private readonly Buffer[] _cond;
    private readonly Buffer? _flag;
    private readonly Dictionary<int, (InferenceSession Session, OnnxBoundIo Io)> _bindings = [];
    // Run errors reach the caller as a ModelRunException carrying ONNX Runtime's message; ONNX Runtime's own log line
    // on stderr would break the one-line error that the CLI and libasd promise.
    private readonly RunOptions _run = new() { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL };

    internal OnnxDenoiser(OnnxModel model, int maxRows, bool flagged, InferenceSession? session = null)
    {
        _model = model;
        _session = session;
        _flagged = flagged;
        SampleSize = model.SampleShape.Aggregate(1, (a, b) => a * b);
        _capacity = model.StaticBatch > 0 ? model.StaticBatch
            : model.BatchBuckets ? BucketCapacity(maxRows, Math.Max(SampleSize, ConditionSize))
            : Math.Max(1, maxRows);
        _sample = new Buffer(model.SampleInput, _capacity);
        _timestep = new Buffer(model.TimestepInput, _capacity);
        _output = new Buffer(model.Output, _capacity);
        _cond = [.. model.CondInputs.Select(c => new Buffer(c, _capacity))];
        _flag = flagged && model.FlagInput is { } f ? new Buffer(f, _capacity) : null;
    }

    /// <summary>
    /// The largest bucket: <paramref name="maxRows"/> rounded up to a power of two, so that a call of that many rows
    /// runs as one; rounded down instead where the larger bucket's buffers would pass the batch ceiling
    /// (<see cref="Validation.ResourceLimits.MaxBatchFloats"/>; the caller's rows already fit it), then run in passes.
    /// </summary>
    internal static int BucketCapacity(int maxRows, int rowFloats)
    {
        uint rows = (uint)Math.Clamp(maxRows, 1, 1 << 30), up = BitOperations.RoundUpToPowerOf2(rows);
        return (long)up * Math.Max(1, rowFloats) <= Validation.ResourceLimits.MaxBatchFloats || up == rows ? (int)up : (int)(up / 2);
    }

    /// <inheritdoc/>
    public int SampleSize { get; }

    /// <inheritdoc/>
    public int ConditionSize => _model.ConditionSize + (_flagged ? 1 : 0);

    /// <inheritdoc/>
    public bool IsBatchInvariant => false;

    /// <inheritdoc/>
    public int MaxRowsPerCall => _model.StaticBatch;

    /// <inheritdoc/>
    public bool SharedTimestep => _model.ScalarTimestep;

    /// <inheritdoc/>
    public void Denoise(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
    {
        int rows = timesteps.Length, d = SampleSize, c = ConditionSize;
        DenoiserChecks.CheckBatch(this, samples.Length, rows, conditioning.Length, output.Length);
        for (int start = 0; start < rows; start += _capacity)
        {
            int n = Math.Min(_capacity, rows - start);
            Run(samples.Slice(start * d, n * d), timesteps.Slice(start, n), conditioning.Slice(start * c, n * c), output.Slice(start * d, n * d));
        }
    }

    private void Run(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
    {
        int n = timesteps.Length, d = SampleSize, c = ConditionSize;
        int callRows = _model.StaticBatch > 0 ? _model.StaticBatch
            : _model.BatchBuckets ? (int)BitOperations.RoundUpToPowerOf2((uint)n)
            : n;
        if (_model.ScalarTimestep)
        {
            for (int r = 1; r < n; r++)
            {
                if (timesteps[r] != timesteps[0])
                {
                    throw new ArgumentException($"Model '{_model.Name}' takes one scalar timestep per call, but the batch mixes timesteps {timesteps[0]} and {timesteps[r]}.");
                }
            }
        }

        _sample.WriteRows(samples, n, callRows);
        for (int r = 0; r < callRows; r++)
        {
            _timestep.Write(r, r < n ? timesteps[r] : timesteps[0]);
        }

        int offset = 0;
        foreach (Buffer b in _cond)
        {
            b.WriteColumns(conditioning, c, offset, n, callRows);
            offset += b.Port.RowSize;
        }

        _flag?.WriteColumns(conditioning, c, offset, n, callRows);

        (InferenceSession session, OnnxBoundIo io) = Binding(callRows);
        io.BeforeRun();
        try
        {
            session.RunWithBinding(_run, io.Binding);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelRunException($"ONNX Runtime failed running '{_model.Name}' on {n} rows: {e.Message}", e);
        }

        io.AfterRun();
        _output.ReadRows(output, n * d);
    }

    private (InferenceSession, OnnxBoundIo) Binding(int rows)
    {
        if (_bindings.TryGetValue(rows, out var cached))
        {
            return cached;
        }

        var entry = CreateBinding(rows);
        _bindings[rows] = entry;
        return entry;
    }

    // Apart from Binding: the lambda's closure over rows would otherwise be allocated on every call, cached or not.
    private (InferenceSession, OnnxBoundIo) CreateBinding(int rows)
    {
        InferenceSession session = _session ?? _model.SessionFor(rows);
        Buffer[] buffers = [_sample, _timestep, .. _cond, .. _flag is null ? Array.Empty<Buffer>() : [_flag], _output];
        OrtValue[] values = [.. buffers.Select(b => b.CreateValue(rows))];
        return (session, new OnnxBoundIo(_model.IoPath, _model.DeviceMemory, session.CreateIoBinding(), [.. buffers.Select(b => b.Port.Name)], values));
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach ((_, OnnxBoundIo io) in _bindings.Values)
        {
            io.Dispose();
        }

        _bindings.Clear();
        _run.Dispose();
    }

    /// <summary>One bound tensor: a typed array sized for the largest batch, converted from and to float.</summary>
    private sealed class Buffer
    {
        private readonly float[]? _f;
        private readonly Float16[]? _h;
        private readonly double[]? _d;
        private readonly long[]? _l;
        private readonly int[]? _i;

        public Buffer(OnnxPort port, int capacity)
        {
            Port = port;
            int size = Math.Max(1, capacity * port.RowSize);
            switch (port.Type)
            {
                case TensorElementType.Float: _f = new float[size]; break;
                case TensorElementType.Float16: _h = new Float16[size]; break;
                case TensorElementType.Double: _d = new double[size]; break;
                case TensorElementType.Int64: _l = new long[size]; break;
                case TensorElementType.Int32: _i = new int[size]; break;
                default: throw new InvalidDataException($"Input {port.Describe()}: dtype {port.Type} is not supported.");
            }
        }

        public OnnxPort Port { get; }

        public void Write(int index, float value)
        {
            if (_f is not null)
            {
                _f[index] = value;
            }
            else if (_h is not null)
            {
                _h[index] = (Float16)value;
            }
            else if (_d is not null)
            {
                _d[index] = value;
            }
            else
            {
                if (!float.IsFinite(value) || value != MathF.Round(value))
                {
                    throw new ArgumentException($"Input '{Port.Name}' is {Port.Type}, but received {value}, which is not an integer.");
                }

                // Integer inputs of diffusion networks index embedding tables (class labels, token ids). PyTorch, where
                // they were trained, refuses a negative index; ONNX's Gather reads it from the table's end, so --cond -1
                // sampled the last class without a word. 2^31 and 2^63 are the first floats past each type's range.
                if (value < 0 || value >= (_l is not null ? 9223372036854775808f : 2147483648f))
                {
                    throw new ArgumentException($"Input '{Port.Name}' is {Port.Type}, but received {value}: integer inputs such as class labels count from 0 "
                        + (value < 0 ? "(an embedding lookup would read a negative index from its table's end)." : $"and must fit {Port.Type}."));
                }

                if (_l is not null)
                {
                    _l[index] = (long)value;
                }
                else
                {
                    _i![index] = (int)value;
                }
            }
        }

        public void WriteRows(ReadOnlySpan<float> values, int rows, int callRows)
        {
            int size = Port.RowSize;
            if (_f is not null)
            {
                values[..(rows * size)].CopyTo(_f);
                Array.Clear(_f, rows * size, (callRows - rows) * size);
                return;
            }

            for (int i = 0; i < callRows * size; i++)
            {
                Write(i, i < rows * size ? values[i] : 0f);
            }
        }

        public void WriteColumns(ReadOnlySpan<float> rowsOfValues, int stride, int offset, int rows, int callRows)
        {
            int size = Port.RowSize;
            for (int r = 0; r < callRows; r++)
            {
                int src = r < rows ? r : 0;
                for (int j = 0; j < size; j++)
                {
                    Write((r * size) + j, rowsOfValues[(src * stride) + offset + j]);
                }
            }
        }

        public void ReadRows(Span<float> destination, int count)
        {
            if (_f is not null)
            {
                _f.AsSpan(0, count).CopyTo(destination);
                return;
            }

            for (int i = 0; i < count; i++)
            {
                destination[i] = (float)_h![i];
            }
        }

        public OrtValue CreateValue(int rows)
        {
            long[] shape = Port.Dims.Length == 0 ? [] : [rows, .. Port.Dims[1..].Select(d => (long)d)];
            int count = Port.Dims.Length == 0 ? 1 : rows * Port.RowSize;
            OrtMemoryInfo cpu = OrtMemoryInfo.DefaultInstance;
            return Port.Type switch
            {
                TensorElementType.Float => OrtValue.CreateTensorValueFromMemory(cpu, new Memory<float>(_f, 0, count), shape),
                TensorElementType.Float16 => OrtValue.CreateTensorValueFromMemory(cpu, new Memory<Float16>(_h, 0, count), shape),
                TensorElementType.Double => OrtValue.CreateTensorValueFromMemory(cpu, new Memory<double>(_d, 0, count), shape),
                TensorElementType.Int64 => OrtValue.CreateTensorValueFromMemory(cpu, new Memory<long>(_l, 0, count), shape),
                _ => OrtValue.CreateTensorValueFromMemory(cpu, new Memory<int>(_i, 0, count), shape),
            };
        }
    }
}
