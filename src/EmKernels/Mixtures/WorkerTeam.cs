namespace EmKernels.Mixtures;

/// <summary>
/// A fixed team of threads that runs one action per member, created once per fit so that each EM pass
/// costs no allocation (Parallel.For allocates delegates and tasks on every call). The calling thread
/// is member 0; members 1 … n−1 are background threads parked on a barrier between phases.
/// </summary>
internal sealed class WorkerTeam : IDisposable
{
    private readonly Thread[] _threads;
    private readonly Barrier? _barrier;
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

        _barrier = new Barrier(Members);
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
        if (_barrier is null)
        {
            work(0);
            return;
        }

        _work = work;
        _failure = null;
        _barrier.SignalAndWait(); // start
        try
        {
            work(0);
        }
        catch (Exception e)
        {
            _failure ??= e;
        }

        _barrier.SignalAndWait(); // finish
        if (_failure is not null)
        {
            throw new AggregateException(_failure);
        }
    }

    public void Dispose()
    {
        if (_barrier is null || _stopping)
        {
            return;
        }

        _stopping = true;
        _barrier.SignalAndWait(); // release the members from their wait; they see _stopping and leave
        foreach (Thread thread in _threads)
        {
            thread.Join();
        }

        _barrier.Dispose();
    }

    private void Loop(int member)
    {
        while (true)
        {
            _barrier!.SignalAndWait();
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

            _barrier.SignalAndWait();
        }
    }
}
