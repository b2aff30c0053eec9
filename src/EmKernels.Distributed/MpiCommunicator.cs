namespace EmKernels.Distributed;

/// <summary>
/// <see cref="ICommunicator"/> over MPI's <c>MPI_COMM_WORLD</c>, through a binding of the eleven MPI calls EM needs to either
/// MPI ABI in use (<see cref="MpiAbi"/>): MPICH's (<c>libmpich.so.12</c>: MPICH, and the MPIs that keep its ABI — Intel
/// MPI, Cray MPICH, MVAPICH), when started by MPICH's launcher (<c>mpiexec.mpich -n P …</c>), or Open MPI's
/// (<c>libmpi.so.40</c>) when started by Open MPI's <c>mpirun</c>. One instance per process: <see cref="Initialize"/> calls
/// <c>MPI_Init_thread</c> (funneled: only the thread that initialized MPI calls it) and <see cref="Dispose"/>
/// <c>MPI_Finalize</c>. MPI's default error handler ends every process on a communication error.
/// </summary>
public sealed class MpiCommunicator : ICommunicator, IDisposable
{
    private static MpiCommunicator? s_instance;
    private readonly MpiAbi _mpi;
    private bool _finalized;

    private MpiCommunicator(MpiAbi mpi, int rank, int size)
    {
        _mpi = mpi;
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
    /// <exception cref="DllNotFoundException">The launcher's MPI library is not installed (Debian: <c>apt-get install mpich</c>, or <c>openmpi-bin</c>).</exception>
    /// <exception cref="InvalidOperationException">An MPI call failed, or MPI was finalized already.</exception>
    public static MpiCommunicator Initialize()
    {
        if (s_instance is not null)
        {
            return s_instance._finalized ? throw new InvalidOperationException("MPI was finalized; it cannot be initialized again in this process.") : s_instance;
        }

        MpiAbi mpi = MpiAbi.Load();
        Check(mpi.Initialized(out int initialized), "MPI_Initialized");
        if (initialized == 0)
        {
            Check(mpi.InitThread(MpiAbi.ThreadFunneled, out _), "MPI_Init_thread");
        }

        Check(mpi.CommRank(out int rank), "MPI_Comm_rank");
        Check(mpi.CommSize(out int size), "MPI_Comm_size");
        s_instance = new MpiCommunicator(mpi, rank, size);
        return s_instance;
    }

    /// <inheritdoc/>
    public unsafe void Send(ReadOnlySpan<double> values, int destination)
    {
        CheckPeer(destination, nameof(destination));
        fixed (double* p = values)
        {
            Check(_mpi.Send(p, values.Length, destination), "MPI_Send");
        }
    }

    /// <inheritdoc/>
    public unsafe int Receive(Span<double> buffer, int source)
    {
        CheckPeer(source, nameof(source));
        fixed (double* p = buffer)
        {
            Check(_mpi.Receive(p, buffer.Length, source, out int count), "MPI_Recv");
            return count;
        }
    }

    /// <inheritdoc/>
    public unsafe void Broadcast(Span<double> values, int root)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(root);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, Size);
        fixed (double* p = values)
        {
            Check(_mpi.Broadcast(p, values.Length, root), "MPI_Bcast");
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
            Check(_mpi.AllGather(send, mine.Length, receive), "MPI_Allgather");
        }
    }

    /// <inheritdoc/>
    public void Abort(int exitCode) => _mpi.Abort(exitCode);

    /// <summary>Finalizes MPI (every process must, after its last communication).</summary>
    public void Dispose()
    {
        if (!_finalized)
        {
            _finalized = true;
            Check(_mpi.Finalize(), "MPI_Finalize");
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
