using System.Collections.Concurrent;

namespace EmKernels.Distributed;

/// <summary>
/// The processes of a distributed fit as threads of one process: <see cref="CreateGroup"/> makes the communicators of a
/// group, one per rank, which exchange copies of the values through in-memory queues. For tests, and to try a
/// distributed setup without MPI. A receive that waits longer than the group's timeout, or for a group that was
/// aborted, throws instead of hanging.
/// </summary>
public sealed class InProcessCommunicator : ICommunicator
{
    private readonly Group _group;

    private InProcessCommunicator(Group group, int rank)
    {
        _group = group;
        Rank = rank;
    }

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size => _group.Size;

    /// <summary>The exit code passed to <see cref="Abort"/> by a member of this group, or null.</summary>
    public int? AbortCode => _group.AbortCode;

    /// <summary>Creates the communicators of a group of <paramref name="size"/> ranks, index = rank.</summary>
    /// <param name="size">How many ranks (≥ 1).</param>
    /// <param name="timeout">How long a receive waits before it throws; null: 10 minutes.</param>
    /// <returns>The communicators, one per rank: give each to the thread that plays that rank.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is below 1, or the timeout is not positive.</exception>
    public static InProcessCommunicator[] CreateGroup(int size, TimeSpan? timeout = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        TimeSpan wait = timeout ?? TimeSpan.FromMinutes(10);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(wait, TimeSpan.Zero, nameof(timeout));
        var group = new Group(size, wait);
        return [.. Enumerable.Range(0, size).Select(rank => new InProcessCommunicator(group, rank))];
    }

    /// <inheritdoc/>
    public void Send(ReadOnlySpan<double> values, int destination)
    {
        CheckPeer(destination, nameof(destination));
        _group.Queue(Rank, destination).Add(values.ToArray());
    }

    /// <inheritdoc/>
    public int Receive(Span<double> buffer, int source)
    {
        CheckPeer(source, nameof(source));
        double[] message = Take(source);
        if (message.Length > buffer.Length)
        {
            throw new ArgumentException($"A message of {message.Length} values does not fit the buffer of {buffer.Length}.", nameof(buffer));
        }

        message.CopyTo(buffer);
        return message.Length;
    }

    /// <inheritdoc/>
    public void Broadcast(Span<double> values, int root)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(root);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, Size);
        if (Rank == root)
        {
            for (int r = 0; r < Size; r++)
            {
                if (r != root)
                {
                    _group.Queue(root, r).Add(values.ToArray());
                }
            }

            return;
        }

        double[] message = Take(root);
        if (message.Length != values.Length)
        {
            throw new InvalidOperationException($"Rank {root} broadcast {message.Length} values; rank {Rank} expected {values.Length}.");
        }

        message.CopyTo(values);
    }

    /// <inheritdoc/>
    public void AllGather(ReadOnlySpan<double> mine, Span<double> all)
    {
        int length = mine.Length;
        if (all.Length != length * Size)
        {
            throw new ArgumentException($"The output holds {all.Length} values; {Size} ranks × {length} are gathered.", nameof(all));
        }

        for (int r = 0; r < Size; r++)
        {
            if (r != Rank)
            {
                _group.Queue(Rank, r).Add(mine.ToArray());
            }
        }

        for (int r = 0; r < Size; r++)
        {
            if (r == Rank)
            {
                mine.CopyTo(all.Slice(r * length, length));
                continue;
            }

            double[] message = Take(r);
            if (message.Length != length)
            {
                throw new InvalidOperationException($"Rank {r} gathered {message.Length} values; rank {Rank} expected {length}.");
            }

            message.CopyTo(all.Slice(r * length, length));
        }
    }

    /// <summary>Marks the group aborted: every pending and later receive of every member throws <see cref="OperationCanceledException"/>.</summary>
    /// <param name="exitCode">The exit code.</param>
    public void Abort(int exitCode) => _group.Abort(exitCode);

    private double[] Take(int source)
    {
        try
        {
            if (_group.Queue(source, Rank).TryTake(out double[]? message, (int)_group.Timeout.TotalMilliseconds, _group.Aborted.Token))
            {
                return message;
            }
        }
        catch (OperationCanceledException e)
        {
            throw new OperationCanceledException($"Rank {Rank}: the group was aborted (exit code {_group.AbortCode}).", e, _group.Aborted.Token);
        }

        throw new TimeoutException($"Rank {Rank} waited {_group.Timeout} for a message from rank {source}.");
    }

    private void CheckPeer(int peer, string name)
    {
        if (peer < 0 || peer >= Size || peer == Rank)
        {
            throw new ArgumentOutOfRangeException(name, peer, $"Rank {Rank} of {Size} cannot exchange with rank {peer}.");
        }
    }

    private sealed class Group(int size, TimeSpan timeout)
    {
        private readonly BlockingCollection<double[]>[] _queues = [.. Enumerable.Range(0, size * size).Select(_ => new BlockingCollection<double[]>())];

        public int Size { get; } = size;

        public TimeSpan Timeout { get; } = timeout;

        public CancellationTokenSource Aborted { get; } = new();

        public int? AbortCode { get; private set; }

        public BlockingCollection<double[]> Queue(int from, int to) => _queues[from * Size + to];

        public void Abort(int exitCode)
        {
            AbortCode ??= exitCode;
            Aborted.Cancel();
        }
    }
}
