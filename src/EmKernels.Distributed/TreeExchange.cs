using EmKernels.Engine;

namespace EmKernels.Distributed;

/// <summary>
/// A pass's exchange between processes: rank r computes segments [S r / P, S (r + 1) / P) and reduces them to its
/// maximal nodes of the engine's fixed tree; in round k = 0, 1, … the ranks with r mod 2^(k+1) = 2^k send their nodes
/// to rank r − 2^k, which pushes them after its own (the ranges are contiguous, so siblings merge as on one process);
/// after ⌈log₂ P⌉ rounds rank 0 holds the root and broadcasts it. Each message holds at most 2 ⌈log₂ S⌉ + 2 nodes, so
/// one pass costs about 2 ⌈log₂ P⌉ messages of a few statistics' size, whatever N. A failure on any rank travels the
/// same way instead of the nodes, and every rank throws <see cref="DistributedFitException"/> naming it.
/// </summary>
internal sealed class TreeExchange(ICommunicator communicator) : IPassExchange
{
    private const int MessageCharacters = 400;
    private const int FailureHeader = 2 + MessageCharacters;
    private double[] _buffer = [];

    public int Rank => communicator.Rank;

    public int Size => communicator.Size;

    public (int First, int End) Segments(int segments) => SegmentTree.RangeOf(segments, communicator.Size, communicator.Rank);

    public void Broadcast(Span<double> values, int root) => communicator.Broadcast(values, root);

    public void Combine(ReductionStack stack, Exception? failure)
    {
        int size = communicator.Size, rank = communicator.Rank;
        int capacity = FailureHeader + stack.MaximumPackedLength();
        if (_buffer.Length < capacity)
        {
            _buffer = new double[capacity];
        }

        int failedRank = failure is null ? -1 : rank;
        string? message = failure?.Message;
        for (int step = 1; step < size; step <<= 1)
        {
            if (rank % (2 * step) == step)
            {
                int length = Write(failedRank, message, stack);
                communicator.Send(_buffer.AsSpan(0, length), rank - step);
                break;
            }

            if (rank % (2 * step) == 0 && rank + step < size)
            {
                communicator.Receive(_buffer, rank + step);
                int theirs = (int)_buffer[0];
                if (theirs >= 0)
                {
                    if (failedRank < 0 || theirs < failedRank)
                    {
                        (failedRank, message) = (theirs, ReadMessage());
                    }
                }
                else if (failedRank < 0)
                {
                    stack.PushPacked(_buffer.AsSpan(FailureHeader));
                }
            }
        }

        Span<double> broadcast = _buffer.AsSpan(0, capacity);
        if (rank == 0)
        {
            Write(failedRank, message, stack);
        }

        communicator.Broadcast(broadcast, 0);
        failedRank = (int)_buffer[0];
        if (failedRank >= 0)
        {
            throw new DistributedFitException(failedRank, rank == failedRank && failure is not null ? failure.Message : ReadMessage(), rank == failedRank ? failure : null);
        }

        if (rank != 0)
        {
            stack.Clear();
            stack.PushPacked(_buffer.AsSpan(FailureHeader));
        }
    }

    /// <summary>[failed rank or −1, message length, message characters…, packed stack (when no failure)]; returns the length.</summary>
    private int Write(int failedRank, string? message, ReductionStack stack)
    {
        _buffer[0] = failedRank;
        if (failedRank >= 0)
        {
            string text = message ?? "";
            int length = Math.Min(text.Length, MessageCharacters);
            _buffer[1] = length;
            for (int i = 0; i < length; i++)
            {
                _buffer[2 + i] = text[i];
            }

            return FailureHeader;
        }

        _buffer[1] = 0;
        return FailureHeader + stack.Pack(_buffer.AsSpan(FailureHeader));
    }

    private string ReadMessage()
    {
        int length = Math.Clamp((int)_buffer[1], 0, MessageCharacters);
        return string.Create(length, _buffer, (characters, buffer) =>
        {
            for (int i = 0; i < characters.Length; i++)
            {
                characters[i] = (char)buffer[2 + i];
            }
        });
    }
}
