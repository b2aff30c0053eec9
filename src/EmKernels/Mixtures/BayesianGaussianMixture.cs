using System.Numerics;
using EmKernels.Engine;

namespace EmKernels.Mixtures;

/// <summary>
/// Options of <see cref="BayesianGaussianMixture{T}"/>. Defaults follow scikit-learn's <c>BayesianGaussianMixture</c>:
/// full covariance, a Dirichlet-process weight prior, the data-dependent prior defaults (see
/// <see cref="BayesianMixturePrior"/>), 100 iterations, reg_covar 1e-6, k-means initialization, one run. The stop is
/// on the change of the ELBO per unit weight (scikit-learn's is on its bound summed over the data).
/// </summary>
public sealed record BayesianGaussianMixtureOptions
{
    /// <summary>K, the number of components (≥ 1): with a Dirichlet process, an upper bound on how many the data use.</summary>
    public int Components { get; init; } = 1;

    /// <summary>The covariance type.</summary>
    public CovarianceType CovarianceType { get; init; } = CovarianceType.Full;

    /// <summary>The prior on the weights.</summary>
    public WeightPrior WeightPrior { get; init; } = WeightPrior.DirichletProcess;

    /// <summary>γ (&gt; 0), or null for 1/K.</summary>
    public double? WeightConcentration { get; init; }

    /// <summary>β₀ (&gt; 0), or null for 1.</summary>
    public double? MeanPrecision { get; init; }

    /// <summary>m₀ (D values), or null for the data's mean.</summary>
    public double[]? MeanPrior { get; init; }

    /// <summary>ν₀ (&gt; D − 1), or null for D.</summary>
    public double? DegreesOfFreedom { get; init; }

    /// <summary>Ψ₀ in the covariance type's layout (see <see cref="BayesianMixturePrior.Covariance"/>), or null for the data's covariance.</summary>
    public double[]? CovariancePrior { get; init; }

    /// <summary>Maximum number of iterations per run (≥ 1).</summary>
    public int MaxIterations { get; init; } = 100;

    /// <summary>A run stops when the ELBO per unit weight changes by less than this between iterations (≥ 0; 0 runs every iteration).</summary>
    public double Tolerance { get; init; } = 1e-3;

    /// <summary>reg_covar (≥ 0): added to each component's maximum-likelihood covariance before the Wishart update, as scikit-learn does.</summary>
    public double RegCovar { get; init; } = 1e-6;

    /// <summary>How starting responsibilities are chosen when not given: k-means labels, random responsibilities, or K random points.</summary>
    public GaussianMixtureInitialization Initialization { get; init; } = GaussianMixtureInitialization.KMeans;

    /// <summary>Starting responsibilities (N × K, row-major, used as given: the first M-step is of them), or null.</summary>
    public double[]? InitialResponsibilities { get; init; }

    /// <summary>Number of runs from different starts (≥ 1); the run with the highest final ELBO is kept.</summary>
    public int Restarts { get; init; } = 1;

    /// <summary>Seed of every random choice; the same seed, data and options give bitwise-identical results. Null draws one.</summary>
    public int? Seed { get; init; }

    /// <summary>
    /// A component counts as effective when its expected number of points N_k = Σ w r_k is at least this (≥ 0; default
    /// 1, one point's worth): components a Dirichlet process leaves empty keep N_k near 0 (their expected weight stays of
    /// order 1/N).
    /// </summary>
    public double EffectiveCountThreshold { get; init; } = 1;

    /// <summary>Whether the returned model keeps only the effective components (see <see cref="BayesianGaussianMixtureModel{T}.Pruned"/>).</summary>
    public bool PruneIneffectiveComponents { get; init; }

    /// <summary>Maximum number of threads; null uses every core. Results do not depend on it.</summary>
    public int? MaxDegreeOfParallelism { get; init; }

    /// <summary>Receives one report per iteration (the objective is the ELBO per unit weight).</summary>
    public IProgress<FitProgress>? Progress { get; init; }

    /// <summary>Cancels the fit, which then throws <see cref="OperationCanceledException"/> promptly.</summary>
    public CancellationToken CancellationToken { get; init; }
}

/// <summary>
/// Fits Gaussian mixtures by variational Bayes (<see cref="VariationalGaussianMixture{T}"/>): scikit-learn's
/// <c>BayesianGaussianMixture</c> on the engine's fused kernels, in float or double, with the full ELBO checked every
/// iteration.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class BayesianGaussianMixture<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Creates an estimator.</summary>
    /// <param name="options">The options; validated here (the prior's shape once D is known).</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    public BayesianGaussianMixture(BayesianGaussianMixtureOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double))
        {
            throw new NotSupportedException($"BayesianGaussianMixture supports float and double, not {typeof(T).Name}.");
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

        if (!Enum.IsDefined(options.WeightPrior))
        {
            throw new ArgumentOutOfRangeException("options.WeightPrior", options.WeightPrior, "Unknown weight prior.");
        }

        if (!Enum.IsDefined(options.Initialization))
        {
            throw new ArgumentOutOfRangeException("options.Initialization", options.Initialization, "Unknown initialization.");
        }

        if (!(options.EffectiveCountThreshold >= 0) || double.IsInfinity(options.EffectiveCountThreshold))
        {
            throw new ArgumentOutOfRangeException("options.EffectiveCountThreshold", options.EffectiveCountThreshold, "Must be finite and non-negative.");
        }

        CheckPositive(options.WeightConcentration, "options.WeightConcentration");
        CheckPositive(options.MeanPrecision, "options.MeanPrecision");
        Options = options;
    }

    /// <summary>The options this estimator fits with.</summary>
    public BayesianGaussianMixtureOptions Options { get; }

    /// <summary>Fits row-major data: feature d of point n at <c>data[n·features + d]</c>.</summary>
    /// <param name="data">N × D values, row-major; only read.</param>
    /// <param name="points">N.</param>
    /// <param name="features">D.</param>
    /// <param name="sampleWeights">Empty, or N non-negative weights (not all zero); a point of weight w counts as w copies of it.</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">The data, weights, prior or initial responsibilities are invalid; the message says where.</exception>
    public BayesianGaussianMixtureModel<T> Fit(ReadOnlySpan<T> data, int points, int features, ReadOnlySpan<T> sampleWeights = default)
    {
        if (points < Options.Components)
        {
            throw new ArgumentException($"There are {points} points but {Options.Components} components; a mixture needs at least as many points as components.", nameof(data));
        }

        return Fit(InMemoryDataSource<T>.Own(FeatureMajorMatrix<T>.FromRowMajor(data, points, features), sampleWeights));
    }

    /// <summary>Fits a two-dimensional array indexed [point, feature].</summary>
    /// <param name="data">N × D values; only read.</param>
    /// <param name="sampleWeights">Empty, or N non-negative weights (not all zero).</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">The data, weights, prior or initial responsibilities are invalid.</exception>
    public BayesianGaussianMixtureModel<T> Fit(T[,] data, ReadOnlySpan<T> sampleWeights = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.GetLength(0) < Options.Components)
        {
            throw new ArgumentException($"There are {data.GetLength(0)} points but {Options.Components} components; a mixture needs at least as many points as components.", nameof(data));
        }

        return Fit(InMemoryDataSource<T>.Own(FeatureMajorMatrix<T>.From(data), sampleWeights));
    }

    /// <summary>Fits data from any source (in memory, or streamed from a file out of core).</summary>
    /// <param name="data">The points.</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">The data, prior or initial responsibilities are invalid.</exception>
    public BayesianGaussianMixtureModel<T> Fit(DataSource<T> data)
    {
        ArgumentNullException.ThrowIfNull(data);
        BayesianGaussianMixtureOptions o = Options;
        int d = data.Features;
        if (data.Points < o.Components)
        {
            throw new ArgumentException($"There are {data.Points} points but {o.Components} components; a mixture needs at least as many points as components.", nameof(data));
        }

        var model = new VariationalGaussianMixture<T>(o.CovarianceType, o.Components, d, o.WeightPrior, null, o.RegCovar, MixtureSetup.Initialization(o.Initialization));
        CheckPriorShape(o, d);
        if (o.InitialResponsibilities is not null)
        {
            if (o.InitialResponsibilities.LongLength != data.Points * o.Components)
            {
                throw new ArgumentException($"The initial responsibilities must be N × K = {data.Points} × {o.Components} values; got {o.InitialResponsibilities.Length}.", "options.InitialResponsibilities");
            }

            try
            {
                model.InitialResponsibilities = o.InitialResponsibilities;
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException(e.Message, "options.InitialResponsibilities", e);
            }
        }

        model.PriorChoices = o;
        ExpectationMaximizationResult result = ExpectationMaximization.Fit(model, data, new ExpectationMaximizationOptions
        {
            MaxIterations = o.MaxIterations,
            Tolerance = o.Tolerance,
            Restarts = o.Restarts,
            Seed = o.Seed,
            MaxDegreeOfParallelism = o.MaxDegreeOfParallelism,
            Progress = o.Progress,
            CancellationToken = o.CancellationToken,
        });
        var fitted = BayesianGaussianMixtureModel<T>.Fitted(model, result, o.EffectiveCountThreshold);
        return o.PruneIneffectiveComponents ? fitted.Pruned() : fitted;
    }

    private static void CheckPositive(double? value, string name)
    {
        if (value is { } v && (!(v > 0) || double.IsInfinity(v)))
        {
            throw new ArgumentOutOfRangeException(name, v, "Must be positive and finite.");
        }
    }

    private static void CheckPriorShape(BayesianGaussianMixtureOptions o, int d)
    {
        if (o.MeanPrior is { } mean && (mean.Length != d || !mean.All(double.IsFinite)))
        {
            throw new ArgumentException($"The prior mean must be D = {d} finite values.", "options.MeanPrior");
        }

        if (o.DegreesOfFreedom is { } nu && (!(nu > d - 1) || double.IsInfinity(nu)))
        {
            throw new ArgumentOutOfRangeException("options.DegreesOfFreedom", nu, $"Must be finite and greater than D − 1 = {d - 1}.");
        }

        if (o.CovariancePrior is { } covariance)
        {
            try
            {
                new BayesianMixturePrior(1, 1, new double[d], d, covariance).Validate(o.CovarianceType, d, "options.CovariancePrior");
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException(e.Message, "options.CovariancePrior", e);
            }
        }
    }
}
