namespace EmKernels.Distributed;

/// <summary>
/// <see cref="ICommunicator"/> over MPI's <c>MPI_COMM_WORLD</c>, through a binding of the ten MPI calls EM needs to the
/// MPICH ABI (<c>libmpich.so.12</c>: MPICH, and the MPIs that keep its ABI — Intel MPI, Cray MPICH, MVAPICH). Start the
/// processes with MPICH's launcher (<c>mpiexec.mpich -n P …</c>). Open MPI has another ABI (its handles are pointers
/// to exported objects) and is not supported. One instance per process: <see cref="Initialize"/> calls
/// <c>MPI_Init_thread</c> (funneled: only the thread that initialized MPI calls it) and <see cref="Dispose"/>
/// <c>MPI_Finalize</c>. MPI's default error handler ends every process on a communication error.
/// </summary>
public sealed class MpiCommunicator : ICommunicator, IDisposable
{
    private static MpiCommunicator? s_instance;
    private bool _finalized;

    private MpiCommunicator(int rank, int size)
    {
        Rank = rank;
        Size = size;
    }

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size { get; }

    /// <summary>
    /// Initializes MPI (once per process; later calls return the same communicator) and returns the communicator of
    /// every process the launcher started.
    /// </summary>
    /// <returns>This process's communicator.</returns>
    /// <exception cref="DllNotFoundException">MPICH's library (<c>libmpich.so.12</c>) is not installed (Debian: <c>apt-get install mpich</c>).</exception>
    /// <exception cref="InvalidOperationException">An MPI call failed, or MPI was finalized already.</exception>
    public static MpiCommunicator Initialize()
    {
        if (s_instance is not null)
        {
            return s_instance._finalized ? throw new InvalidOperationException("MPI was finalized; it cannot be initialized again in this process.") : s_instance;
        }

        Check(Mpich.MPI_Initialized(out int initialized), "MPI_Initialized");
        if (initialized == 0)
        {
            Check(Mpich.MPI_Init_thread(0, 0, Mpich.ThreadFunneled, out _), "MPI_Init_thread");
        }

        Check(Mpich.MPI_Comm_rank(Mpich.CommWorld, out int rank), "MPI_Comm_rank");
        Check(Mpich.MPI_Comm_size(Mpich.CommWorld, out int size), "MPI_Comm_size");
        s_instance = new MpiCommunicator(rank, size);
        return s_instance;
    }

    /// <inheritdoc/>
    public unsafe void Send(ReadOnlySpan<double> values, int destination)
    {
        CheckPeer(destination, nameof(destination));
        fixed (double* p = values)
        {
            Check(Mpich.MPI_Send(p, values.Length, Mpich.Double, destination, 0, Mpich.CommWorld), "MPI_Send");
        }
    }

    /// <inheritdoc/>
    public unsafe int Receive(Span<double> buffer, int source)
    {
        CheckPeer(source, nameof(source));
        Mpich.Status status;
        fixed (double* p = buffer)
        {
            Check(Mpich.MPI_Recv(p, buffer.Length, Mpich.Double, source, 0, Mpich.CommWorld, &status), "MPI_Recv");
        }

        Check(Mpich.MPI_Get_count(&status, Mpich.Double, out int count), "MPI_Get_count");
        return count;
    }

    /// <inheritdoc/>
    public unsafe void Broadcast(Span<double> values, int root)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(root);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, Size);
        fixed (double* p = values)
        {
            Check(Mpich.MPI_Bcast(p, values.Length, Mpich.Double, root, Mpich.CommWorld), "MPI_Bcast");
        }
    }

    /// <inheritdoc/>
    public unsafe void AllGather(ReadOnlySpan<double> mine, Span<double> all)
    {
        if (all.Length != (long)mine.Length * Size)
        {
            throw new ArgumentException($"The output holds {all.Length} values; {Size} ranks × {mine.Length} are gathered.", nameof(all));
        }

        fixed (double* send = mine)
        fixed (double* receive = all)
        {
            Check(Mpich.MPI_Allgather(send, mine.Length, Mpich.Double, receive, mine.Length, Mpich.Double, Mpich.CommWorld), "MPI_Allgather");
        }
    }

    /// <inheritdoc/>
    public void Abort(int exitCode) => Mpich.MPI_Abort(Mpich.CommWorld, exitCode);

    /// <summary>Finalizes MPI (every process must, after its last communication).</summary>
    public void Dispose()
    {
        if (!_finalized)
        {
            _finalized = true;
            Check(Mpich.MPI_Finalize(), "MPI_Finalize");
        }
    }

    private void CheckPeer(int peer, string name)
    {
        if (peer < 0 || peer >= Size || peer == Rank)
        {
            throw new ArgumentOutOfRangeException(name, peer, $"Rank {Rank} of {Size} cannot exchange with rank {peer}.");
        }
    }

    private static void Check(int code, string call)
    {
        if (code != 0)
        {
            throw new InvalidOperationException($"{call} failed with MPI error {code}.");
        }
    }
}
