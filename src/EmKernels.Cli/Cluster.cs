using System.Numerics;
using EmKernels.Distributed;
using EmKernels.Engine;

namespace EmKernels.Cli;

/// <summary>
/// <c>emk fit --distributed</c> under <c>mpiexec.mpich -n P</c>: every process reads only its shard of the file (whole
/// segments of the engine), the fit exchanges partial sums once per pass and is bitwise the one-process fit; rank 0
/// prints and writes the model, the others print nothing but their own errors. An error only one process saw ends every
/// process (MPI_Abort) after that process printed it, naming its rank; a failure found in a pass (bad data in one shard)
/// reaches every process, and rank 0 prints it.
/// </summary>
internal static class Cluster
{
    /// <summary>The communicator of a distributed run; null otherwise.</summary>
    public static ICommunicator? Communicator { get; private set; }

    /// <summary>Whether this process prints and writes: the only one, or rank 0.</summary>
    public static bool IsLeader => Communicator is null || Communicator.Rank == 0;

    /// <summary>Set when every process learnt of the same failure, so that they end normally instead of aborting.</summary>
    public static bool FailedTogether { get; set; }

    public static int Run(string[] args, TextWriter output, TextWriter error, Func<string[], TextWriter, TextWriter, int> run)
    {
        MpiCommunicator communicator;
        try
        {
            communicator = MpiCommunicator.Initialize();
        }
        catch (DllNotFoundException)
        {
            error.WriteLine("emk: --distributed runs under MPI, and the launcher's library was not found: apt-get install mpich (then mpiexec.mpich -n P emk fit FILE --distributed …) or openmpi-bin (mpirun -n P …).");
            return 2;
        }

        Communicator = communicator;
        string prefix = communicator.Size > 1 ? $"rank {communicator.Rank}: " : "";
        int exit = run(args, communicator.Rank == 0 ? output : TextWriter.Null, new PrefixedWriter(error, prefix));
        if (exit == 0 || FailedTogether)
        {
            communicator.Dispose();
            return exit;
        }

        // Only this process may have failed: the others could wait for it forever. The launcher forwards what this
        // process wrote before it ends every process; give it a moment to, or the message can be lost.
        error.Flush();
        Thread.Sleep(300);
        communicator.Abort(exit);
        return exit;
    }

    /// <summary>Whether each process reads its own file (FILE names one per rank with <c>{rank}</c>).</summary>
    public static bool FilePerRank { get; private set; }

    /// <summary>FILE for this process: with <c>{rank}</c> in it, distributed, its own file.</summary>
    public static string FileOf(string path)
    {
        if (!path.Contains("{rank}", StringComparison.Ordinal))
        {
            return path;
        }

        if (Communicator is null)
        {
            throw new UsageException($"{path}: a FILE with {{rank}} names one file per process of a --distributed fit.");
        }

        FilePerRank = true;
        return path.Replace("{rank}", Communicator.Rank.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    /// <summary>
    /// One file per process: the files, in rank order, are the data set; every process reads its own, and the rows move
    /// (point to point, in P phases: in phase q every other process sends rank q the rows of its file that fall in q's shard)
    /// so that each process ends holding exactly its shard, in memory.
    /// </summary>
    public static DataSource<T> Redistribute<T>(DataSource<T> file)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        ICommunicator c = Communicator!;
        int size = c.Size, rank = c.Rank, d = file.Features;
        double[] counts = new double[size];
        c.AllGather([file.Points], counts);
        long[] starts = new long[size + 1];
        for (int r = 0; r < size; r++)
        {
            starts[r + 1] = starts[r] + (long)counts[r];
        }

        long points = starts[size];
        if (points < 1)
        {
            throw new UsageException("The files of the processes hold no rows.");
        }

        // This process's file, row-major in doubles (exact for float and double).
        double[] mine = new double[checked((int)(file.Points * d))];
        int chunk = Math.Max(1, (1 << 20) / d);
        T[] buffer = new T[(long)Math.Min(chunk, Math.Max(file.Points, 1)) * d];
        for (long at = 0; at < file.Points; at += chunk)
        {
            int count = (int)Math.Min(chunk, file.Points - at);
            file.Read(at, count, buffer, count, default, default);
            for (int i = 0; i < count; i++)
            {
                for (int f = 0; f < d; f++)
                {
                    mine[(at + i) * d + f] = double.CreateTruncating(buffer[f * count + i]);
                }
            }
        }

        (long first, long rows) = Shard(points);
        double[] shard = new double[checked((int)(rows * d))];
        for (int q = 0; q < size; q++)
        {
            (long targetFirst, long targetRows) = DistributedExpectationMaximization.Shard(points, size, q);
            for (int p = 0; p < size; p++)
            {
                // The rows of p's file in q's shard.
                long lo = Math.Max(starts[p], targetFirst), hi = Math.Min(starts[p + 1], targetFirst + targetRows);
                if (lo >= hi || (p != rank && q != rank))
                {
                    continue;
                }

                Span<double> source = p == rank ? mine.AsSpan((int)((lo - starts[p]) * d), (int)((hi - lo) * d)) : default;
                Span<double> target = q == rank ? shard.AsSpan((int)((lo - first) * d), (int)((hi - lo) * d)) : default;
                if (p == q)
                {
                    source.CopyTo(target);
                }
                else if (p == rank)
                {
                    c.Send(source, q);
                }
                else
                {
                    c.Receive(target, p);
                }
            }
        }

        T[] values = new T[shard.Length];
        for (int i = 0; i < shard.Length; i++)
        {
            values[i] = T.CreateTruncating(shard[i]);
        }

        return new HeldShard<T>(new InMemoryDataSource<T>(values, (int)rows, d), points);
    }

    /// <summary>Batch EM on this process alone, or on its shard of a distributed run.</summary>
    public static ExpectationMaximizationResult Fit<T>(IExpectationMaximizationModel<T> model, DataSource<T> data, ExpectationMaximizationOptions options)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (Communicator is null)
        {
            return ExpectationMaximization.Fit(model, data, options);
        }

        return data is HeldShard<T> shard
            ? DistributedExpectationMaximization.FitShard(model, shard.Rows, shard.Points, Communicator, options)
            : DistributedExpectationMaximization.Fit(model, data, Communicator, options);
    }

    /// <summary>Stepwise EM on this process alone, or on its shard of a distributed run.</summary>
    public static void FitStepwise<T>(StepwiseExpectationMaximization<T> driver, DataSource<T> data)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (Communicator is null)
        {
            driver.Fit(data);
        }
        else if (data is HeldShard<T> shard)
        {
            DistributedExpectationMaximization.FitStepwiseShard(driver, shard.Rows, shard.Points, Communicator);
        }
        else
        {
            DistributedExpectationMaximization.FitStepwise(driver, data, Communicator);
        }
    }

    /// <summary>This process's rows of <paramref name="points"/> (all of them when not distributed).</summary>
    public static (long First, long Rows) Shard(long points) =>
        Communicator is null || points < 1 ? (0, points) : DistributedExpectationMaximization.Shard(points, Communicator.Size, Communicator.Rank);

    /// <summary>Rows [first, first + count) of a source, as a source.</summary>
    public sealed class RowRange<T>(DataSource<T> source, long first, long count) : DataSource<T>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public override long Points => count;

        public override int Features => source.Features;

        public override bool HasSampleWeights => source.HasSampleWeights;

        public override string Name => source.Name;

        public override int? PreferredChunkPoints => source.PreferredChunkPoints;

        public override void Read(long start, int rows, Span<T> values, int stride, Span<T> sampleWeights, Span<int> labels) =>
            source.Read(first + start, rows, values, stride, sampleWeights, labels);
    }

    /// <summary>A process's shard held in memory, standing for all <see cref="Points"/> points of the fit.</summary>
    public sealed class HeldShard<T>(InMemoryDataSource<T> rows, long points) : DataSource<T>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public InMemoryDataSource<T> Rows => rows;

        public override long Points => points;

        public override int Features => rows.Features;

        public override string Name => rows.Name;

        public override void Read(long start, int count, Span<T> values, int stride, Span<T> sampleWeights, Span<int> labels) =>
            throw new InvalidOperationException("A held shard is fitted through DistributedExpectationMaximization.FitShard.");
    }

    /// <summary>Prefixes every line written with the rank.</summary>
    private sealed class PrefixedWriter(TextWriter inner, string prefix) : TextWriter
    {
        public override System.Text.Encoding Encoding => inner.Encoding;

        public override void Write(char value) => inner.Write(value);

        public override void Write(string? value) => inner.Write(value);

        public override void WriteLine(string? value) => inner.WriteLine(value is not null && value.StartsWith("emk: ", StringComparison.Ordinal) && !value.StartsWith("emk: Rank ", StringComparison.Ordinal) ? $"emk: {prefix}{value[5..]}" : value);

        public override void Flush() => inner.Flush();
    }
}
