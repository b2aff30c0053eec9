using System.Diagnostics;
using System.Globalization;
using EmKernels.Latent;
using EmKernels.Mixtures;

namespace EmKernels.Bench;

/// <summary>
/// <c>mfa</c>: a mixture of factor analyzers against our own full-covariance mixture on the same data: N training and
/// N/4 held-out points drawn from K clusters x = μ_k + A_k z + noise (μ_k ~ N(0, 100 I), A_k: D × q of N(0, 1), z ~ N(0, I_q), noise sd 0.5 per
/// feature, seed fixed), both fitted for M iterations from k-means (seed 0, 2 threads; with R restarts the best run is kept). Prints one JSON line per model:
/// seconds per iteration (median over iterations 2..M), training and held-out mean log-likelihood.
/// <code>
/// mfa --n N --d D --k K --q Q [--iterations M] [--restarts R] [--threads T]
/// </code>
/// </summary>
internal static class FactorMixtureCommand
{
    public static int Run(string[] args)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 1; i + 1 < args.Length; i += 2)
        {
            options[args[i]] = args[i + 1];
        }

        int Get(string name, int fallback) => options.TryGetValue(name, out string? v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        int n = Get("--n", 200_000), d = Get("--d", 128), k = Get("--k", 16), q = Get("--q", 8), iterations = Get("--iterations", 10), threads = Get("--threads", 2), restarts = Get("--restarts", 1);
        int held = n / 4;
        var random = new Random(20261130);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        double[][] bases = Enumerable.Range(0, k).Select(_ => Enumerable.Range(0, d * q).Select(_ => Normal()).ToArray()).ToArray();
        double[][] centres = Enumerable.Range(0, k).Select(_ => Enumerable.Range(0, d).Select(_ => 10 * Normal()).ToArray()).ToArray();
        double[] Draw(int count)
        {
            double[] x = new double[(long)count * d];
            double[] z = new double[q];
            for (int p = 0; p < count; p++)
            {
                int c = random.Next(k);
                for (int l = 0; l < q; l++)
                {
                    z[l] = Normal();
                }

                for (int j = 0; j < d; j++)
                {
                    double v = centres[c][j] + 0.5 * Normal();
                    for (int l = 0; l < q; l++)
                    {
                        v += bases[c][j * q + l] * z[l];
                    }

                    x[(long)p * d + j] = v;
                }
            }

            return x;
        }

        double[] train = Draw(n), test = Draw(held);
        var times = new List<double>();
        var recorder = new IterationRecorder(times);
        var factor = new MixtureOfFactorAnalyzers<double>(new MixtureOfFactorAnalyzersOptions
        {
            Components = k, LatentDimensions = q, MaxIterations = iterations, Tolerance = 0, Seed = 0, Restarts = restarts, MaxDegreeOfParallelism = threads, Progress = recorder,
        }).Fit(train, n, d);
        Report("mixture-of-factor-analyzers", times, factor.MeanLogLikelihood, factor.Score(test, held));
        times.Clear();
        recorder.Reset();
        var full = new GaussianMixture<double>(new GaussianMixtureOptions
        {
            Components = k, CovarianceType = CovarianceType.Full, MaxIterations = iterations, Tolerance = 0, Seed = 0, Restarts = restarts, MaxDegreeOfParallelism = threads, Progress = recorder,
        }).Fit(train, n, d);
        Report("full-covariance", times, full.MeanLogLikelihood, full.Score(test, held));
        return 0;
    }

    private static void Report(string name, List<double> times, double training, double heldOut)
    {
        double median = IterationRecorder.SteadyMedian(times);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"model\": \"{name}\", \"seconds_per_iteration\": {median:R}, \"training_mean_log_likelihood\": {training:R}, \"held_out_mean_log_likelihood\": {heldOut:R}}}"));
    }
}
