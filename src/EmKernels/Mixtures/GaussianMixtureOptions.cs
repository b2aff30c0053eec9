using EmKernels.Engine;

namespace EmKernels.Mixtures;

/// <summary>What a fit does with NaN entries of the data.</summary>
public enum MissingValues
{
    /// <summary>A NaN is invalid data: the fit stops with an error naming its row and column (the default).</summary>
    Reject,

    /// <summary>
    /// NaN entries are missing values, marginalised: each point's E-step uses its observed entries, and the M-step the
    /// conditional expectations of the missing ones given the observed (Ghahramani and Jordan 1994).
    /// </summary>
    Marginalize,
}

/// <summary>How a Gaussian mixture fit chooses its starting parameters.</summary>
public enum GaussianMixtureInitialization
{
    /// <summary>k-means++ seeding refined by k-means; the clusters give the starting responsibilities (default).</summary>
    KMeans,

    /// <summary>Random responsibilities (uniform, normalised per point), then an M-step.</summary>
    RandomResponsibilities,

    /// <summary>Means at K distinct random data points, the data's covariance for every component, equal weights.</summary>
    RandomPoints,

    /// <summary>mclust's start: the hierarchical agglomeration's partition into K clusters (<see cref="MixtureInitialization.Hierarchical"/>); deterministic.</summary>
    Hierarchical,
}

/// <summary>
/// mclust's noise component for a Gaussian mixture (<see cref="GaussianMixtureOptions.Noise"/>; Banfield and Raftery 1993,
/// Fraley and Raftery 1998): one more component, last, of constant density 1/V over the data's region, which takes the
/// points no Gaussian component explains (outliers, clutter). Its weight is fitted; V is fixed.
/// </summary>
public sealed record NoiseComponentOptions
{
    /// <summary>
    /// N flags: the points that start in the noise component (mclust's <c>initialization = list(noise = ...)</c>); the
    /// initialization clusters the others. Null: the flags of <see cref="NoiseDetection.NearestNeighborClutter"/> with
    /// <see cref="Neighbors"/>.
    /// </summary>
    public bool[]? InitialNoise { get; init; }

    /// <summary>k of the default start's k-th nearest-neighbour distances (≥ 1; 5 by default).</summary>
    public int Neighbors { get; init; } = 5;

    /// <summary>
    /// log(1/V), the noise component's log-density in the data's units; null (the default): mclust's <c>hypvol</c> of the
    /// data, V = the smaller of the volumes of their bounding box and of their bounding box in principal coordinates
    /// (<see cref="ParsimoniousComponents{T}.LogHypervolume(DataSource{T})"/>).
    /// </summary>
    public double? LogDensity { get; init; }
}

/// <summary>
/// Options of <see cref="GaussianMixture{T}"/>. Defaults follow scikit-learn's <c>GaussianMixture</c>:
/// full covariance, 100 iterations, tolerance 1e-3 on the change of the mean log-likelihood,
/// reg_covar 1e-6, k-means initialisation, one run.
/// </summary>
public sealed record GaussianMixtureOptions
{
    /// <summary>K, the number of components (≥ 1).</summary>
    public int Components { get; init; } = 1;

    /// <summary>The covariance type.</summary>
    public CovarianceType CovarianceType { get; init; } = CovarianceType.Full;

    /// <summary>Maximum number of EM iterations (M-steps) per run (≥ 1).</summary>
    public int MaxIterations { get; init; } = 100;

    /// <summary>A run stops when the mean log-likelihood changes by less than this between iterations (≥ 0; 0 runs every iteration).</summary>
    public double Tolerance { get; init; } = 1e-3;

    /// <summary>
    /// When a run counts as converged, with <see cref="Tolerance"/>: scikit-learn's absolute change of the mean log-likelihood
    /// (the default), mclust's relative change of the total (give a tolerance such as 1e-5), or Aitken's estimate of the
    /// limit (stops slow EM only where it would end).
    /// </summary>
    public StoppingRule StoppingRule { get; init; } = StoppingRule.AbsoluteChange;

    /// <summary>Added to every covariance diagonal in every M-step (≥ 0), as scikit-learn's <c>reg_covar</c>.</summary>
    public double RegCovar { get; init; } = 1e-6;

    /// <summary>
    /// A conjugate prior for MAP estimation (mclust's <c>priorControl()</c>; <see cref="GaussianPrior.Default(CovarianceType, int, ReadOnlySpan{double}, int, int)"/> gives
    /// its data-dependent defaults); null: maximum likelihood. The fit then increases the log-posterior
    /// (<see cref="MixtureModel{T}.MeanLogPosterior"/>, checked for monotonicity); <see cref="MixtureModel{T}.MeanLogLikelihood"/>
    /// and the BIC/AIC stay the log-likelihood's. <see cref="RegCovar"/> is still added (set it to 0 for mclust's estimates).
    /// </summary>
    public GaussianPrior? Prior { get; init; }

    /// <summary>
    /// What the fit does with NaN entries: refuse them (the default), or marginalise them as missing values (every covariance
    /// type; no prior or parameterization). The fitted model then evaluates and imputes data with missing values too.
    /// </summary>
    public MissingValues MissingValues { get; init; } = MissingValues.Reject;

    /// <summary>
    /// One of mclust's covariance parameterizations Σ_k = λ_k D_k A_k D_kᵀ (<see cref="ParsimoniousModel"/>: EII … VVV, and E, V
    /// in one dimension) with mclust's M-step, or null for <see cref="CovarianceType"/>'s own. The covariances are then full
    /// D × D matrices (<see cref="CovarianceType"/> must be <see cref="CovarianceType.Full"/>, their layout), and BIC counts
    /// the parameterization's free parameters (mclust's <c>nMclustParams</c>). No prior with a parameterization.
    /// </summary>
    public ParsimoniousModel? Parameterization { get; init; }

    /// <summary>
    /// mclust's noise component, or null for none (the default). The fit then has <see cref="Components"/> Gaussian components
    /// and the noise component after them; it needs a <see cref="Parameterization"/> (null: the covariance type's own, VVV for
    /// full, EEE tied, VVI diagonal, VII spherical; in one dimension V or E), no prior and no missing values.
    /// </summary>
    public NoiseComponentOptions? Noise { get; init; }

    /// <summary>With <see cref="GaussianMixtureInitialization.Hierarchical"/>: one agglomeration shared by fits of the same data (a model selection's candidates), or null.</summary>
    public AgglomerationCache? AgglomerationCache { get; init; }

    /// <summary>How starting parameters are chosen when not given.</summary>
    public GaussianMixtureInitialization Initialization { get; init; } = GaussianMixtureInitialization.KMeans;

    /// <summary>Number of runs from different starts (≥ 1); the run with the highest final mean log-likelihood is kept.</summary>
    public int Restarts { get; init; } = 1;

    /// <summary>Seed of every random choice. The same seed, data and options give bitwise-identical results; null draws one.</summary>
    public int? Seed { get; init; }

    /// <summary>Starting weights (K, non-negative, summing to 1 within 1e-6), or null.</summary>
    public double[]? InitialWeights { get; init; }

    /// <summary>Starting means (K × D, row-major), or null.</summary>
    public double[]? InitialMeans { get; init; }

    /// <summary>Starting covariances in the layout of <see cref="GaussianMixtureModel{T}.Covariances"/>, or null. Give these or <see cref="InitialPrecisions"/>, not both.</summary>
    public double[]? InitialCovariances { get; init; }

    /// <summary>Starting precisions (inverse covariances) in the same layout as <see cref="InitialCovariances"/>, or null.</summary>
    public double[]? InitialPrecisions { get; init; }

    /// <summary>Parameters the M-step leaves at their starting values (none by default).</summary>
    public HeldParameters? Held { get; init; }

    /// <summary>Maximum number of threads; null uses every core. Results do not depend on it.</summary>
    public int? MaxDegreeOfParallelism { get; init; }

    /// <summary>Receives one report per EM iteration.</summary>
    public IProgress<FitProgress>? Progress { get; init; }

    /// <summary>Cancels the fit, which then throws <see cref="OperationCanceledException"/> promptly.</summary>
    public CancellationToken CancellationToken { get; init; }
}
