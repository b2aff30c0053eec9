using System.Numerics;
using BenchmarkDotNet.Attributes;
using EmKernels.Engine;
using EmKernels.Mixtures;

namespace EmKernels.Bench;

/// <summary>
/// One whole EM iteration (E-step pass with sufficient statistics, then the M-step) per covariance type, in
/// float and double, on every core, through the same loop <see cref="GaussianMixture{T}"/> runs. Shapes are
/// bench/compare.sh's: full and tied on full-200k (N = 200,000, D = 32, K = 16), diagonal and spherical on
/// diag-1M (N = 1,000,000, D = 16, K = 16). Parameters are restored before every iteration, so each
/// measures the same work; the MemoryDiagnoser column shows the steady state allocates nothing.
/// </summary>
[GenericTypeArguments(typeof(double))]
[GenericTypeArguments(typeof(float))]
public class IterationBenchmarks<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private const int Components = 16;
    private PassEngine<T>? _engine;
    private FiniteMixture<T>? _mixture;
    private GaussianComponents<T>? _family;
    private double[] _startMeans = [];
    private double[] _startCovariances = [];
    private double[] _start = [];

    [Params(CovarianceType.Full, CovarianceType.Tied, CovarianceType.Diagonal, CovarianceType.Spherical)]
    public CovarianceType Covariance { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        bool dense = Covariance is CovarianceType.Full or CovarianceType.Tied;
        int n = dense ? 200_000 : 1_000_000, d = dense ? 32 : 16, k = Components;
        var random = new Random(20261122);
        double[] centres = Enumerable.Range(0, k * d).Select(_ => 4 * random.NextDouble() - 2).ToArray();
        var data = new FeatureMajorMatrix<T>(n, d);
        for (int i = 0; i < n; i++)
        {
            int c = random.Next(k);
            for (int f = 0; f < d; f++)
            {
                double z = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                data[i, f] = T.CreateTruncating(centres[c * d + f] + z);
            }
        }

        double[] identity = new double[d * d];
        for (int f = 0; f < d; f++)
        {
            identity[f * d + f] = 1;
        }

        _family = GaussianComponents<T>.Create(Covariance, k, d, 1e-6);
        _mixture = new FiniteMixture<T>(_family, MixtureInitialization.Current);
        _startMeans = centres.Select(v => v + 0.5 * (random.NextDouble() - 0.5)).ToArray();
        _startCovariances = Covariance switch
        {
            CovarianceType.Full => Enumerable.Range(0, k).SelectMany(_ => identity).ToArray(),
            CovarianceType.Tied => identity,
            CovarianceType.Diagonal => Enumerable.Repeat(1.0, k * d).ToArray(),
            _ => Enumerable.Repeat(1.0, k).ToArray(),
        };
        _start = [.. Enumerable.Repeat(1.0 / k, k), .. _startMeans, .. _startCovariances];
        int workers = Environment.ProcessorCount;
        _engine = new PassEngine<T>(_mixture, new FramedData<T>(InMemoryDataSource<T>.Own(data, default), null, workers, PassEngine<T>.Tile), workers);
        _engine.Context.TotalWeight = n;
        Iteration(); // first touch of every buffer happens here, not in the measurements
    }

    [Benchmark]
    public double Iteration()
    {
        _mixture!.ReadParameters(_start);
        double logLikelihood = _engine!.Pass(accumulate: true, reshift: true, default);
        _mixture.Maximize(_engine.Total, _engine.Context);
        return logLikelihood;
    }

    [GlobalCleanup]
    public void Cleanup() => _engine?.Dispose();
}
