using EmKernels.Engine;

namespace EmKernels.Mixtures;

/// <summary>How a discrete mixture fit chooses its starting parameters.</summary>
public enum DiscreteMixtureInitialization
{
    /// <summary>Random responsibilities (uniform, normalised per point), then an M-step (default).</summary>
    RandomResponsibilities,

    /// <summary>Each component starts halfway between the data's frequencies and one of K distinct random data points; equal weights.</summary>
    RandomPoints,
}

/// <summary>
/// Options of the discrete and count mixtures (<see cref="BernoulliMixture{T}"/>, <see cref="CategoricalMixture{T}"/>,
/// <see cref="BinomialMixture{T}"/>, <see cref="PoissonMixture{T}"/>): the same as the Gaussian mixture's where they apply.
/// </summary>
public sealed record DiscreteMixtureOptions
{
    /// <summary>K, the number of components (≥ 1).</summary>
    public int Components { get; init; } = 1;

    /// <summary>Maximum number of EM iterations per run (≥ 1).</summary>
    public int MaxIterations { get; init; } = 100;

    /// <summary>A run stops when the mean log-likelihood changes by less than this (≥ 0; 0 runs every iteration).</summary>
    public double Tolerance { get; init; } = 1e-3;

    /// <summary>
    /// When a run counts as converged, with <see cref="Tolerance"/>: scikit-learn's absolute change of the mean log-likelihood
    /// (the default), mclust's relative change of the total (give a tolerance such as 1e-5), or Aitken's estimate of the
    /// limit (stops slow EM only where it would end).
    /// </summary>
    public StoppingRule StoppingRule { get; init; } = StoppingRule.AbsoluteChange;

    /// <summary>How starting parameters are chosen when not given.</summary>
    public DiscreteMixtureInitialization Initialization { get; init; } = DiscreteMixtureInitialization.RandomResponsibilities;

    /// <summary>Number of runs from different starts (≥ 1); the best final mean log-likelihood is kept.</summary>
    public int Restarts { get; init; } = 1;

    /// <summary>Seed of every random choice; null draws one.</summary>
    public int? Seed { get; init; }

    /// <summary>
    /// Pseudo-counts s ≥ 0 for a MAP M-step (default 0, plain maximum likelihood, as the fixtures use):
    /// Bernoulli p = (Σ r x + s) / (N_k + 2s), a Beta(1 + s, 1 + s) prior; binomial p = (Σ r x + s) / (T N_k + 2s);
    /// categorical p_c = (n_c + s) / (N_k + C s), a symmetric Dirichlet(1 + s) prior; Poisson λ = (Σ r x + s) / (N_k + s),
    /// a Gamma(1 + s, s) prior. Any s &gt; 0 keeps probabilities away from 0 and 1.
    /// </summary>
    public double Smoothing { get; init; }

    /// <summary>Starting weights (K, non-negative, summing to 1 within 1e-6), or null.</summary>
    public double[]? InitialWeights { get; init; }

    /// <summary>Starting probabilities (K × D, categorical K × D × C) or rates (K × D), or null.</summary>
    public double[]? InitialParameters { get; init; }

    /// <summary>Parameters the M-step leaves at their starting values (none by default).</summary>
    public HeldParameters? Held { get; init; }

    /// <summary>Maximum number of threads; null uses every core. Results do not depend on it.</summary>
    public int? MaxDegreeOfParallelism { get; init; }

    /// <summary>Receives one report per EM iteration.</summary>
    public IProgress<FitProgress>? Progress { get; init; }

    /// <summary>Cancels the fit, which then throws <see cref="OperationCanceledException"/> promptly.</summary>
    public CancellationToken CancellationToken { get; init; }
}
