using System.Diagnostics;
using System.Globalization;
using EmKernels.Engine;
using EmKernels.IO;
using EmKernels.Mixtures;

namespace EmKernels.Bench;

/// <summary>
/// <c>stream</c>: the iteration rate of batch EM over a data file held in memory and streamed from it (the
/// file in the page cache), alternating, and <c>online</c>: stepwise EM against batch EM to the same mean
/// log-likelihood. Both print one JSON line.
/// <code>
/// stream --data FILE --k K [--covariance diag] [--iterations M] [--rounds R] [--float32] [--threads T]
/// online --data FILE --k K [--covariance diag] [--batch-size B] [--kappa κ] [--epochs E] [--float32] [--threads T]
/// </code>
/// stream: seconds per iteration = median of iterations 2..M (from the fit's progress reports), then of the rounds;
/// both fits start from the same random responsibilities (seed 1), so each does the same work.
/// online: batch EM from the k-means start to convergence (tolerance 1e-6 on the change of the mean
/// log-likelihood, at most 300 iterations) gives the target, its final mean log-likelihood; stepwise EM from the
/// same start runs its epochs, evaluating the mean log-likelihood after each; reported are the passes over the
/// data (batch: one per iteration; stepwise: one per epoch) and the seconds each needs to come within 1e-3 of
/// the target.
/// </summary>
internal static class StreamCommand
{
    public static int RunStream(string[] args)
    {
        Arguments a = Arguments.Parse(args);
        return a.Float32 ? Stream<float>(a) : Stream<double>(a);
    }

    public static int RunOnline(string[] args)
    {
        Arguments a = Arguments.Parse(args);
        return a.Float32 ? Online<float>(a) : Online<double>(a);
    }

    private static int Stream<T>(Arguments a)
        where T : unmanaged, System.Numerics.IBinaryFloatingPointIeee754<T>
    {
        using FileDataSource<T> file = FileDataSource<T>.Open(a.Data);
        int n = (int)file.Points, d = file.Features;
        T[] values = new T[(long)n * d];
        T[] buffer = new T[65536 * d];
        for (int start = 0; start < n; start += 65536)
        {
            int count = Math.Min(65536, n - start);
            file.Read(start, count, buffer, count, default, default);
            for (int j = 0; j < d; j++)
            {
                for (int i = 0; i < count; i++)
                {
                    values[(long)(start + i) * d + j] = buffer[j * count + i];
                }
            }
        }

        var memory = new InMemoryDataSource<T>(values, n, d);
        var inMemory = new List<double>();
        var streamed = new List<double>();
        double memoryObjective = 0, streamedObjective = 0;
        for (int round = 0; round < a.Rounds; round++)
        {
            (double seconds, double objective) = TimeBatch(memory, a, d);
            inMemory.Add(seconds);
            memoryObjective = objective;
            (seconds, objective) = TimeBatch(file, a, d);
            streamed.Add(seconds);
            streamedObjective = objective;
        }

        if (Environment.GetEnvironmentVariable("EMK_PHASES") == "1")
        {
            var passes = new List<PassTimes>();
            PassTimes.Listener = passes.Add;
            TimeBatch(file, a, d);
            PassTimes.Listener = null;
            foreach (PassTimes p in passes.Where(p => p.Training).Skip(1))
            {
                Console.Error.WriteLine($"wall {p.Wall:F2} load [{string.Join(", ", p.Load.Select(v => v.ToString("F2")))}] e-step [{string.Join(", ", p.Expectation.Select(v => v.ToString("F2")))}]");
            }
        }

        double m = Median(inMemory), s = Median(streamed);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"points\": {n}, \"features\": {d}, \"in_memory_seconds_per_iteration\": {m:R}, \"streamed_seconds_per_iteration\": {s:R}, \"streamed_rate_vs_in_memory\": {m / s:R}, \"same_fit\": {(BitConverter.DoubleToInt64Bits(memoryObjective) == BitConverter.DoubleToInt64Bits(streamedObjective) ? "true" : "false")}}}"));
        return 0;
    }

    private static (double SecondsPerIteration, double Objective) TimeBatch<T>(DataSource<T> data, Arguments a, int d)
        where T : unmanaged, System.Numerics.IBinaryFloatingPointIeee754<T>
    {
        var times = new List<double>();
        TimeSpan previous = TimeSpan.Zero;
        var model = new FiniteMixture<T>(GaussianComponents<T>.Create(a.Covariance, a.Components, d), MixtureInitialization.RandomResponsibilities);
        ExpectationMaximizationResult result = ExpectationMaximization.Fit(model, data, new ExpectationMaximizationOptions
        {
            MaxIterations = a.Iterations,
            Tolerance = 0,
            Seed = 1,
            MaxDegreeOfParallelism = a.Threads,
            Progress = new Callback(p =>
            {
                times.Add((p.Elapsed - previous).TotalSeconds);
                previous = p.Elapsed;
            }),
        });
        return (Median(times.Skip(1).ToList()), result.Objective);
    }

    private static int Online<T>(Arguments a)
        where T : unmanaged, System.Numerics.IBinaryFloatingPointIeee754<T>
    {
        using FileDataSource<T> file = FileDataSource<T>.Open(a.Data);
        int d = file.Features;

        // One k-means start for both: the batch fit's initialization, kept.
        var start = new FiniteMixture<T>(GaussianComponents<T>.Create(a.Covariance, a.Components, d));
        ExpectationMaximization.Fit(start, file, new ExpectationMaximizationOptions { MaxIterations = 0, Seed = 1, MaxDegreeOfParallelism = a.Threads });
        double[] initial = new double[start.ParameterLength];
        start.WriteParameters(initial);

        var batchTrace = new List<(int Passes, double Seconds, double Objective)>();
        var clock = Stopwatch.StartNew();
        FiniteMixture<T> batch = Copy<T>(initial, a, d);
        ExpectationMaximizationResult result = ExpectationMaximization.Fit(batch, file, new ExpectationMaximizationOptions
        {
            MaxIterations = 300,
            Tolerance = 1e-6,
            MaxDegreeOfParallelism = a.Threads,
            Progress = new Callback(p => batchTrace.Add((p.Iteration, clock.Elapsed.TotalSeconds, p.MeanLogLikelihood))),
        });
        double batchSeconds = clock.Elapsed.TotalSeconds;
        double target = result.Objective;

        // Passes (E-steps over all the data) batch EM needs to come within 1e-3 of its own final value:
        // the progress of iteration i reports the objective of the parameters after i − 1 M-steps.
        (int Passes, double Seconds, double Objective) batchReached = batchTrace.FirstOrDefault(t => t.Objective >= target - 1e-3);

        FiniteMixture<T> online = Copy<T>(initial, a, d);
        var options = new StepwiseOptions { BatchSize = a.BatchSize, Kappa = a.Kappa, Epochs = 1, Seed = 1, MaxDegreeOfParallelism = a.Threads, EvaluateEpochs = false };
        var driver = new StepwiseExpectationMaximization<T>(online, options);
        var onlineTrace = new List<(int Epoch, double Seconds, double Objective)>();
        double fitting = 0;
        double[] perPoint = new double[file.Points];
        for (int epoch = 1; epoch <= a.Epochs; epoch++)
        {
            // A checkpoint round trip is bitwise the uninterrupted fit; it lets the evaluation stay out of the timing.
            driver = epoch == 1 ? driver : StepwiseExpectationMaximization<T>.Resume(online, driver.SaveCheckpoint(), options with { Epochs = epoch });
            var watch = Stopwatch.StartNew();
            driver.Fit(file);
            fitting += watch.Elapsed.TotalSeconds;
            ExpectationMaximization.Evaluate(online, file, perPoint, null, null, maxDegreeOfParallelism: a.Threads);
            onlineTrace.Add((epoch, fitting, perPoint.Average()));
        }

        (int Epoch, double Seconds, double Objective) onlineReached = onlineTrace.FirstOrDefault(t => t.Objective >= target - 1e-3);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"points\": {file.Points}, \"batch_final_mean_log_likelihood\": {target:R}, \"batch_iterations\": {result.Iterations}, \"batch_seconds\": {batchSeconds:R}, " +
            $"\"batch_passes_to_within_1e-3\": {batchReached.Passes}, \"batch_seconds_to_within_1e-3\": {batchReached.Seconds:R}, " +
            $"\"online_epochs_to_within_1e-3\": {(onlineReached.Epoch == 0 ? "null" : onlineReached.Epoch)}, \"online_seconds_to_within_1e-3\": {(onlineReached.Epoch == 0 ? "null" : onlineReached.Seconds.ToString("R", CultureInfo.InvariantCulture))}, " +
            $"\"online_epoch_objectives\": [{string.Join(", ", onlineTrace.Select(t => t.Objective.ToString("R", CultureInfo.InvariantCulture)))}], \"online_epoch_seconds\": [{string.Join(", ", onlineTrace.Select(t => t.Seconds.ToString("F3", CultureInfo.InvariantCulture)))}], " +
            $"\"batch_size\": {a.BatchSize}, \"kappa\": {a.Kappa:R}}}"));
        return 0;
    }

    private static FiniteMixture<T> Copy<T>(double[] parameters, Arguments a, int d)
        where T : unmanaged, System.Numerics.IBinaryFloatingPointIeee754<T>
    {
        var model = new FiniteMixture<T>(GaussianComponents<T>.Create(a.Covariance, a.Components, d), MixtureInitialization.Current);
        model.ReadParameters(parameters);
        return model;
    }

    private static double Median(List<double> values)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : 0.5 * (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]);
    }

    private sealed class Callback(Action<FitProgress> action) : IProgress<FitProgress>
    {
        public void Report(FitProgress value) => action(value);
    }

    private sealed record Arguments(string Data, int Components, CovarianceType Covariance, int Iterations, int Rounds, bool Float32, int? Threads, int BatchSize, double Kappa, int Epochs)
    {
        public static Arguments Parse(string[] args)
        {
            var options = new Dictionary<string, string>(StringComparer.Ordinal);
            bool float32 = false;
            for (int i = 1; i < args.Length; i++)
            {
                if (args[i] == "--float32")
                {
                    float32 = true;
                }
                else if (args[i].StartsWith("--", StringComparison.Ordinal) && i + 1 < args.Length)
                {
                    options[args[i]] = args[++i];
                }
                else
                {
                    throw new ArgumentException($"{args[0]}: unexpected argument '{args[i]}'");
                }
            }

            int Int(string name, int fallback) => options.TryGetValue(name, out string? v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
            return new Arguments(
                options.TryGetValue("--data", out string? data) ? data : throw new ArgumentException($"{args[0]}: --data is required"),
                Int("--k", 16),
                options.GetValueOrDefault("--covariance", "diag") switch
                {
                    "full" => CovarianceType.Full,
                    "tied" => CovarianceType.Tied,
                    "spherical" => CovarianceType.Spherical,
                    _ => CovarianceType.Diagonal,
                },
                Int("--iterations", 8),
                Int("--rounds", 3),
                float32,
                options.TryGetValue("--threads", out string? t) ? int.Parse(t, CultureInfo.InvariantCulture) : null,
                Int("--batch-size", 10_000),
                options.TryGetValue("--kappa", out string? kappa) ? double.Parse(kappa, CultureInfo.InvariantCulture) : 0.6,
                Int("--epochs", 5));
        }
    }
}
