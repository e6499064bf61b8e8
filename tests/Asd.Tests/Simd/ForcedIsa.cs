namespace Asd.Tests.Simd;

/// <summary>
/// Forces an ISA path for the length of a using scope and returns to the default selection when the scope ends, also
/// when it throws: the try/finally around <see cref="Isa.Force"/> that the ISA-forcing tests wrote out each time. The
/// forced path is process-wide, so a test that uses it belongs to <see cref="IsaCollection"/>.
/// </summary>
internal sealed class ForcedIsa : IDisposable
{
    private ForcedIsa()
    {
    }

    /// <summary>Forces <paramref name="path"/> until the returned scope is disposed.</summary>
    public static ForcedIsa On(IsaPath path)
    {
        Isa.Force(path);
        return new ForcedIsa();
    }

    /// <inheritdoc/>
    public void Dispose() => Isa.Force(null);
}
