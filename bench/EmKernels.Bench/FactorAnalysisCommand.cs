using System.Diagnostics;
using System.Globalization;
using EmKernels.Engine;
using EmKernels.Latent;
using EmKernels.Mixtures;

namespace EmKernels.Bench;

/// <summary>
/// <c>fa</c>: factor analysis of a raw little-endian row-major float64 file, timed from the call to the point where
/// the mean log-likelihood first reaches a target (a reference implementation's final value minus a margin), and to
/// the end of MAX iterations. Prints one JSON line: "seconds_to_target", "iterations_to_target", "seconds_total",
/// "iterations", "mean_log_likelihood", "statistics_pass_seconds" (the wall time of the one pass that accumulates
/// the scatter matrix), "setup_seconds" (data conversion and the summary passes before it), and the statistics pass's
/// two phases, each the longest over the workers: "statistics_pass_load_seconds" (reading the row-major data into
/// feature-major tiles) and "statistics_pass_scatter_seconds" (the scatter kernel on those tiles).
/// <code>
/// fa --data FILE --n N --d D --q Q [--target L] [--max-iter M] [--seed S] [--threads T] [--ppca]
/// </code>
/// </summary>
internal static class FactorAnalysisCommand
{
    public static int Run(string[] args)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        bool ppca = false;
        for (int i = 1; i < args.Length; i++)
        {
            if (args[i] == "--ppca")
            {
                ppca = true;
            }
            else if (args[i].StartsWith("--", StringComparison.Ordinal) && i + 1 < args.Length)
            {
                options[args[i]] = args[++i];
            }
            else
            {
                Console.Error.WriteLine($"fa: unexpected argument '{args[i]}'");
                return 2;
            }
        }

        string Required(string name) => options.TryGetValue(name, out string? value) ? value : throw new ArgumentException($"fa: {name} is required");
        int n = int.Parse(Required("--n"), CultureInfo.InvariantCulture);
        int d = int.Parse(Required("--d"), CultureInfo.InvariantCulture);
        int q = int.Parse(Required("--q"), CultureInfo.InvariantCulture);
        double target = options.TryGetValue("--target", out string? t) ? double.Parse(t, CultureInfo.InvariantCulture) : double.PositiveInfinity;
        int maxIterations = options.TryGetValue("--max-iter", out string? m) ? int.Parse(m, CultureInfo.InvariantCulture) : 1000;
        int? threads = options.TryGetValue("--threads", out string? th) ? int.Parse(th, CultureInfo.InvariantCulture) : null;
        int seed = options.TryGetValue("--seed", out string? s) ? int.Parse(s, CultureInfo.InvariantCulture) : 0;
        byte[] bytes = File.ReadAllBytes(Required("--data"));
        double[] data = new double[(long)n * d];
        Buffer.BlockCopy(bytes, 0, data, 0, bytes.Length);

        var reports = new List<FitProgress>();
        var passes = new List<PassTimes>();
        PassTimes.Listener = passes.Add;
        var clock = Stopwatch.StartNew();
        var model = new FactorAnalysis<double>(new FactorAnalysisOptions
        {
            LatentDimensions = q,
            Noise = ppca ? FactorNoise.Isotropic : FactorNoise.Diagonal,
            MaxIterations = maxIterations,
            Tolerance = 0,
            Seed = seed,
            MaxDegreeOfParallelism = threads,
            Progress = new Recorder(reports, clock),
        }).Fit(data, n, d);
        double total = clock.Elapsed.TotalSeconds;
        PassTimes.Listener = null;

        // A report carries the objective the iteration started from and the time it was reached.
        int reached = reports.FindIndex(r => r.MeanLogLikelihood >= target);
        double toTarget = reached >= 0 ? reports[reached].Elapsed.TotalSeconds : double.NaN;
        PassTimes statisticsPass = passes.First(p => p.Training);
        double firstReport = reports.Count > 0 ? reports[0].Elapsed.TotalSeconds : total;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"seconds_to_target\": {toTarget:R}, \"iterations_to_target\": {reached}, \"seconds_total\": {total:R}, \"iterations\": {model.Iterations}, " +
            $"\"mean_log_likelihood\": {model.MeanLogLikelihood:R}, \"statistics_pass_seconds\": {statisticsPass.Wall / 1000:R}, " +
            $"\"setup_seconds\": {firstReport - statisticsPass.Wall / 1000:R}, \"statistics_pass_load_seconds\": {statisticsPass.Load.Max() / 1000:R}, " +
            $"\"statistics_pass_scatter_seconds\": {statisticsPass.Expectation.Max() / 1000:R}}}"));
        return 0;
    }

    /// <summary>Keeps each report with the time since the call (the fit's own Elapsed starts inside it).</summary>
    private sealed class Recorder(List<FitProgress> reports, Stopwatch clock) : IProgress<FitProgress>
    {
        public void Report(FitProgress value) => reports.Add(value with { Elapsed = clock.Elapsed });
    }
}
