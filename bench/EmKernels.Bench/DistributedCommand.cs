using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EmKernels.Distributed;
using EmKernels.Engine;
using EmKernels.Mixtures;

namespace EmKernels.Bench;

/// <summary>
/// Distributed EM under <c>mpiexec.mpich -n P</c>; rank 0 prints one JSON line.
/// <code>
/// distributed --data FILE --n N --d D --k K --init INIT.json --iterations M [--covariance full|diag|…] [--threads T]
/// exchange --k K --d D [--repeats R]
/// </code>
/// <c>distributed</c>: each process reads only its shard of the raw float64 file and runs M iterations from the given
/// start (tolerance 0): the median seconds per iteration over iterations 2..M, and the median of those seconds spent in
/// the exchange (sends, receives, broadcasts, as seen by rank 0). <c>exchange</c>: the time of one pass's exchange of
/// K-component full-covariance Gaussian statistics (K (1 + D + D²) doubles, as the engine packs them) with 16 segments
/// per process, median over R repeats.
/// </summary>
internal static class DistributedCommand
{
    public static int Run(string[] args)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 1; i + 1 < args.Length; i += 2)
        {
            options[args[i]] = args[i + 1];
        }

        int Integer(string name, int? fallback = null) => options.TryGetValue(name, out string? v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback ?? throw new ArgumentException($"{args[0]}: {name} is required");
        using MpiCommunicator mpi = MpiCommunicator.Initialize();
        var communicator = new TimedCommunicator(mpi);
        string json = args[0] == "exchange" ? Exchange(communicator, Integer("--k"), Integer("--d"), Integer("--repeats", 50)) : Fit(communicator, options, Integer);
        if (mpi.Rank == 0)
        {
            Console.WriteLine(json);
        }

        return 0;
    }

    private static string Fit(TimedCommunicator communicator, Dictionary<string, string> options, Func<string, int?, int> integer)
    {
        int n = integer("--n", null), d = integer("--d", null), k = integer("--k", null), iterations = integer("--iterations", null);
        int threads = integer("--threads", 1);
        (long first, long rows) = DistributedExpectationMaximization.Shard(n, communicator.Size, communicator.Rank);
        double[] shard = new double[rows * d];
        using (FileStream file = File.OpenRead(options["--data"]))
        {
            file.Position = first * d * sizeof(double);
            file.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(shard.AsSpan()));
        }

        using var init = JsonDocument.Parse(File.ReadAllText(options["--init"]));
        double[] Numbers(string key) => init.RootElement.GetProperty(key).EnumerateArray().Select(e => e.GetDouble()).ToArray();
        CovarianceType type = options.GetValueOrDefault("--covariance", "full") switch
        {
            "diag" => CovarianceType.Diagonal,
            "tied" => CovarianceType.Tied,
            "spherical" => CovarianceType.Spherical,
            _ => CovarianceType.Full,
        };
        var family = GaussianComponents<double>.Create(type, k, d, 1e-6);
        var mixture = new FiniteMixture<double>(family, MixtureInitialization.Current);
        mixture.SetWeights(Numbers("weights"));
        Numbers("means").CopyTo(family.Means);
        Numbers("covariances").CopyTo(family.Covariances);
        var times = new List<double>();
        var exchange = new List<double>();
        double exchanged = 0;
        var recorder = new IterationRecorder(times);
        var progress = new Progress(value =>
        {
            recorder.Report(value);
            exchange.Add(communicator.Seconds - exchanged);
            exchanged = communicator.Seconds;
        });
        ExpectationMaximizationResult result = DistributedExpectationMaximization.FitShard(
            mixture, new InMemoryDataSource<double>(shard, (int)rows, d), n, communicator,
            new ExpectationMaximizationOptions { MaxIterations = iterations, Tolerance = 0, MaxDegreeOfParallelism = threads, Progress = progress });
        double steadyExchange = exchange.Skip(1).Order().ElementAtOrDefault(Math.Max(0, exchange.Count - 1) / 2);
        return string.Create(CultureInfo.InvariantCulture,
            $"{{\"processes\": {communicator.Size}, \"threads\": {threads}, \"seconds_per_iteration\": {IterationRecorder.SteadyMedian(times):R}, \"exchange_seconds_per_iteration\": {steadyExchange:R}, \"mean_log_likelihood\": {result.Objective:R}, \"iterations\": {result.Iterations}}}");
    }

    private static string Exchange(TimedCommunicator communicator, int k, int d, int repeats)
    {
        var layout = new StatisticsLayout("bench", new StatisticsBlock("sums", k * (1 + d + d * d)));
        int segments = 16 * communicator.Size;
        var stack = new ReductionStack(layout, d) { Segments = segments, Statistics = true };
        var exchange = new TreeExchange(communicator);
        var seconds = new List<double>();
        for (int repeat = 0; repeat <= repeats; repeat++)
        {
            stack.Clear();
            (int lo, int hi) = exchange.Segments(segments);
            for (int s = lo; s < hi; s++)
            {
                ReductionNode leaf = stack.Rent();
                leaf.StartLeaf(s, [], true);
                leaf.Statistics.Sums.Fill(s);
                stack.Push(leaf);
            }

            var clock = Stopwatch.StartNew();
            exchange.Combine(stack, null);
            seconds.Add(clock.Elapsed.TotalSeconds);
        }

        double median = seconds.Skip(1).Order().ElementAt(repeats / 2);
        return string.Create(CultureInfo.InvariantCulture,
            $"{{\"processes\": {communicator.Size}, \"k\": {k}, \"d\": {d}, \"statistics_doubles\": {layout.Length}, \"exchange_seconds\": {median:R}}}");
    }

    private sealed class Progress(Action<FitProgress> report) : IProgress<FitProgress>
    {
        public void Report(FitProgress value) => report(value);
    }

    /// <summary>Counts the seconds spent in communication.</summary>
    private sealed class TimedCommunicator(ICommunicator inner) : ICommunicator
    {
        public double Seconds { get; private set; }

        public int Rank => inner.Rank;

        public int Size => inner.Size;

        public void Send(ReadOnlySpan<double> values, int destination)
        {
            long start = Stopwatch.GetTimestamp();
            inner.Send(values, destination);
            Seconds += Stopwatch.GetElapsedTime(start).TotalSeconds;
        }

        public int Receive(Span<double> buffer, int source)
        {
            long start = Stopwatch.GetTimestamp();
            int count = inner.Receive(buffer, source);
            Seconds += Stopwatch.GetElapsedTime(start).TotalSeconds;
            return count;
        }

        public void Broadcast(Span<double> values, int root)
        {
            long start = Stopwatch.GetTimestamp();
            inner.Broadcast(values, root);
            Seconds += Stopwatch.GetElapsedTime(start).TotalSeconds;
        }

        public void AllGather(ReadOnlySpan<double> mine, Span<double> all)
        {
            long start = Stopwatch.GetTimestamp();
            inner.AllGather(mine, all);
            Seconds += Stopwatch.GetElapsedTime(start).TotalSeconds;
        }

        public void Abort(int exitCode) => inner.Abort(exitCode);
    }
}
