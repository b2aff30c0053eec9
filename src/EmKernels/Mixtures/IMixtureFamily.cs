using System.Numerics;

namespace EmKernels.Mixtures;

/// <summary>
/// What the EM loop needs from one family of mixture components (Gaussian of a covariance type,
/// Bernoulli, ...): log-densities of a tile, the tile's sufficient statistics, and the M-step. The
/// mixing weights are the loop's own (they are common to every family). Data reach the family as
/// feature-major tiles; everything the family keeps per fit is allocated when it is created.
/// </summary>
internal interface IMixtureFamily<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    int Components { get; }

    int Features { get; }

    /// <summary>Free parameters of the component densities (without the K − 1 weights), for BIC and AIC.</summary>
    int DensityParameters { get; }

    SufficientStatistics CreateStatistics();

    /// <summary>Once per iteration, before any tile: turns the current parameters into the kernels' form.</summary>
    void PrepareExpectation(ReadOnlySpan<double> logWeights);

    /// <summary>log ρ = log w_k + log p(x_n | θ_k) for the tile of points [start, start + points), K × B component-major.</summary>
    void LogProbabilities(ReadOnlySpan<T> tile, int start, int points, int stride, Span<T> destination);

    /// <summary>Adds the tile's weighted sufficient statistics (about the family's current shift) to <paramref name="statistics"/>.</summary>
    void Accumulate(ReadOnlySpan<T> tile, int points, int stride, ReadOnlySpan<T> responsibilities, ReadOnlySpan<T> sampleWeights, SufficientStatistics statistics);

    /// <summary>
    /// The M-step for the component densities from the statistics of all points. Sets
    /// <paramref name="degenerate"/>[k] for a component whose new parameters are unusable (no mass,
    /// or a covariance that is not positive definite even with the regularisation); such components
    /// keep their previous parameters until the loop re-seeds them. Components marked in
    /// <paramref name="held"/> keep their parameters and are never degenerate.
    /// </summary>
    void Maximize(SufficientStatistics statistics, ReadOnlySpan<bool> held, Span<bool> degenerate);

    /// <summary>Re-seeds component <paramref name="component"/> at the data point <paramref name="point"/> with the data's own spread.</summary>
    void Reseed(int component, ReadOnlySpan<double> point);
}
