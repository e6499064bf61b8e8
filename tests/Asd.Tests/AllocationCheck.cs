namespace Asd.Tests;

/// <summary>
/// Bytes a pass allocates on the calling thread, over three passes. The runtime itself allocates on a thread once in a
/// while, seen once each in CI and never locally: 2808 bytes in the ONNX check (tiered compilation promoting a method),
/// 2088 in CorePoolTests and 2032 in Unet1dTests (sources not found). So the checks allow one allocating pass of
/// three: an allocation per call or per size shows in every pass.
/// </summary>
internal static class AllocationCheck
{
    public static long[] PerPass(Action pass)
    {
        long[] bytes = new long[3];
        for (int i = 0; i < bytes.Length; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            pass();
            bytes[i] = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        return bytes;
    }
}
