namespace Asd.Native.Denoising;

/// <summary>
/// A model whose every call reads all its packed weights (a dense network on the engine's GEMM): what bounds a call
/// from below is the time to stream those bytes from memory, and, for many rows, the arithmetic. Benchmarks use it to
/// state the physical bounds next to the measured times.
/// </summary>
public interface IStreamedWeights
{
    /// <summary>Bytes of packed weights one forward pass reads, on the active ISA path.</summary>
    long StreamedWeightBytes { get; }

    /// <summary>Floating-point operations of one sample's forward pass (2 per multiply-add of the weight layers).</summary>
    long FlopsPerSample { get; }

    /// <summary>How the weights are stored, e.g. "float32" or "float16" (widened in the kernels).</summary>
    string WeightPrecision { get; }

    /// <summary>
    /// <see cref="StreamedWeightBytes"/> for a denoiser on a pool of <paramref name="threads"/> threads: a model may pack
    /// its weights by the thread count (the MLP's float16 layers, <see cref="Backends.Mlp.MlpModel"/>).
    /// </summary>
    long StreamedWeightBytesFor(int threads) => StreamedWeightBytes;

    /// <summary><see cref="WeightPrecision"/> for a denoiser on a pool of <paramref name="threads"/> threads.</summary>
    string WeightPrecisionFor(int threads) => WeightPrecision;
}
