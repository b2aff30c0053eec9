using System.Numerics;
using EmKernels.Engine;
using EmKernels.Numerics;

namespace EmKernels.Mixtures;

/// <summary>
/// Options of <see cref="StudentTMixture{T}"/>. Defaults: one full-scale component, ν starting at 10 and estimated per
/// component, at most 100 iterations, stop when the mean log-likelihood changes by less than 1e-3, reg_covar 1e-6, k-means
/// initialisation (the Gaussian estimate of its partition), one run.
/// </summary>
public sealed record StudentTMixtureOptions
{
    /// <summary>K, the number of components (≥ 1).</summary>
    public int Components { get; init; } = 1;

    /// <summary>The structure of the scale matrices Σ_k.</summary>
    public CovarianceType CovarianceType { get; init; } = CovarianceType.Full;

    /// <summary>The starting ν of every component (&gt; 0, finite).</summary>
    public double DegreesOfFreedom { get; init; } = 10;

    /// <summary>How ν is estimated (per component, shared, or fixed at <see cref="DegreesOfFreedom"/>).</summary>
    public DegreesOfFreedomEstimate DegreesOfFreedomEstimate { get; init; } = DegreesOfFreedomEstimate.PerComponent;

    /// <summary>Most ECM iterations per run (≥ 1).</summary>
    public int MaxIterations { get; init; } = 100;

    /// <summary>Convergence threshold of the stopping rule (≥ 0).</summary>
    public double Tolerance { get; init; } = 1e-3;

    /// <summary>When a run has converged.</summary>
    public StoppingRule StoppingRule { get; init; } = StoppingRule.AbsoluteChange;

    /// <summary>Added to the diagonal of every scale matrix (≥ 0).</summary>
    public double RegCovar { get; init; } = 1e-6;

    /// <summary>How each run starts (k-means, random responsibilities or random points; mclust's hierarchical start too).</summary>
    public GaussianMixtureInitialization Initialization { get; init; } = GaussianMixtureInitialization.KMeans;

    /// <summary>Runs from different starts; the best final log-likelihood is kept (≥ 1).</summary>
    public int Restarts { get; init; } = 1;

    /// <summary>Seed of the starts; null draws one.</summary>
    public int? Seed { get; init; }

    /// <summary>Most threads; null uses every core (the fit does not depend on it).</summary>
    public int? MaxDegreeOfParallelism { get; init; }

    /// <summary>Receives a report per iteration.</summary>
    public IProgress<FitProgress>? Progress { get; init; }

    /// <summary>Cancels the fit.</summary>
    public CancellationToken CancellationToken { get; init; }
}

/// <summary>
/// Mixtures of multivariate Student t distributions fitted by ECM (McLachlan and Peel 2000): robust model-based
/// clustering, where a point far from every component weighs less in its component's location and scale (its latent scale
/// u = (ν + D)/(ν + Q) is small) instead of dragging them. Every covariance structure of the scale matrices; ν per
/// component, shared, or fixed. The log-likelihood is checked for monotonicity every iteration, as for EM.
/// </summary>
/// <typeparam name="T">float or double: the type data are computed in.</typeparam>
/// <param name="options">The options (null for the defaults).</param>
public sealed class StudentTMixture<T>(StudentTMixtureOptions? options = null)
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>The options.</summary>
    public StudentTMixtureOptions Options { get; } = options ?? new StudentTMixtureOptions();

    /// <summary>Fits row-major data: feature d of point n at <c>data[n·features + d]</c>.</summary>
    /// <param name="data">N × D values, row-major; only read.</param>
    /// <param name="points">N (at least K).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="sampleWeights">Empty, or N non-negative weights (not all zero).</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">The data, weights or an option are invalid; the message says which.</exception>
    public StudentTMixtureModel<T> Fit(ReadOnlySpan<T> data, int points, int features, ReadOnlySpan<T> sampleWeights = default)
    {
        StudentTMixtureOptions o = Options;
        if (!Enum.IsDefined(o.CovarianceType))
        {
            throw new ArgumentException($"Unknown covariance type {o.CovarianceType}.", "options.CovarianceType");
        }

        if (!(o.DegreesOfFreedom > 0) || !double.IsFinite(o.DegreesOfFreedom))
        {
            throw new ArgumentException($"The starting degrees of freedom are {o.DegreesOfFreedom}; they must be positive and finite.", "options.DegreesOfFreedom");
        }

        if (!Enum.IsDefined(o.DegreesOfFreedomEstimate))
        {
            throw new ArgumentException($"Unknown estimate {o.DegreesOfFreedomEstimate}.", "options.DegreesOfFreedomEstimate");
        }

        if (!(o.RegCovar >= 0) || !double.IsFinite(o.RegCovar))
        {
            throw new ArgumentException($"reg_covar is {o.RegCovar}; it must be finite and non-negative.", "options.RegCovar");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        if (o.Components < 1 || points < o.Components)
        {
            throw new ArgumentException($"There are {points} points and {o.Components} components; a mixture needs at least one component and as many points as components.", nameof(data));
        }

        var family = new StudentTComponents<T>(o.CovarianceType, o.Components, features, o.DegreesOfFreedom, o.DegreesOfFreedomEstimate, o.RegCovar);
        var mixture = new FiniteMixture<T>(family, MixtureSetup.Initialization(o.Initialization));
        var source = new InMemoryDataSource<T>(data, points, features, sampleWeights);
        ExpectationMaximizationResult result = ExpectationMaximization.Fit(mixture, source, new ExpectationMaximizationOptions
        {
            MaxIterations = o.MaxIterations,
            Tolerance = o.Tolerance,
            StoppingRule = o.StoppingRule,
            Restarts = o.Restarts,
            Seed = o.Seed,
            MaxDegreeOfParallelism = o.MaxDegreeOfParallelism,
            Progress = o.Progress,
            CancellationToken = o.CancellationToken,
        });
        return StudentTMixtureModel<T>.Fitted(mixture, result);
    }
}

/// <summary>
/// A fitted mixture of multivariate t distributions: weights, locations μ_k, scale matrices Σ_k (in the covariance type's
/// layout; component k's covariance is ν_k/(ν_k − 2) Σ_k for ν_k &gt; 2) and degrees of freedom ν_k, how the fit went, and
/// evaluation (labels, probabilities, log-densities) and sampling on new data. Immutable.
/// </summary>
/// <typeparam name="T">float or double: the type data are evaluated in.</typeparam>
public sealed class StudentTMixtureModel<T> : MixtureModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly double[] _means;
    private readonly double[] _scales;
    private readonly double[] _degreesOfFreedom;
    private double[]? _samplingFactors;

    private StudentTMixtureModel(CovarianceType type, DegreesOfFreedomEstimate estimate, int features, double[] weights, double[] means, double[] scales, double[] degreesOfFreedom, FitRecord? fit)
        : base(weights.Length, features, weights, fit)
    {
        CovarianceType = type;
        DegreesOfFreedomEstimate = estimate;
        _means = means;
        _scales = scales;
        _degreesOfFreedom = degreesOfFreedom;
    }

    internal static StudentTMixtureModel<T> Fitted(FiniteMixture<T> mixture, ExpectationMaximizationResult result)
    {
        var family = (StudentTComponents<T>)mixture.Family;
        return new StudentTMixtureModel<T>(
            family.CovarianceType, family.Estimate, mixture.Features, mixture.Weights.ToArray(), family.Means.ToArray(), family.Scales.ToArray(), family.DegreesOfFreedom.ToArray(), FitRecord.Of(result));
    }

    /// <summary>A model with the given parameters (no fit history), to evaluate or sample parameters stored elsewhere.</summary>
    /// <param name="covarianceType">The structure of the scale matrices.</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="weights">K ≥ 1 non-negative weights summing to 1 (within 1e-6).</param>
    /// <param name="means">K × D finite locations.</param>
    /// <param name="scales">The scale matrices in the covariance type's layout, positive definite.</param>
    /// <param name="degreesOfFreedom">K positive finite ν_k.</param>
    /// <returns>The model; it holds copies of the arrays.</returns>
    /// <exception cref="ArgumentException">A length or value is invalid; the message says which.</exception>
    public static StudentTMixtureModel<T> FromParameters(CovarianceType covarianceType, int features, double[] weights, double[] means, double[] scales, double[] degreesOfFreedom)
    {
        ArgumentNullException.ThrowIfNull(degreesOfFreedom);
        GaussianMixtureModel<T> gaussian = GaussianMixtureModel<T>.FromParameters(covarianceType, features, weights, means, scales);
        if (degreesOfFreedom.Length != weights.Length || degreesOfFreedom.Any(nu => !(nu > 0) || !double.IsFinite(nu)))
        {
            throw new ArgumentException($"The degrees of freedom must be {weights.Length} positive finite values.", nameof(degreesOfFreedom));
        }

        return new StudentTMixtureModel<T>(
            covarianceType, DegreesOfFreedomEstimate.PerComponent, features, gaussian.Weights.ToArray(), gaussian.Means.ToArray(), gaussian.Covariances.ToArray(), (double[])degreesOfFreedom.Clone(), null);
    }

    /// <summary>The structure of the scale matrices.</summary>
    public CovarianceType CovarianceType { get; }

    /// <summary>How ν was estimated (counts in <see cref="ParameterCount"/>).</summary>
    public DegreesOfFreedomEstimate DegreesOfFreedomEstimate { get; }

    /// <summary>K × D locations, row-major.</summary>
    public ReadOnlySpan<double> Means => _means;

    /// <summary>The scale matrices Σ_k in the covariance type's layout.</summary>
    public ReadOnlySpan<double> Scales => _scales;

    /// <summary>The degrees of freedom ν_k.</summary>
    public ReadOnlySpan<double> DegreesOfFreedom => _degreesOfFreedom;

    /// <inheritdoc/>
    public override int ParameterCount => GaussianComponents<T>.DensityParameterCount(CovarianceType, Components, Features) + Components - 1 + DegreesOfFreedomEstimate switch
    {
        DegreesOfFreedomEstimate.PerComponent => Components,
        DegreesOfFreedomEstimate.Shared => 1,
        _ => 0,
    };

    /// <inheritdoc/>
    public override FiniteMixture<T> ToFiniteMixture()
    {
        var family = new StudentTComponents<T>(CovarianceType, Components, Features, 10, DegreesOfFreedomEstimate, 0);
        _means.CopyTo(family.Means);
        _scales.CopyTo(family.Scales);
        _degreesOfFreedom.CopyTo(family.DegreesOfFreedom);
        var mixture = new FiniteMixture<T>(family, MixtureInitialization.Current);
        mixture.SetWeights(Weights);
        return mixture;
    }

    /// <summary>Evaluation runs about the weighted average of the locations (precision for data far from the origin).</summary>
    private protected override double[]? EvaluationCentre() => WeightedCentre(_means, Components);

    /// <summary>x = μ_k + L_k z / √u with z standard normal and u ~ Gamma(ν_k/2, rate ν_k/2).</summary>
    private protected override void SampleCore(Span<T> points, Span<int> labels, Random random)
    {
        int d = Features;
        double[] factors = _samplingFactors ??= Factors();
        Span<double> z = d <= 256 ? stackalloc double[d] : new double[d];
        for (int i = 0; i < labels.Length; i++)
        {
            int k = MixtureSetup.Draw(random, Weights);
            labels[i] = k;
            double nu = _degreesOfFreedom[k];
            double scale = 1 / Math.Sqrt(Gamma(random, 0.5 * nu) / (0.5 * nu));
            for (int a = 0; a < d; a++)
            {
                z[a] = StandardNormal.Next(random);
            }

            for (int a = 0; a < d; a++)
            {
                double deviation = 0;
                for (int b = 0; b <= a; b++)
                {
                    deviation += factors[(k * d * d) + (a * d) + b] * z[b];
                }

                points[(i * d) + a] = T.CreateTruncating(_means[(k * d) + a] + (scale * deviation));
            }
        }
    }

    private double[] Factors()
    {
        int d = Features;
        double[] factors = new double[Components * d * d];
        double[] full = new double[d * d];
        double[] lower = new double[d * d];
        for (int k = 0; k < Components; k++)
        {
            GaussianComponents<T>.FullCovariance(CovarianceType, d, _scales, k, full);
            DenseMatrix.TryCholesky(full, d, lower);
            lower.CopyTo(factors, k * d * d);
        }

        return factors;
    }

    /// <summary>A Gamma(shape, 1) draw (Marsaglia and Tsang 2000; shape &lt; 1 by the boost u^(1/shape)).</summary>
    private static double Gamma(Random random, double shape)
    {
        if (shape < 1)
        {
            return Gamma(random, shape + 1) * Math.Pow(1 - random.NextDouble(), 1 / shape);
        }

        double d = shape - (1.0 / 3), c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x = StandardNormal.Next(random), v = 1 + (c * x);
            if (v <= 0)
            {
                continue;
            }

            v = v * v * v;
            double u = 1 - random.NextDouble();
            if (Math.Log(u) < (0.5 * x * x) + d - (d * v) + (d * Math.Log(v)))
            {
                return d * v;
            }
        }
    }
}
