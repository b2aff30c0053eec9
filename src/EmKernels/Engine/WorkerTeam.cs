namespace EmKernels.Engine;

/// <summary>
/// A fixed team of threads that runs one action per member, created once per fit so that each EM pass
/// costs no allocation (Parallel.For allocates delegates and tasks on every call). The calling thread
/// is member 0; members 1 … n−1 are background threads parked on a barrier between phases.
/// </summary>
internal sealed class WorkerTeam : IDisposable
{
    /// <summary>How long a member spins for the next phase before it blocks: 200 µs.</summary>
    private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 5000;

    private readonly Thread[] _threads;
    private readonly object _gate = new();
    private int _arrived;
    private int _phase;
    private Action<int>? _work;
    private Exception? _failure;
    private volatile bool _stopping;

    public WorkerTeam(int members)
    {
        Members = Math.Max(1, members);
        _threads = new Thread[Members - 1];
        if (Members == 1)
        {
            return;
        }

        for (int i = 1; i < Members; i++)
        {
            int member = i;
            _threads[i - 1] = new Thread(() => Loop(member)) { IsBackground = true, Name = $"EmKernels worker {member}" };
            _threads[i - 1].Start();
        }
    }

    public int Members { get; }

    /// <summary>Runs <paramref name="work"/>(member) on every member and returns when all are done; rethrows a member's exception.</summary>
    public void Run(Action<int> work)
    {
        if (Members == 1)
        {
            work(0);
            return;
        }

        _work = work;
        _failure = null;
        Arrive(); // start
        try
        {
            work(0);
        }
        catch (Exception e)
        {
            _failure ??= e;
        }

        Arrive(); // finish
        if (_failure is not null)
        {
            throw new AggregateException(_failure);
        }
    }

    public void Dispose()
    {
        if (Members == 1 || _stopping)
        {
            return;
        }

        _stopping = true;
        Arrive(); // release the members from their wait; they see _stopping and leave
        foreach (Thread thread in _threads)
        {
            thread.Join();
        }
    }

    /// <summary>
    /// The team's barrier: every member arrives, the last one opens the next phase. Waiters spin briefly,
    /// then block on the gate. Nothing is allocated: System.Threading.Barrier allocated two lock objects
    /// lazily, the first time a member had to block, which could happen in any iteration.
    /// </summary>
    private void Arrive()
    {
        int phase = Volatile.Read(ref _phase);
        if (Interlocked.Increment(ref _arrived) == Members)
        {
            Volatile.Write(ref _arrived, 0);
            lock (_gate)
            {
                Volatile.Write(ref _phase, phase + 1);
                Monitor.PulseAll(_gate);
            }

            return;
        }

        // Spin before blocking: between two passes the calling thread only runs the M-step (microseconds for
        // small models), and a parked thread takes tens of microseconds to wake. Bounded, so that a team
        // waiting on a long M-step (or an idle fit) gives its core back.
        long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
        while (Volatile.Read(ref _phase) == phase && System.Diagnostics.Stopwatch.GetTimestamp() < deadline)
        {
            Thread.SpinWait(20);
        }

        lock (_gate)
        {
            while (Volatile.Read(ref _phase) == phase)
            {
                Monitor.Wait(_gate);
            }
        }
    }

    private void Loop(int member)
    {
        while (true)
        {
            Arrive();
            if (_stopping)
            {
                return;
            }

            try
            {
                _work!(member);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _failure, e, null);
            }

            Arrive();
        }
    }
}
