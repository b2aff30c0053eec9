using System.Globalization;
using EmKernels.Mixtures;

namespace EmKernels.Bench;

/// <summary>
/// <c>vb</c>: exactly M iterations of the variational Bayesian Gaussian mixture from given responsibilities (scikit-learn's
/// <c>_initialize(X, resp)</c>) on a raw little-endian row-major float64 file; prints one JSON line with the seconds per
/// iteration (the median over iterations 2..M, from the fit's own per-iteration progress reports), scikit-learn's lower
/// bound after the last iteration and our ELBO per point.
/// <code>
/// vb --data FILE --n N --d D --k K --resp RESP.f64 --iterations M [--covariance full|tied|diag|spherical]
///    [--weight-prior process|distribution] [--float32] [--threads T]
/// </code>
/// RESP.f64 holds N × K float64 responsibilities, row-major.
/// </summary>
internal static class VariationalCommand
{
    public static int Run(string[] args)
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
                Console.Error.WriteLine($"vb: unexpected argument '{args[i]}'");
                return 2;
            }
        }

        string Required(string name) => options.TryGetValue(name, out string? value) ? value : throw new ArgumentException($"vb: {name} is required");
        int n = int.Parse(Required("--n"), CultureInfo.InvariantCulture);
        int d = int.Parse(Required("--d"), CultureInfo.InvariantCulture);
        int k = int.Parse(Required("--k"), CultureInfo.InvariantCulture);
        int iterations = int.Parse(Required("--iterations"), CultureInfo.InvariantCulture);
        int? threads = options.TryGetValue("--threads", out string? t) ? int.Parse(t, CultureInfo.InvariantCulture) : null;
        double[] data = Read(Required("--data"), (long)n * d);
        double[] responsibilities = Read(Required("--resp"), (long)n * k);
        var bayesian = new BayesianGaussianMixtureOptions
        {
            Components = k,
            CovarianceType = options.GetValueOrDefault("--covariance", "full") switch
            {
                "tied" => CovarianceType.Tied,
                "diag" => CovarianceType.Diagonal,
                "spherical" => CovarianceType.Spherical,
                _ => CovarianceType.Full,
            },
            WeightPrior = options.GetValueOrDefault("--weight-prior", "process") == "distribution" ? WeightPrior.DirichletDistribution : WeightPrior.DirichletProcess,
            InitialResponsibilities = responsibilities,
            MaxIterations = iterations,
            Tolerance = 0,
            MaxDegreeOfParallelism = threads,
        };
        var times = new List<double>();
        var recorder = new IterationRecorder(times);
        (double bound, double elbo) = float32
            ? Fit(new BayesianGaussianMixture<float>(bayesian with { Progress = recorder }), data.Select(v => (float)v).ToArray(), n, d)
            : Fit(new BayesianGaussianMixture<double>(bayesian with { Progress = recorder }), data, n, d);
        double median = IterationRecorder.SteadyMedian(times);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"seconds_per_iteration\": {median:R}, \"lower_bound\": {bound:R}, \"elbo_per_point\": {elbo:R}, \"iterations\": {iterations}}}"));
        return 0;
    }

    private static (double Bound, double Elbo) Fit<T>(BayesianGaussianMixture<T> estimator, T[] data, int n, int d)
        where T : unmanaged, System.Numerics.IBinaryFloatingPointIeee754<T>
    {
        BayesianGaussianMixtureModel<T> fit = estimator.Fit(data, n, d);
        return (fit.ScikitLearnLowerBound, fit.ElboHistory[^1]);
    }

    private static double[] Read(string path, long count)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length != count * sizeof(double))
        {
            throw new ArgumentException($"vb: {path} has {bytes.Length} bytes, expected {count * 8}");
        }

        double[] values = new double[count];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        return values;
    }
}
