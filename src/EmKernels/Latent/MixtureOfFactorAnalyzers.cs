using System.Numerics;
using EmKernels.Engine;
using EmKernels.Mixtures;
using EmKernels.Numerics;

namespace EmKernels.Latent;

/// <summary>Options of <see cref="MixtureOfFactorAnalyzers{T}"/>. Defaults follow <see cref="GaussianMixtureOptions"/>.</summary>
public sealed record MixtureOfFactorAnalyzersOptions
{
    /// <summary>K, the number of components (≥ 1).</summary>
    public int Components { get; init; } = 1;

    /// <summary>q, the factors of each component (0 ≤ q ≤ D).</summary>
    public int LatentDimensions { get; init; } = 1;

    /// <summary>Diagonal Ψ_k (mixture of factor analyzers, the default) or σ²_k I (mixture of probabilistic PCA).</summary>
    public FactorNoise Noise { get; init; } = FactorNoise.Diagonal;

    /// <summary>reg_covar: added to the diagonal of every component's scatter in every M-step (≥ 0).</summary>
    public double RegCovar { get; init; } = 1e-6;

    /// <summary>How the components start: k-means (the default), random responsibilities or random points; each component then starts from the PPCA solution of its data.</summary>
    public MixtureInitialization Initialization { get; init; } = MixtureInitialization.KMeans;

    /// <summary>Maximum EM iterations per run (≥ 0).</summary>
    public int MaxIterations { get; init; } = 100;

    /// <summary>A run stops when the mean log-likelihood changes by less than this (≥ 0).</summary>
    public double Tolerance { get; init; } = 1e-3;

    /// <summary>Runs from different starts (≥ 1); the best is kept.</summary>
    public int Restarts { get; init; } = 1;

    /// <summary>Seed; null draws one.</summary>
    public int? Seed { get; init; }

    /// <summary>Maximum number of threads; null uses every core. Results do not depend on it.</summary>
    public int? MaxDegreeOfParallelism { get; init; }

    /// <summary>Receives one report per EM iteration.</summary>
    public IProgress<FitProgress>? Progress { get; init; }

    /// <summary>Cancels the fit.</summary>
    public CancellationToken CancellationToken { get; init; }
}

/// <summary>
/// Fits a mixture of factor analyzers (or of probabilistic PCA) by EM with the batch driver: Gaussian clusters whose
/// covariances are W_k W_kᵀ + Ψ_k (<see cref="FactorAnalyzerComponents{T}"/>), for data whose dimension makes full
/// covariance too costly or too poorly determined.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class MixtureOfFactorAnalyzers<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Creates the estimator.</summary>
    /// <param name="options">Options.</param>
    public MixtureOfFactorAnalyzers(MixtureOfFactorAnalyzersOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
    }

    /// <summary>The options.</summary>
    public MixtureOfFactorAnalyzersOptions Options { get; }

    /// <summary>Fits row-major data (point n, feature d at <c>data[n·features + d]</c>).</summary>
    /// <param name="data">N × D finite values; only read.</param>
    /// <param name="points">N ≥ K.</param>
    /// <param name="features">D.</param>
    /// <param name="sampleWeights">Empty, or N non-negative weights (not all zero).</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">The data, weights or options are invalid; the message says which.</exception>
    public FactorMixtureModel<T> Fit(ReadOnlySpan<T> data, int points, int features, ReadOnlySpan<T> sampleWeights = default) =>
        Fit(InMemoryDataSource<T>.Own(FeatureMajorMatrix<T>.FromRowMajor(data, points, features), sampleWeights));

    /// <summary>Fits any data source (in memory or streamed).</summary>
    /// <param name="data">The points.</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">The data or options are invalid.</exception>
    public FactorMixtureModel<T> Fit(DataSource<T> data)
    {
        ArgumentNullException.ThrowIfNull(data);
        MixtureOfFactorAnalyzersOptions o = Options;
        int d = data.Features;
        ArgumentOutOfRangeException.ThrowIfLessThan(o.Components, 1, "options.Components");
        if (o.LatentDimensions < 0 || o.LatentDimensions > d)
        {
            throw new ArgumentOutOfRangeException("options.LatentDimensions", o.LatentDimensions, $"Must be in 0 … D = {d}.");
        }

        if (data.Points < o.Components)
        {
            throw new ArgumentException($"There are {data.Points} points but {o.Components} components; a mixture needs at least as many points as components.", nameof(data));
        }

        if (o.Initialization == MixtureInitialization.Current)
        {
            throw new ArgumentOutOfRangeException("options.Initialization", o.Initialization, "A fit starts from k-means, random responsibilities or random points.");
        }

        FactorAnalyzerComponents<T> family;
        try
        {
            family = new FactorAnalyzerComponents<T>(o.Components, d, o.LatentDimensions, o.Noise, o.RegCovar);
        }
        catch (ArgumentOutOfRangeException e) when (e.ParamName == "regularization")
        {
            throw new ArgumentOutOfRangeException("options.RegCovar", o.RegCovar, "reg_covar must be finite and non-negative.");
        }

        var mixture = new FiniteMixture<T>(family, o.Initialization);
        ExpectationMaximizationResult result = ExpectationMaximization.Fit(mixture, data, new ExpectationMaximizationOptions
        {
            MaxIterations = o.MaxIterations,
            Tolerance = o.Tolerance,
            Restarts = o.Restarts,
            Seed = o.Seed,
            MaxDegreeOfParallelism = o.MaxDegreeOfParallelism,
            Progress = o.Progress,
            CancellationToken = o.CancellationToken,
        });
        return new FactorMixtureModel<T>(family, mixture.Weights.ToArray(), MixtureModel<T>.FitRecord.Of(result));
    }
}

/// <summary>A fitted mixture of factor analyzers: weights, means, loadings W_k and noise Ψ_k, and every evaluation of <see cref="MixtureModel{T}"/>.</summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class FactorMixtureModel<T> : MixtureModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly double[] _means;
    private readonly double[] _loadings;
    private readonly double[] _noise;
    private readonly int _parameterCount;

    /// <summary>
    /// A model with the given parameters, for evaluating and sampling parameters stored or computed elsewhere. It has no
    /// fit history (<see cref="MixtureModel{T}.MeanLogLikelihood"/> throws).
    /// </summary>
    /// <param name="features">D ≥ 1.</param>
    /// <param name="latentDimensions">q, 0 ≤ q ≤ D.</param>
    /// <param name="noise">Diagonal or isotropic noise (isotropic: each component's D noise variances equal).</param>
    /// <param name="weights">K ≥ 1 finite non-negative weights summing to 1 (within 1e-6).</param>
    /// <param name="means">K × D finite means.</param>
    /// <param name="loadings">K × D × q finite loadings.</param>
    /// <param name="noiseVariances">K × D positive finite noise variances.</param>
    /// <returns>The model; it holds copies of the arrays.</returns>
    /// <exception cref="ArgumentException">A length or value is invalid; the message says which.</exception>
    public static FactorMixtureModel<T> FromParameters(int features, int latentDimensions, FactorNoise noise, double[] weights, double[] means, double[] loadings, double[] noiseVariances)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(means);
        ArgumentNullException.ThrowIfNull(loadings);
        ArgumentNullException.ThrowIfNull(noiseVariances);
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(latentDimensions);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(latentDimensions, features);
        int k = weights.Length, d = features, q = latentDimensions;
        if (k == 0)
        {
            throw new ArgumentException("There must be at least one weight.", nameof(weights));
        }

        double[] start = MixtureSetup.StartWeights(weights, k, nameof(weights));
        Check(means, k * d, nameof(means), positive: false);
        Check(loadings, k * d * q, nameof(loadings), positive: false);
        Check(noiseVariances, k * d, nameof(noiseVariances), positive: true);
        var family = new FactorAnalyzerComponents<T>(k, d, q, noise, 0);
        means.CopyTo(family.Means);
        loadings.CopyTo(family.Loadings);
        noiseVariances.CopyTo(family.NoiseVariances);
        return new FactorMixtureModel<T>(family, start, null);
    }

    private static void Check(double[] values, int length, string name, bool positive)
    {
        if (values.Length != length)
        {
            throw new ArgumentException($"Expected {length} values, got {values.Length}.", name);
        }

        for (int i = 0; i < values.Length; i++)
        {
            if (!double.IsFinite(values[i]) || (positive && !(values[i] > 0)))
            {
                throw new ArgumentException($"Value {i} is {values[i]}; {(positive ? "every value must be positive and finite" : "every value must be finite")}.", name);
            }
        }
    }

    internal FactorMixtureModel(FactorAnalyzerComponents<T> family, double[] weights, FitRecord? fit)
        : base(family.Components, family.Features, weights, fit)
    {
        LatentDimensions = family.LatentDimensions;
        Noise = family.Noise;
        _means = family.Means.ToArray();
        _loadings = family.Loadings.ToArray();
        _noise = family.NoiseVariances.ToArray();
        _parameterCount = family.FreeParameterCount + family.Components - 1;
    }

    /// <summary>q.</summary>
    public int LatentDimensions { get; }

    /// <summary>Diagonal or isotropic noise.</summary>
    public FactorNoise Noise { get; }

    /// <summary>Means, K × D.</summary>
    public ReadOnlySpan<double> Means => _means;

    /// <summary>Loadings, K × D × q (W_k[j, l] at <c>(k·D + j)·q + l</c>).</summary>
    public ReadOnlySpan<double> Loadings => _loadings;

    /// <summary>Noise variances, K × D.</summary>
    public ReadOnlySpan<double> NoiseVariances => _noise;

    /// <inheritdoc/>
    public override int ParameterCount => _parameterCount;

    /// <summary>C_k = W_k W_kᵀ + Ψ_k: D × D, row-major.</summary>
    /// <param name="component">0 ≤ k &lt; K.</param>
    /// <returns>A new array.</returns>
    public double[] ComponentCovariance(int component)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(component);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(component, Components);
        int d = Features, q = LatentDimensions;
        double[] c = new double[d * d];
        for (int a = 0; a < d; a++)
        {
            for (int b = 0; b < d; b++)
            {
                double sum = a == b ? _noise[component * d + a] : 0;
                for (int l = 0; l < q; l++)
                {
                    sum += _loadings[(component * d + a) * q + l] * _loadings[(component * d + b) * q + l];
                }

                c[a * d + b] = sum;
            }
        }

        return c;
    }

    /// <summary>log det C_k = Σ_j log ψ_kj + log det (I + W_kᵀ Ψ_k⁻¹ W_k), in O(D q²).</summary>
    /// <param name="component">0 ≤ k &lt; K.</param>
    /// <returns>The log-determinant.</returns>
    public double LogDeterminant(int component)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(component);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(component, Components);
        int d = Features, q = LatentDimensions;
        var algebra = new FactorAlgebra(d, q, withScatter: false);
        ReadOnlySpan<double> psi = _noise.AsSpan(component * d, d);
        algebra.PosteriorFactors(_loadings.AsSpan(component * d * q, d * q), psi);
        double sum = algebra.LogDeterminantM;
        foreach (double v in psi)
        {
            sum += Math.Log(v);
        }

        return sum;
    }

    /// <inheritdoc/>
    public override FiniteMixture<T> ToFiniteMixture()
    {
        var family = new FactorAnalyzerComponents<T>(Components, Features, LatentDimensions, Noise, 0);
        _means.CopyTo(family.Means);
        _loadings.CopyTo(family.Loadings);
        _noise.CopyTo(family.NoiseVariances);
        var mixture = new FiniteMixture<T>(family, MixtureInitialization.Current);
        mixture.SetWeights(Weights);
        return mixture;
    }

    /// <summary>x = μ_k + W_k z + √Ψ_k ε with z, ε standard normal.</summary>
    private protected override void SampleCore(Span<T> points, Span<int> labels, Random random)
    {
        int d = Features, q = LatentDimensions;
        Span<double> z = q <= 256 ? stackalloc double[q] : new double[q];
        for (int i = 0; i < labels.Length; i++)
        {
            int k = MixtureSetup.Draw(random, Weights);
            labels[i] = k;
            FactorAlgebra.SamplePoint(_means.AsSpan(k * d, d), _loadings.AsSpan(k * d * q, d * q), _noise.AsSpan(k * d, d), z, random, points.Slice(i * d, d));
        }
    }

    /// <inheritdoc/>
    private protected override double[]? EvaluationCentre() => WeightedCentre(_means, Components);
}
