namespace Asd.Native.Denoising;

/// <summary>
/// A choice a model's denoisers time for themselves (how one-sample or one-row calls run), made by the first denoiser
/// that asks for a key (pool size, ISA path) and the same for every later one, so that two samplers of one model (an
/// `asd bench`'s DDPM and ASD) never run the same calls two ways on two probes of a near-tie. The probe runs under the
/// lock: a second denoiser waits rather than time beside the first.
/// </summary>
/// <typeparam name="TKey">What the choice depends on.</typeparam>
/// <typeparam name="TValue">The choice.</typeparam>
internal sealed class ProbedOnce<TKey, TValue>
    where TKey : notnull
{
    private readonly Dictionary<TKey, TValue> _choices = [];

    /// <summary>How many times a probe ran (tests).</summary>
    public int Probes { get; private set; }

    /// <summary>The choice for <paramref name="key"/>: <paramref name="probe"/>'s answer the first time, the same after.</summary>
    public TValue Get(TKey key, Func<TValue> probe)
    {
        lock (_choices)
        {
            if (!_choices.TryGetValue(key, out TValue? choice))
            {
                choice = probe();
                _choices[key] = choice;
                Probes++;
            }

            return choice;
        }
    }
}
