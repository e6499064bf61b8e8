using System.Globalization;

namespace Asd.Native.Denoising;

/// <summary>
/// A choice between two ways of running a call that give the same bits (a ConditionalUnet1D's one-sample call on one
/// lane or with its columns split across the pool), kept right while the machine changes under it. A choice timed once
/// can be wrong for the rest of a run: on the 2-vCPU VM the hypervisor moves the vCPUs between one core complex and
/// two every few seconds, and a one-sample probe that met the slow placement chose the lane (498 us against 502) for a
/// bench whose calls then ran 465 us, where the columns took 321 (`tools/unet1d_bench.sh policy`, 2026-12-07 18:52 UTC).
/// </summary>
/// <remarks>
/// The way in use is timed on every call. Every <see cref="Period"/> calls the other way runs a block of
/// <see cref="Block"/> calls, the first untimed (a pool's workers may be asleep after the other way), and the call after
/// the block is untimed for the same reason. At the end of a block, when the median of the other way's last
/// <see cref="Window"/> times is <see cref="Margin"/> times faster than the way in use's, the choice moves. So the other
/// way runs 3 calls in 128 (2.3%; if it is 50% slower, that costs 1.2% of the time), and a change of the machine is
/// followed within <see cref="Window"/> / 2 blocks (384 calls, about 0.12 s of 320 us calls). Both ways give the same
/// bits, so the choice changes no output. Thread-safe (a lock per call: tens of nanoseconds against calls of hundreds of
/// microseconds); allocates nothing per call.
/// </remarks>
internal sealed class TwoWayChoice
{
    /// <summary>Calls between two blocks of the other way.</summary>
    internal const int Period = 128;

    /// <summary>Calls of the other way per block (the first untimed).</summary>
    internal const int Block = 3;

    /// <summary>Recent times kept per way.</summary>
    internal const int Window = 6;

    /// <summary>How much faster the other way's median must be to take over.</summary>
    internal const double Margin = 1.05;

    private readonly object _gate = new();
    private readonly long[] _times = new long[2 * Window];
    private readonly long[] _scratch = new long[Window];
    private readonly int[] _count = new int[2], _head = new int[2];
    private readonly long[] _runs = new long[2];
    private readonly string[] _names;
    private readonly string _start;
    private long _calls;
    private int _current, _blockLeft, _switches;
    private bool _resume;

    /// <summary>
    /// Starts on <paramref name="initial"/> (0 or 1), with a probe's times of each way, in seconds (the last
    /// <see cref="Window"/> of each are kept).
    /// </summary>
    /// <param name="initial">The way to start with.</param>
    /// <param name="names">What each way is, for <see cref="Describe"/>.</param>
    /// <param name="firstTimes">The probe's times of way 0.</param>
    /// <param name="secondTimes">The probe's times of way 1.</param>
    /// <param name="start">How the start was chosen, for <see cref="Describe"/>.</param>
    public TwoWayChoice(int initial, string[] names, IReadOnlyList<double> firstTimes, IReadOnlyList<double> secondTimes, string start)
    {
        if (initial is not (0 or 1) || names.Length != 2)
        {
            throw new ArgumentOutOfRangeException(nameof(initial), "Two ways, numbered 0 and 1.");
        }

        (_current, _names, _start) = (initial, names, start);
        foreach (double s in firstTimes)
        {
            Push(0, (long)(s * System.Diagnostics.Stopwatch.Frequency));
        }

        foreach (double s in secondTimes)
        {
            Push(1, (long)(s * System.Diagnostics.Stopwatch.Frequency));
        }
    }

    /// <summary>The way in use.</summary>
    public int Current
    {
        get
        {
            lock (_gate)
            {
                return _current;
            }
        }
    }

    /// <summary>How many times the choice moved.</summary>
    public int Switches
    {
        get
        {
            lock (_gate)
            {
                return _switches;
            }
        }
    }

    /// <summary>Calls run each way (blocks of the other way included).</summary>
    public long Runs(int way)
    {
        lock (_gate)
        {
            return _runs[way];
        }
    }

    /// <summary>The way the next call runs, and whether its time counts.</summary>
    public Ticket Next()
    {
        lock (_gate)
        {
            _calls++;
            if (_blockLeft == 0 && _calls % Period == 0)
            {
                _blockLeft = Block;
            }

            if (_blockLeft > 0)
            {
                bool first = _blockLeft == Block;
                _blockLeft--;
                _resume |= _blockLeft == 0;
                _runs[1 - _current]++;
                return new Ticket(1 - _current, !first, _blockLeft == 0);
            }

            bool resuming = _resume;
            _resume = false;
            _runs[_current]++;
            return new Ticket(_current, !resuming, false);
        }
    }

    /// <summary>Records a call's time (Stopwatch ticks); at the end of a block, moves the choice if the other way won.</summary>
    public void Record(Ticket ticket, long ticks)
    {
        lock (_gate)
        {
            if (ticket.Timed)
            {
                Push(ticket.Way, ticks);
            }

            if (ticket.EndsBlock && ticket.Way != _current && _count[0] >= Block && _count[1] >= Block
                && Median(ticket.Way) * Margin < Median(_current))
            {
                _current = ticket.Way;
                _switches++;
            }
        }
    }

    /// <summary>What runs now and what ran, with how the start was chosen.</summary>
    public string Describe()
    {
        lock (_gate)
        {
            long all = _runs[0] + _runs[1];
            string share = all == 0 ? "no calls yet" : string.Create(CultureInfo.InvariantCulture, $"{_names[0]} in {100.0 * _runs[0] / all:F0}% of {all} calls");
            return string.Create(
                CultureInfo.InvariantCulture,
                $"{_names[_current]} now, whichever recent calls timed faster (the other tried {Block} calls in {Period}; moved {_switches} time(s); {share}; started from {_start})");
        }
    }

    private void Push(int way, long ticks)
    {
        _times[(way * Window) + _head[way]] = ticks;
        _head[way] = (_head[way] + 1) % Window;
        _count[way] = Math.Min(_count[way] + 1, Window);
    }

    private long Median(int way)
    {
        int n = _count[way];
        Span<long> v = _scratch.AsSpan(0, n);
        _times.AsSpan(way * Window, n).CopyTo(v);
        v.Sort();
        return v[n / 2];
    }

    /// <summary>One call's way, whether its time counts, and whether it ends a block of the other way.</summary>
    internal readonly record struct Ticket(int Way, bool Timed, bool EndsBlock);
}
