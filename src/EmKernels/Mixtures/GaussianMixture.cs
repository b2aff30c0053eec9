using System.Diagnostics;
using System.Numerics;
using EmKernels.Kernels;
using EmKernels.Numerics;

namespace EmKernels.Mixtures;

/// <summary>
/// Fits Gaussian mixture models with EM: full, tied, diagonal or spherical covariance, in float or
/// double. The loop is scikit-learn's (initialise, iterate E- then M-step until the mean
/// log-likelihood changes by less than the tolerance, keep the best of several restarts, finish
/// with an E-step so labels match parameters), run on SIMD kernels over feature-major tiles.
/// </summary>
/// <typeparam name="T">float or double: the type the data are held and computed in. Sums and
/// parameters are always double.</typeparam>
/// <remarks>
/// Numerics: the data are centred once per fit; second moments are accumulated about the current
/// means, so variances are never differences of large numbers (data at 1e4 with unit spread fit in
/// float). A component that loses all its mass, or whose covariance is not positive definite even
/// with reg_covar, is re-seeded at the worst-explained point with the data's covariance and one
/// point's weight; this is reported in <see cref="MixtureModel{T}.Reseeds"/>, never NaN.
/// The log-likelihood is checked every iteration; decreases beyond rounding are reported in
/// <see cref="MixtureModel{T}.LikelihoodDecreases"/>.
/// </remarks>
public sealed class GaussianMixture<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Creates an estimator.</summary>
    /// <param name="options">The options; validated here.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    public GaussianMixture(GaussianMixtureOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double))
        {
            throw new NotSupportedException($"GaussianMixture supports float and double, not {typeof(T).Name}.");
        }

        MixtureSetup.CheckOptions(options.Components, options.MaxIterations, options.Restarts, options.Tolerance, options.MaxDegreeOfParallelism);
        if (!(options.RegCovar >= 0) || double.IsInfinity(options.RegCovar))
        {
            throw new ArgumentOutOfRangeException("options.RegCovar", options.RegCovar, "Must be finite and non-negative.");
        }

        if (!Enum.IsDefined(options.CovarianceType))
        {
            throw new ArgumentOutOfRangeException("options.CovarianceType", options.CovarianceType, "Unknown covariance type.");
        }

        if (options.InitialCovariances is not null && options.InitialPrecisions is not null)
        {
            throw new ArgumentException("Give initial covariances or initial precisions, not both.", nameof(options));
        }

        Options = options;
    }

    /// <summary>The options this estimator fits with.</summary>
    public GaussianMixtureOptions Options { get; }

    /// <summary>Fits row-major data: feature d of point n at <c>data[n·features + d]</c>.</summary>
    /// <param name="data">N × D values, row-major; only read.</param>
    /// <param name="points">N.</param>
    /// <param name="features">D.</param>
    /// <param name="sampleWeights">Empty, or N non-negative weights (not all zero); a point of weight w counts as w copies of it.</param>
    /// <param name="warmStart">A fitted model to start from (same K, D and covariance type), or null.</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">The data, weights or starting parameters are invalid; the message says where.</exception>
    public GaussianMixtureModel<T> Fit(ReadOnlySpan<T> data, int points, int features, ReadOnlySpan<T> sampleWeights = default, GaussianMixtureModel<T>? warmStart = null) =>
        Fit(FeatureMajorMatrix<T>.FromRowMajor(data, points, features), sampleWeights, warmStart);

    /// <summary>Fits a two-dimensional array indexed [point, feature].</summary>
    /// <param name="data">N × D values; only read.</param>
    /// <param name="sampleWeights">Empty, or N non-negative weights (not all zero).</param>
    /// <param name="warmStart">A fitted model to start from, or null.</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">The data, weights or starting parameters are invalid.</exception>
    public GaussianMixtureModel<T> Fit(T[,] data, ReadOnlySpan<T> sampleWeights = default, GaussianMixtureModel<T>? warmStart = null) =>
        Fit(FeatureMajorMatrix<T>.From(data), sampleWeights, warmStart);

    /// <summary>Fits a jagged array of points, each an array of D features.</summary>
    /// <param name="data">N rows of D values; only read.</param>
    /// <param name="sampleWeights">Empty, or N non-negative weights (not all zero).</param>
    /// <param name="warmStart">A fitted model to start from, or null.</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">The data, weights or starting parameters are invalid.</exception>
    public GaussianMixtureModel<T> Fit(T[][] data, ReadOnlySpan<T> sampleWeights = default, GaussianMixtureModel<T>? warmStart = null) =>
        Fit(FeatureMajorMatrix<T>.From(data), sampleWeights, warmStart);

    private GaussianMixtureModel<T> Fit(FeatureMajorMatrix<T> data, ReadOnlySpan<T> sampleWeightSpan, GaussianMixtureModel<T>? warmStart)
    {
        var clock = Stopwatch.StartNew();
        GaussianMixtureOptions o = Options;
        int n = data.Points;
        int d = data.Features;
        int k = o.Components;
        DataChecks.Finite(data, "data");
        if (n < k)
        {
            throw new ArgumentException($"There are {n} points but {k} components; a mixture needs at least as many points as components.", "data");
        }

        T[]? weights = DataChecks.SampleWeights(sampleWeightSpan, n);
        if (warmStart is not null && (warmStart.Components != k || warmStart.Features != d || warmStart.CovarianceType != o.CovarianceType))
        {
            throw new ArgumentException($"The warm-start model has K = {warmStart.Components}, D = {warmStart.Features}, {warmStart.CovarianceType}; this fit has K = {k}, D = {d}, {o.CovarianceType}.", nameof(warmStart));
        }

        // Validate the user's starting parameters before any work.
        var given = GivenParameters.From(o, k, d);

        // Centre once per fit: the kernels then see data around the origin, and parameters move back at the end.
        double[] center = DataChecks.Mean(data, weights);
        for (int f = 0; f < d; f++)
        {
            T shift = T.CreateTruncating(center[f]);
            foreach (ref T value in data.Feature(f))
            {
                value -= shift;
            }
        }

        double[] dataCovariance = DataCovariance(data, weights, o.CovarianceType is CovarianceType.Full or CovarianceType.Tied);
        var family = new GaussianFamily<T>(o.CovarianceType, k, d, o.RegCovar, dataCovariance, o.Held?.Covariances ?? false);
        using var em = new ExpectationMaximization<T>(data, weights, family, o.MaxDegreeOfParallelism ?? Environment.ProcessorCount, o.Held);
        int seed = o.Seed ?? Random.Shared.Next();
        double[] logWeights = new double[k];
        double[] bestLogWeights = new double[k];
        double[] bestMeans = new double[k * d];
        double[] bestCovariances = new double[family.Covariances.Length];
        (ExpectationMaximization<T>.RunResult best, ComponentReseed[] reseeds) = em.RunRestarts(
            logWeights, bestLogWeights, o.Restarts, seed, given.Complete || warmStart is not null, o.MaxIterations, o.Tolerance, o.Progress, clock,
            random => Initialize(data, weights, family, em, logWeights, given, warmStart, center, dataCovariance, random),
            () =>
            {
                family.Means.CopyTo(bestMeans, 0);
                family.Covariances.CopyTo(bestCovariances, 0);
            });

        for (int j = 0; j < k; j++)
        {
            for (int f = 0; f < d; f++)
            {
                bestMeans[j * d + f] += center[f];
            }
        }

        double[] fittedWeights = bestLogWeights.Select(w => Math.Exp(w)).ToArray();
        return new GaussianMixtureModel<T>(
            o.CovarianceType, k, d, fittedWeights, bestMeans, bestCovariances,
            best.Converged, best.Iterations, best.History, best.Decreases, reseeds);
    }

    private void Initialize(
        FeatureMajorMatrix<T> data, T[]? weights, GaussianFamily<T> family, ExpectationMaximization<T> em, double[] logWeights,
        GivenParameters given, GaussianMixtureModel<T>? warmStart, double[] center, double[] dataCovariance, Random random)
    {
        int n = data.Points;
        int d = data.Features;
        int k = family.Components;
        if (warmStart is not null)
        {
            SetParameters(family, logWeights, warmStart.Weights, warmStart.Means, warmStart.Covariances, center);
            return;
        }

        // The starting point every initialisation refines: equal weights, means at the data mean, the data's spread.
        Array.Fill(logWeights, -Math.Log(k));
        Array.Clear(family.Means);
        for (int j = 0; j < k; j++)
        {
            family.Reseed(j, new double[d]);
        }

        if (family.Type == CovarianceType.Tied)
        {
            family.ResetTiedCovariance();
        }

        if (!given.Complete)
        {
            switch (Options.Initialization)
            {
                case GaussianMixtureInitialization.KMeans:
                {
                    double trace = 0;
                    for (int f = 0; f < d; f++)
                    {
                        trace += dataCovariance[f * d + f];
                    }

                    int[] labels = KMeans.Cluster(data, weights, k, trace / d, random);
                    em.MaximizeFrom((start, count, r) =>
                    {
                        r.Clear();
                        for (int i = 0; i < count; i++)
                        {
                            r[labels[start + i] * count + i] = T.One;
                        }
                    }, logWeights);
                    break;
                }

                case GaussianMixtureInitialization.RandomResponsibilities:
                    em.MaximizeFrom((start, count, r) => MixtureSetup.RandomResponsibilities(random, k, count, r), logWeights);
                    break;

                default:
                {
                    int[] rows = DistinctRows(n, k, weights, random);
                    double[] point = new double[d];
                    for (int j = 0; j < k; j++)
                    {
                        for (int f = 0; f < d; f++)
                        {
                            point[f] = double.CreateTruncating(data[rows[j], f]);
                        }

                        family.Reseed(j, point);
                    }

                    break;
                }
            }
        }

        // User-given parameters override what the initialisation produced.
        if (given.Weights is not null)
        {
            for (int j = 0; j < k; j++)
            {
                logWeights[j] = Math.Log(given.Weights[j]);
            }
        }

        if (given.Means is not null)
        {
            for (int j = 0; j < k; j++)
            {
                for (int f = 0; f < d; f++)
                {
                    family.Means[j * d + f] = given.Means[j * d + f] - center[f];
                }
            }
        }

        given.Covariances?.CopyTo(family.Covariances, 0);
    }

    private static void SetParameters(GaussianFamily<T> family, double[] logWeights, ReadOnlySpan<double> weights, ReadOnlySpan<double> means, ReadOnlySpan<double> covariances, double[] center)
    {
        int d = family.Features;
        for (int j = 0; j < family.Components; j++)
        {
            logWeights[j] = Math.Log(weights[j]);
            for (int f = 0; f < d; f++)
            {
                family.Means[j * d + f] = means[j * d + f] - center[f];
            }
        }

        covariances.CopyTo(family.Covariances);
    }

    /// <summary>K distinct rows with positive weight, drawn uniformly.</summary>
    private static int[] DistinctRows(int n, int k, T[]? weights, Random random)
    {
        int[] candidates = Enumerable.Range(0, n).Where(i => weights is null || weights[i] > T.Zero).ToArray();
        random.Shuffle(candidates);
        return candidates.Length >= k ? candidates[..k] : [.. candidates, .. Enumerable.Range(0, k - candidates.Length).Select(i => i % n)];
    }

    /// <summary>The weighted covariance of the centred data (D × D; only the diagonal when <paramref name="full"/> is false), via the kernels.</summary>
    private static double[] DataCovariance(FeatureMajorMatrix<T> data, T[]? weights, bool full)
    {
        int n = data.Points;
        int d = data.Features;
        const int Tile = ExpectationMaximization<T>.Tile;
        T[] ones = new T[Tile];
        ones.AsSpan().Fill(T.One);
        T[] zero = new T[d];
        double[] mass = new double[1];
        double[] first = new double[d];
        double[] second = new double[full ? d * d : d];
        for (int start = 0; start < n; start += Tile)
        {
            int count = Math.Min(Tile, n - start);
            ReadOnlySpan<T> w = weights is null ? default : weights.AsSpan(start, count);
            if (full)
            {
                GaussianKernels.FullSufficientStatistics<T>(data.Tile(start, count), d, count, data.Stride, ones.AsSpan(0, count), 1, w, zero, mass, first, second);
            }
            else
            {
                GaussianKernels.DiagonalSufficientStatistics<T>(data.Tile(start, count), d, count, data.Stride, ones.AsSpan(0, count), 1, w, zero, mass, first, second);
            }
        }

        double[] covariance = new double[d * d];
        for (int a = 0; a < d; a++)
        {
            double ma = first[a] / mass[0];
            if (full)
            {
                for (int b = a; b < d; b++)
                {
                    covariance[a * d + b] = second[a * d + b] / mass[0] - ma * (first[b] / mass[0]);
                }
            }
            else
            {
                covariance[a * d + a] = second[a] / mass[0] - ma * ma;
            }
        }

        DenseMatrix.MirrorUpperToLower(covariance, d);
        return covariance;
    }
}
