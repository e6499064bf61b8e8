namespace Asd.Cli.Bench;

/// <summary>
/// The timing discipline of <c>asd bench</c> and of <c>asd sample</c>'s comparisons: settings run interleaved, each
/// round running every setting once (in a fresh seeded order when a shuffle is given, so no setting always follows the
/// same other one), after an optional untimed warm-up round 0 that takes one-time costs (ONNX Runtime's first run per
/// batch size, a CUDA batch bucket's session, page faults) out of every timing. Drift in the machine's speed then hits
/// all settings alike.
/// </summary>
internal static class SideBySide
{
    /// <summary>Calls <paramref name="run"/>(round, setting) for rounds 1 .. <paramref name="rounds"/> (and 0 first when <paramref name="warmUp"/>).</summary>
    public static void Run(int settings, int rounds, bool warmUp, Random? shuffle, Action<int, int> run, Action<int>? startRound = null)
    {
        int[] order = [.. Enumerable.Range(0, settings)];
        for (int r = warmUp ? 0 : 1; r <= rounds; r++)
        {
            shuffle?.Shuffle(order);
            startRound?.Invoke(r);
            foreach (int i in order)
            {
                run(r, i);
            }
        }
    }
}
