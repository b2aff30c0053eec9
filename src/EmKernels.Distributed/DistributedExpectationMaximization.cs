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
        long[] starts = SegmentTree.ShardStarts(points, processes);
        return (starts[rank], starts[rank + 1] - starts[rank]);
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
        Exception? mismatch = shard.Points == rows ? null : WrongShard(shard.Points, rows, first, points, communicator);
        return Run(model, new ShardDataSource<T>(shard, first, points, communicator.Rank), points, communicator, options, mismatch);
    }

    /// <summary>
    /// Stepwise (online) EM on many processes: <paramref name="driver"/>'s <see cref="StepwiseExpectationMaximization{T}.Fit"/>
    /// on this process's part of <paramref name="data"/> (all N points, of which it reads only its shard). The passes over the
    /// data are split as in batch EM; each window of the shuffle is assembled on every process from the rows each holds, and
    /// each step's pass over its minibatch is split over the processes by the minibatch's segments. Every process ends with
    /// bitwise the one-process driver's state (statistics, parameters, epoch objectives).
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="driver">The driver, made with the same model and options on every process (without a seed, rank 0's is used).</param>
    /// <param name="data">All the points (only this process's rows are read).</param>
    /// <param name="communicator">The processes of the fit.</param>
    /// <exception cref="DistributedFitException">A process failed: every process throws it, naming that rank.</exception>
    public static void FitStepwise<T>(StepwiseExpectationMaximization<T> driver, DataSource<T> data, ICommunicator communicator)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(driver);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(communicator);
        RunStepwise(driver, data, data.Points, communicator, null);
    }

    /// <summary>
    /// <see cref="FitStepwise"/> when this process holds only its shard: rows <see cref="Shard"/>(<paramref name="points"/>, size,
    /// rank) of the whole data set, in order.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="driver">The driver, made with the same model and options on every process.</param>
    /// <param name="shard">This process's rows.</param>
    /// <param name="points">N, the points of the whole data set.</param>
    /// <param name="communicator">The processes of the fit.</param>
    /// <exception cref="DistributedFitException">A process failed, or a shard is not the rows <see cref="Shard"/> gives it.</exception>
    public static void FitStepwiseShard<T>(StepwiseExpectationMaximization<T> driver, DataSource<T> shard, long points, ICommunicator communicator)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(driver);
        ArgumentNullException.ThrowIfNull(shard);
        ArgumentNullException.ThrowIfNull(communicator);
        (long first, long rows) = points >= 1 ? Shard(points, communicator.Size, communicator.Rank) : (0, 0);
        Exception? mismatch = shard.Points == rows ? null : WrongShard(shard.Points, rows, first, points, communicator);
        RunStepwise(driver, new ShardDataSource<T>(shard, first, points, communicator.Rank), points, communicator, mismatch);
    }

    private static void RunStepwise<T>(StepwiseExpectationMaximization<T> driver, DataSource<T> data, long points, ICommunicator communicator, Exception? failure)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        StepwiseOptions o = driver.Options;
        int seed = Agree(communicator, failure, points, data, driver.Model, driver.Seed, [o.BatchSize, o.Epochs, o.Kappa, o.StepOffset, o.Shuffle ? 1 : 0]);
        driver.Seed = seed;
        driver.DistributedFit(data, new TreeExchange(communicator));
    }

    private static ExpectationMaximizationResult Run<T>(
        IExpectationMaximizationModel<T> model, DataSource<T> data, long points, ICommunicator communicator, ExpectationMaximizationOptions? options, Exception? failure = null)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        options ??= new ExpectationMaximizationOptions();
        int seed = Agree(communicator, failure, points, data, model, options.Seed ?? Random.Shared.Next(), [options.MaxIterations, options.Tolerance, options.Restarts, (int)options.StoppingRule]);
        return ExpectationMaximization.DistributedFit(model, data, options with { Seed = seed }, new TreeExchange(communicator));
    }

    /// <summary>
    /// Every process states what it fits; a process that failed before the fit, or fits other data, another model or other
    /// options than rank 0, stops every one (naming it). Returns rank 0's seed.
    /// </summary>
    private static int Agree<T>(ICommunicator communicator, Exception? failure, long points, DataSource<T> data, IExpectationMaximizationModel<T> model, int seed, double[] options)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int rank = communicator.Rank, size = communicator.Size;
        double[] mine = [failure is null ? 0 : 1, seed, points, data.Features, model.Features, model.ParameterLength, data.HasSampleWeights ? 1 : 0, .. options];
        double[] all = new double[mine.Length * size];
        communicator.AllGather(mine, all);
        for (int r = 0; r < size; r++)
        {
            ReadOnlySpan<double> theirs = all.AsSpan(r * mine.Length, mine.Length);
            if (theirs[0] != 0)
            {
                throw new DistributedFitException(r, r == rank ? failure!.Message : "failed before the fit.", r == rank ? failure : null);
            }

            if (!theirs[2..].SequenceEqual(all.AsSpan(2, mine.Length - 2)))
            {
                throw new DistributedFitException(r, $"fits [N, D, model D, parameters, sample weights, options…] = [{string.Join(", ", theirs[2..].ToArray())}]; rank 0 fits [{string.Join(", ", all[2..mine.Length])}].");
            }
        }

        return (int)all[1];
    }

    private static ArgumentException WrongShard(long has, long rows, long first, long points, ICommunicator communicator) =>
        new($"The shard has {has} rows; rank {communicator.Rank} of {communicator.Size} holds {rows} of the {points} points (rows {first} … {first + rows - 1}).", "shard");
}
