namespace EmKernels.Distributed;

/// <summary>
/// The few collective and point-to-point operations distributed EM needs, over spans of doubles, between the
/// <see cref="Size"/> processes of a fit. Every process calls the collectives (<see cref="Broadcast"/>,
/// <see cref="AllGather"/>) in the same order; messages between two processes arrive in the order they were sent.
/// Implementations: <see cref="MpiCommunicator"/> (processes under <c>mpiexec</c>) and <see cref="InProcessCommunicator"/>
/// (threads of one process, for tests and for trying a distributed setup without MPI).
/// </summary>
public interface ICommunicator
{
    /// <summary>This process's index, 0 ≤ rank &lt; <see cref="Size"/>.</summary>
    int Rank { get; }

    /// <summary>The number of processes.</summary>
    int Size { get; }

    /// <summary>Sends <paramref name="values"/> to process <paramref name="destination"/> (returns once the buffer may be reused).</summary>
    /// <param name="values">The values.</param>
    /// <param name="destination">The receiving rank (not this one).</param>
    void Send(ReadOnlySpan<double> values, int destination);

    /// <summary>Receives the next message from process <paramref name="source"/> into <paramref name="buffer"/>.</summary>
    /// <param name="buffer">At least as long as the message.</param>
    /// <param name="source">The sending rank (not this one).</param>
    /// <returns>How many values the message held.</returns>
    int Receive(Span<double> buffer, int source);

    /// <summary>Every process gets <paramref name="values"/> as process <paramref name="root"/> holds them (the same length everywhere).</summary>
    /// <param name="values">The root's values in, everyone's out.</param>
    /// <param name="root">The sending rank.</param>
    void Broadcast(Span<double> values, int root);

    /// <summary>Every process gets every process's <paramref name="mine"/>, in rank order, in <paramref name="all"/>.</summary>
    /// <param name="mine">This process's values (the same length on every process).</param>
    /// <param name="all"><see cref="Size"/> × that length values, out.</param>
    void AllGather(ReadOnlySpan<double> mine, Span<double> all);

    /// <summary>Ends every process of the fit at once with <paramref name="exitCode"/> (for an error that only this process saw).</summary>
    /// <param name="exitCode">The exit code (non-zero).</param>
    void Abort(int exitCode);
}
