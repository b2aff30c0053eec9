using System.Globalization;
using System.Text.Json;
using EmKernels.Engine;
using EmKernels.Mixtures;

namespace EmKernels.Bench;

/// <summary>
/// <c>iterate</c>: runs exactly M EM iterations from a given start on a raw little-endian row-major
/// float64 file and prints one JSON line {"seconds_per_iteration", "mean_log_likelihood", "iterations"},
/// the time being the median over iterations 2..M (from the fit's own per-iteration progress reports).
/// <code>
/// iterate --data FILE --n N --d D --k K --init INIT.json --iterations M
///         [--model gaussian|bernoulli] [--covariance full|tied|diag|spherical] [--reg-covar R] [--float32] [--threads T] [--phases] [--missing]
/// </code>
/// <c>--phases</c> adds "phases_ms": per worker, the median milliseconds per training pass (iterations 2..M) spent
/// loading chunks and in the model's E-step, and the pass's wall time.
/// INIT.json holds "weights" and, as in the fixtures' FORMAT.md §4, "means" and "covariances" (Gaussian) or "probs" (Bernoulli).
/// </summary>
internal static class IterateCommand
{
    public static int Run(string[] args)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        var flags = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 1; i < args.Length; i++)
        {
            if (args[i] is "--float32" or "--phases" or "--missing")
            {
                flags.Add(args[i]);
            }
            else if (args[i].StartsWith("--", StringComparison.Ordinal) && i + 1 < args.Length)
            {
                options[args[i]] = args[++i];
            }
            else
            {
                Console.Error.WriteLine($"iterate: unexpected argument '{args[i]}'");
                return 2;
            }
        }

        string Required(string name) => options.TryGetValue(name, out string? value) ? value : throw new ArgumentException($"iterate: {name} is required");
        int n = int.Parse(Required("--n"), CultureInfo.InvariantCulture);
        int d = int.Parse(Required("--d"), CultureInfo.InvariantCulture);
        int k = int.Parse(Required("--k"), CultureInfo.InvariantCulture);
        int iterations = int.Parse(Required("--iterations"), CultureInfo.InvariantCulture);
        int? threads = options.TryGetValue("--threads", out string? t) ? int.Parse(t, CultureInfo.InvariantCulture) : null;
        string model = options.GetValueOrDefault("--model", "gaussian");
        byte[] bytes = File.ReadAllBytes(Required("--data"));
        if (bytes.Length != (long)n * d * sizeof(double))
        {
            throw new ArgumentException($"iterate: {Required("--data")} has {bytes.Length} bytes, expected {(long)n * d * 8} for {n} × {d} float64");
        }

        double[] data = new double[n * d];
        Buffer.BlockCopy(bytes, 0, data, 0, bytes.Length);
        using var init = JsonDocument.Parse(File.ReadAllText(Required("--init")));
        double[] Numbers(string key) => init.RootElement.GetProperty(key).EnumerateArray().Select(e => e.GetDouble()).ToArray();

        var times = new List<double>();
        var progress = new IterationRecorder(times);
        var passes = new List<PassTimes>();
        PassTimes.Listener = flags.Contains("--phases") ? passes.Add : null;
        double meanLogLikelihood;
        if (model == "bernoulli")
        {
            var o = new DiscreteMixtureOptions
            {
                Components = k, MaxIterations = iterations, Tolerance = 0, InitialWeights = Numbers("weights"), InitialParameters = Numbers("probs"),
                MaxDegreeOfParallelism = threads, Progress = progress,
            };
            meanLogLikelihood = flags.Contains("--float32")
                ? new BernoulliMixture<float>(o).Fit(data.Select(v => (float)v).ToArray(), n, d).MeanLogLikelihood
                : new BernoulliMixture<double>(o).Fit(data, n, d).MeanLogLikelihood;
        }
        else
        {
            var o = new GaussianMixtureOptions
            {
                Components = k, MaxIterations = iterations, Tolerance = 0,
                CovarianceType = options.GetValueOrDefault("--covariance", "full") switch
                {
                    "full" => CovarianceType.Full,
                    "tied" => CovarianceType.Tied,
                    "diag" => CovarianceType.Diagonal,
                    "spherical" => CovarianceType.Spherical,
                    var other => throw new ArgumentException($"iterate: unknown covariance type '{other}'"),
                },
                RegCovar = options.TryGetValue("--reg-covar", out string? r) ? double.Parse(r, CultureInfo.InvariantCulture) : 1e-6,
                InitialWeights = Numbers("weights"), InitialMeans = Numbers("means"), InitialCovariances = Numbers("covariances"),
                MaxDegreeOfParallelism = threads, Progress = progress,
                MissingValues = flags.Contains("--missing") ? MissingValues.Marginalize : MissingValues.Reject,
            };
            meanLogLikelihood = flags.Contains("--float32")
                ? new GaussianMixture<float>(o).Fit(data.Select(v => (float)v).ToArray(), n, d).MeanLogLikelihood
                : new GaussianMixture<double>(o).Fit(data, n, d).MeanLogLikelihood;
        }

        PassTimes.Listener = null;
        double median = Median(times.Skip(1).ToArray(), times[0]);
        string phases = "";
        if (passes.Count > 0)
        {
            // Passes 2..M (each iteration's pass; the final evaluation pass has no statistics), medians per worker.
            PassTimes[] steady = passes.Where(p => p.Training).Skip(1).ToArray();
            string PerWorker(Func<PassTimes, double[]> phase) =>
                "[" + string.Join(", ", Enumerable.Range(0, phase(steady[0]).Length).Select(w => Median(steady.Select(p => phase(p)[w]).ToArray(), 0).ToString("F2", CultureInfo.InvariantCulture))) + "]";
            phases = string.Create(CultureInfo.InvariantCulture,
                $", \"phases_ms\": {{\"wall\": {Median(steady.Select(p => p.Wall).ToArray(), 0):F2}, \"load\": {PerWorker(p => p.Load)}, \"expectation\": {PerWorker(p => p.Expectation)}}}");
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"seconds_per_iteration\": {median:R}, \"mean_log_likelihood\": {meanLogLikelihood:R}, \"iterations\": {iterations}{phases}}}"));
        return 0;
    }

    private static double Median(double[] values, double fallback)
    {
        if (values.Length == 0)
        {
            return fallback;
        }

        double[] sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : 0.5 * (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]);
    }
}
