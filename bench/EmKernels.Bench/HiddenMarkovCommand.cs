using System.Globalization;
using System.Numerics;
using System.Text.Json;
using EmKernels.Engine;
using EmKernels.Mixtures;
using EmKernels.Sequences;

namespace EmKernels.Bench;

/// <summary>
/// <c>hmm</c>: Baum–Welch for a diagonal-Gaussian hidden Markov model from a given start, for side-by-side timing
/// (bench/compare-hmm.sh): DIR/x.f64 holds N × D little-endian row-major float64 observations, DIR/init.json the
/// sequence lengths, start probabilities, transition matrix, means and variances. Runs M iterations and prints one JSON
/// line: "seconds_per_iteration" (median of iterations 2..M), "mean_log_likelihood" (after the M iterations) and
/// "iterations". --log-domain runs every sequence through the log-domain recursion (the fits' fallback) instead of the scaled one.
/// <code>
/// hmm --data DIR [--iterations M] [--threads T] [--float32] [--log-domain]
/// </code>
/// </summary>
internal static class HiddenMarkovCommand
{
    public static int Run(string[] args)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        bool single = false, logDomain = false;
        for (int i = 1; i < args.Length; i++)
        {
            if (args[i] == "--float32")
            {
                single = true;
            }
            else if (args[i] == "--log-domain")
            {
                logDomain = true;
            }
            else if (i + 1 < args.Length)
            {
                options[args[i]] = args[++i];
            }
        }

        string folder = options["--data"];
        int iterations = options.TryGetValue("--iterations", out string? m) ? int.Parse(m, CultureInfo.InvariantCulture) : 5;
        int threads = options.TryGetValue("--threads", out string? t) ? int.Parse(t, CultureInfo.InvariantCulture) : Environment.ProcessorCount;
        using JsonDocument init = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "init.json")));
        double[] Numbers(string key) => init.RootElement.GetProperty(key).EnumerateArray().Select(e => e.GetDouble()).ToArray();
        int[] lengths = init.RootElement.GetProperty("lengths").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        double[] start = Numbers("startprob"), transitions = Numbers("transmat"), means = Numbers("means"), variances = Numbers("variances");
        int k = start.Length, d = means.Length / k, n = lengths.Sum();
        byte[] bytes = File.ReadAllBytes(Path.Combine(folder, "x.f64"));
        double[] x = new double[(long)n * d];
        Buffer.BlockCopy(bytes, 0, x, 0, bytes.Length);
        (double seconds, double logLikelihood) = single
            ? Fit(x.Select(v => (float)v).ToArray(), n, d, k, lengths, start, transitions, means, variances, iterations, threads, logDomain)
            : Fit(x, n, d, k, lengths, start, transitions, means, variances, iterations, threads, logDomain);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"seconds_per_iteration\": {seconds:R}, \"mean_log_likelihood\": {logLikelihood:R}, \"iterations\": {iterations}}}"));
        return 0;
    }

    private static (double Seconds, double LogLikelihood) Fit<T>(
        T[] x, int n, int d, int k, int[] lengths, double[] start, double[] transitions, double[] means, double[] variances, int iterations, int threads, bool logDomain)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var family = GaussianComponents<T>.Create(CovarianceType.Diagonal, k, d, 0);
        means.CopyTo(family.Means);
        variances.CopyTo(family.Covariances);
        var model = new HiddenMarkovModel<T>(family, HiddenMarkovInitialization.Current) { LogDomainOnly = logDomain };
        start.CopyTo(model.StartProbabilities);
        transitions.CopyTo(model.Transitions);
        var times = new List<double>();
        var progress = new Times(times);
        ExpectationMaximizationResult result = ExpectationMaximization.Fit(model, new SequenceDataSource<T>(new InMemoryDataSource<T>(x, n, d), lengths), new ExpectationMaximizationOptions
        {
            MaxIterations = iterations,
            Tolerance = 0,
            MaxDegreeOfParallelism = threads,
            Progress = progress,
        });
        double[] steps = times.Zip(times.Skip(1), (a, b) => b - a).Skip(1).Order().ToArray(); // iteration i's time: between reports i−1 and i
        double seconds = steps.Length > 0 ? steps[steps.Length / 2] : times[0];
        return (seconds, result.ObjectiveHistory[^1]);
    }

    private sealed class Times(List<double> times) : IProgress<FitProgress>
    {
        public void Report(FitProgress value) => times.Add(value.Elapsed.TotalSeconds);
    }
}
