using System.Numerics;
using EmKernels.Engine;

namespace EmKernels.Distributed;

/// <summary>
/// Batch EM on many processes: every process runs <see cref="ExpectationMaximization"/>'s driver on its shard — the
/// rows of a contiguous range of the engine's segments (<see cref="Shard"/>) — and each pass ends with one exchange of
/// partial sums along the engine's fixed reduction tree, so every process gets bitwise the statistics, parameters and
/// objective one process gets from all the data, for any number of processes and threads. The initialization runs the
/// same way (k-means++ and Lloyd's iterations, random points or responsibilities, as sums over the shards). Every process
/// returns the same result and holds the same fitted model.
/// </summary>
public static class DistributedExpectationMaximization
{
    /// <summary>
    /// The rows process <paramref name="rank"/> of <paramref name="processes"/> holds in a distributed fit of
    /// <paramref name="points"/> points: whole segments of the engine, so that the fit is that of one process.
    /// </summary>
    /// <param name="points">N, the points of the whole data set (≥ 1).</param>
    /// <param name="processes">The number of processes (≥ 1).</param>
    /// <param name="rank">The process (0 ≤ rank &lt; processes).</param>
    /// <returns>The first row and the number of rows (possibly 0, when there are more processes than segments).</returns>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public static (long FirstRow, long Rows) Shard(long points, int processes, int rank)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(points, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(processes, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, processes);
        int segments = PassEngine<double>.SegmentCount(points);
        (int first, int end) = TreeExchange.Range(segments, processes, rank);
        long start = SegmentStart(points, segments, first);
        return (start, SegmentStart(points, segments, end) - start);
    }

    /// <summary>
    /// Fits <paramref name="model"/> by EM on this process's part of <paramref name="data"/>, which presents all N points
    /// (for example a file every process can read): this process reads only the rows of <see cref="Shard"/>.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="model">The model, the same on every process; fitted in place.</param>
    /// <param name="data">All the points (only this process's rows are read).</param>
    /// <param name="communicator">The processes of the fit.</param>
    /// <param name="options">Options, the same on every process (without a seed, rank 0's random seed is used by all).</param>
    /// <returns>How the fit went: the same on every process.</returns>
    /// <exception cref="DistributedFitException">A process failed (bad data in its shard, an option it did not share, …): every process throws it, naming that rank.</exception>
    public static ExpectationMaximizationResult Fit<T>(IExpectationMaximizationModel<T> model, DataSource<T> data, ICommunicator communicator, ExpectationMaximizationOptions? options = null)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(communicator);
        return Run(model, data, data.Points, communicator, options);
    }

    /// <summary>
    /// Fits <paramref name="model"/> by EM when this process holds only its shard: <paramref name="shard"/> holds rows
    /// <see cref="Shard"/>(<paramref name="points"/>, size, rank) of the whole data set, in order.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="model">The model, the same on every process; fitted in place.</param>
    /// <param name="shard">This process's rows.</param>
    /// <param name="points">N, the points of the whole data set.</param>
    /// <param name="communicator">The processes of the fit.</param>
    /// <param name="options">Options, the same on every process.</param>
    /// <returns>How the fit went: the same on every process.</returns>
    /// <exception cref="DistributedFitException">A process failed, or a shard is not the rows <see cref="Shard"/> gives it: every process throws it, naming that rank.</exception>
    public static ExpectationMaximizationResult FitShard<T>(IExpectationMaximizationModel<T> model, DataSource<T> shard, long points, ICommunicator communicator, ExpectationMaximizationOptions? options = null)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(shard);
        ArgumentNullException.ThrowIfNull(communicator);
        (long first, long rows) = points >= 1 ? Shard(points, communicator.Size, communicator.Rank) : (0, 0);
        Exception? mismatch = shard.Points == rows ? null
            : new ArgumentException($"The shard has {shard.Points} rows; rank {communicator.Rank} of {communicator.Size} holds {rows} of the {points} points (rows {first} … {first + rows - 1}).", nameof(shard));
        return Run(model, new ShardDataSource<T>(shard, first, points, communicator.Rank), points, communicator, options, mismatch);
    }

    private static ExpectationMaximizationResult Run<T>(
        IExpectationMaximizationModel<T> model, DataSource<T> data, long points, ICommunicator communicator, ExpectationMaximizationOptions? options, Exception? failure = null)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        options ??= new ExpectationMaximizationOptions();

        // Every process states what it fits; a process that disagrees, or failed before the fit, stops every one.
        int rank = communicator.Rank, size = communicator.Size;
        double[] mine = [failure is null ? 0 : 1, points, data.Features, model.Features, model.ParameterLength, data.HasSampleWeights ? 1 : 0, options.Seed ?? Random.Shared.Next()];
        double[] all = new double[mine.Length * size];
        communicator.AllGather(mine, all);
        for (int r = 0; r < size; r++)
        {
            ReadOnlySpan<double> theirs = all.AsSpan(r * mine.Length, mine.Length);
            if (theirs[0] != 0)
            {
                throw new DistributedFitException(r, r == rank ? failure!.Message : "failed before the fit.", r == rank ? failure : null);
            }

            if (!theirs[1..6].SequenceEqual(all.AsSpan(1, 5)))
            {
                throw new DistributedFitException(r, $"fits N = {theirs[1]}, D = {theirs[2]} (model D = {theirs[3]}, {theirs[4]} parameters, sample weights {theirs[5] != 0}); rank 0 fits N = {all[1]}, D = {all[2]} (model D = {all[3]}, {all[4]} parameters, sample weights {all[5] != 0}).");
            }
        }

        options = options with { Seed = (int)all[6] };
        return ExpectationMaximization.DistributedFit(model, data, options, new TreeExchange(communicator));
    }

    private static long SegmentStart(long points, int segments, int segment) => (long)((Int128)points * segment / segments);
}
