namespace EmKernels.Distributed;

/// <summary>A distributed fit stopped on every process because process <see cref="Rank"/> failed; the message is that process's.</summary>
public sealed class DistributedFitException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DistributedFitException()
        : this(-1, "A process of the distributed fit failed.")
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    public DistributedFitException(string message)
        : this(-1, message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public DistributedFitException(string message, Exception innerException)
        : base(message, innerException)
    {
        Rank = -1;
    }

    /// <summary>Creates the exception for a failure of rank <paramref name="rank"/>.</summary>
    /// <param name="rank">The rank that failed.</param>
    /// <param name="message">Its message.</param>
    /// <param name="innerException">On the failing rank, what it threw; null on the others.</param>
    public DistributedFitException(int rank, string message, Exception? innerException = null)
        : base(rank >= 0 ? $"Rank {rank}: {message}" : message, innerException)
    {
        Rank = rank;
    }

    /// <summary>The rank that failed (−1 if unknown).</summary>
    public int Rank { get; }
}
