using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;


namespace Asd.Native.Backends.Onnx;

/// <summary>How an <see cref="OnnxDenoiser"/>'s host buffers reach the session on every call.</summary>
internal enum OnnxIoPath
{
    /// <summary>The CPU: host buffers are bound once and ONNX Runtime reads them at each run.</summary>
    Host,

    /// <summary>
    /// A device without CUDA graphs: ONNX Runtime copies a host input to the device when it is bound, not when the
    /// session runs, so every input is bound again before each run (a cached binding fed every call the inputs of the
    /// first call with its row count: the stale-input bug seen on CUDA). Outputs are bound to host buffers.
    /// </summary>
    Rebind,

    /// <summary>
    /// CUDA graphs: every input and the output live in device buffers at fixed addresses, bound once (a captured graph
    /// replays those addresses); each call copies the inputs into them and the output out of them.
    /// </summary>
    Staged,
}

/// <summary>
/// Memory on the session's device and copies to and from it. The CPU flavour exists for tests: it lets CI, which has
/// no GPU, run the device paths (<see cref="OnnxIoPath.Rebind"/>, <see cref="OnnxIoPath.Staged"/>) on the CPU provider
/// with real copies, so a missing copy shows up as stale inputs or outputs.
/// </summary>
internal abstract partial class OnnxDeviceMemory
{
    /// <summary>Where the memory lives, as ONNX Runtime names it.</summary>
    public abstract OrtMemoryInfo Info { get; }

    public abstract IntPtr Allocate(long bytes);

    public abstract void Free(IntPtr pointer);

    public abstract void ToDevice(IntPtr device, IntPtr host, long bytes);

    public abstract void ToHost(IntPtr host, IntPtr device, long bytes);

    /// <summary>Waits until copies issued so far are visible to the session's work.</summary>
    public abstract void Synchronize();

    /// <summary>Ordinary CPU memory standing in for a device (tests).</summary>
    internal sealed class Cpu : OnnxDeviceMemory
    {
        public static readonly Cpu Instance = new();

        public override OrtMemoryInfo Info => OrtMemoryInfo.DefaultInstance;

        public override unsafe IntPtr Allocate(long bytes) => (IntPtr)NativeMemory.AlignedAlloc((nuint)Math.Max(1, bytes), 64);

        public override unsafe void Free(IntPtr pointer) => NativeMemory.AlignedFree((void*)pointer);

        public override unsafe void ToDevice(IntPtr device, IntPtr host, long bytes) => System.Buffer.MemoryCopy((void*)host, (void*)device, bytes, bytes);

        public override unsafe void ToHost(IntPtr host, IntPtr device, long bytes) => System.Buffer.MemoryCopy((void*)device, (void*)host, bytes, bytes);

        public override void Synchronize()
        {
        }
    }

    /// <summary>
    /// CUDA device 0 through the CUDA runtime (libcudart.so.13, which the CUDA provider needs anyway). ONNX Runtime
    /// runs its kernels on a stream of its own; a synchronous copy from pageable memory may return before its DMA
    /// ends, so <see cref="Synchronize"/> waits for the device before the run is issued.
    /// </summary>
    internal sealed partial class Cuda : OnnxDeviceMemory
    {
        public static readonly Cuda Instance = new();

        private const string Lib = "libcudart.so.13";

        private Cuda()
        {
        }

        public override OrtMemoryInfo Info { get; } = new(OrtMemoryInfo.allocatorCUDA, OrtAllocatorType.DeviceAllocator, 0, OrtMemType.Default);

        public override IntPtr Allocate(long bytes)
        {
            Check(CudaMalloc(out IntPtr p, (nuint)Math.Max(1, bytes)), $"cudaMalloc({bytes} bytes)");
            return p;
        }

        public override void Free(IntPtr pointer) => _ = CudaFree(pointer);

        public override void ToDevice(IntPtr device, IntPtr host, long bytes) => Check(CudaMemcpy(device, host, (nuint)bytes, 1), "cudaMemcpy host to device");

        public override void ToHost(IntPtr host, IntPtr device, long bytes) => Check(CudaMemcpy(host, device, (nuint)bytes, 2), "cudaMemcpy device to host");

        public override void Synchronize() => Check(CudaDeviceSynchronize(), "cudaDeviceSynchronize");

        private static void Check(int status, string what)
        {
            if (status != 0)
            {
                throw new ModelRunException($"CUDA: {what} failed with cudaError {status}.", new ExternalException(what, status));
            }
        }

        [LibraryImport(Lib, EntryPoint = "cudaMalloc")]
        private static partial int CudaMalloc(out IntPtr pointer, nuint bytes);

        [LibraryImport(Lib, EntryPoint = "cudaFree")]
        private static partial int CudaFree(IntPtr pointer);

        [LibraryImport(Lib, EntryPoint = "cudaMemcpy")]
        private static partial int CudaMemcpy(IntPtr destination, IntPtr source, nuint bytes, int kind);

        [LibraryImport(Lib, EntryPoint = "cudaDeviceSynchronize")]
        private static partial int CudaDeviceSynchronize();
    }
}

/// <summary>
/// One I/O binding of an <see cref="OnnxDenoiser"/> (one row count) and what each call must do around the run on its
/// <see cref="OnnxIoPath"/>. Values are created once; <see cref="BeforeRun"/> and <see cref="AfterRun"/> allocate nothing.
/// </summary>
internal sealed class OnnxBoundIo : IDisposable
{
    private readonly OnnxIoPath _path;
    private readonly OnnxDeviceMemory? _memory;
    private readonly OrtIoBinding _binding;
    private readonly string[] _names;
    private readonly OrtValue[] _host;
    private readonly OrtValue[]? _device;
    private readonly IntPtr[] _pointers = [];
    private readonly long[] _bytes = [];

    /// <param name="path">How the values reach the session.</param>
    /// <param name="memory">Device memory: required for <see cref="OnnxIoPath.Staged"/>; for <see cref="OnnxIoPath.Rebind"/>, null on a real
    /// device (ONNX Runtime copies at bind time) or the CPU stand-in, which then copies at bind time itself.</param>
    /// <param name="binding">The session's binding.</param>
    /// <param name="names">The inputs' names, then the output's last.</param>
    /// <param name="host">The host values, in the order of <paramref name="names"/>.</param>
    public OnnxBoundIo(OnnxIoPath path, OnnxDeviceMemory? memory, OrtIoBinding binding, string[] names, OrtValue[] host)
    {
        _path = path;
        _memory = path == OnnxIoPath.Host ? null : memory;
        _binding = binding;
        _names = names;
        _host = host;
        if (path == OnnxIoPath.Staged && _memory is null)
        {
            throw new ArgumentException("The staged I/O path needs device memory.", nameof(memory));
        }

        if (_memory is not null)
        {
            _device = new OrtValue[host.Length];
            _pointers = new IntPtr[host.Length];
            _bytes = new long[host.Length];
            for (int i = 0; i < host.Length; i++)
            {
                OrtTensorTypeAndShapeInfo info = host[i].GetTensorTypeAndShape();
                _bytes[i] = info.ElementCount * ElementBytes(info.ElementDataType);
                _pointers[i] = _memory.Allocate(_bytes[i]);
                _device[i] = OrtValue.CreateTensorValueWithData(_memory.Info, info.ElementDataType, info.Shape, _pointers[i], _bytes[i]);
            }
        }

        for (int i = 0; i < host.Length - 1; i++)
        {
            BindInput(i);
        }

        _binding.BindOutput(names[^1], _device?[^1] ?? host[^1]);
    }

    /// <summary>The session's binding of these values.</summary>
    public OrtIoBinding Binding => _binding;

    /// <summary>Makes the inputs just written to the host values visible to the session.</summary>
    public void BeforeRun()
    {
        switch (_path)
        {
            case OnnxIoPath.Rebind:
                for (int i = 0; i < _host.Length - 1; i++)
                {
                    BindInput(i);
                }

                break;
            case OnnxIoPath.Staged:
                for (int i = 0; i < _host.Length - 1; i++)
                {
                    Copy(i, toDevice: true);
                }

                _memory!.Synchronize();
                break;
        }
    }

    /// <summary>Brings the output to its host value.</summary>
    public void AfterRun()
    {
        if (_device is not null)
        {
            Copy(_host.Length - 1, toDevice: false);
        }
    }

    /// <summary>
    /// Binds input <paramref name="i"/>. On <see cref="OnnxIoPath.Rebind"/> with the CPU stand-in, binding copies the
    /// host value to its device value, as ONNX Runtime does for a host value bound to a CUDA session.
    /// </summary>
    private void BindInput(int i)
    {
        if (_path == OnnxIoPath.Rebind && _device is not null)
        {
            Copy(i, toDevice: true);
        }

        _binding.BindInput(_names[i], _device?[i] ?? _host[i]);
    }

    private unsafe void Copy(int i, bool toDevice)
    {
        fixed (byte* h = _host[i].GetTensorMutableRawData())
        {
            if (toDevice)
            {
                _memory!.ToDevice(_pointers[i], (IntPtr)h, _bytes[i]);
            }
            else
            {
                _memory!.ToHost((IntPtr)h, _pointers[i], _bytes[i]);
            }
        }
    }

    private static long ElementBytes(TensorElementType t) => t switch
    {
        TensorElementType.Float16 => 2,
        TensorElementType.Double or TensorElementType.Int64 => 8,
        _ => 4,
    };

    public void Dispose()
    {
        _binding.Dispose();
        foreach (OrtValue v in _host)
        {
            v.Dispose();
        }

        if (_device is not null)
        {
            for (int i = 0; i < _device.Length; i++)
            {
                _device[i].Dispose();
                _memory!.Free(_pointers[i]);
            }
        }
    }
}
