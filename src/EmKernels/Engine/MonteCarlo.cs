using System.Numerics;

namespace EmKernels.Engine;

/// <summary>
/// Monte-Carlo EM (Wei and Tanner 1990): the E-step's expectations are estimated from S draws of the latent variables
/// per point, S growing over the iterations (S_t = ⌈S₁ g^(t−1)⌉, at most <see cref="MaxSamples"/>), so that the estimates'
/// noise shrinks as the fit settles. The draws are a function of the seed, the run, the iteration and the point's index,
/// so a Monte-Carlo fit is as reproducible as an exact one.
/// </summary>
public sealed record MonteCarloSchedule
{
    /// <summary>S₁, the draws per point of the first iteration (≥ 1).</summary>
    public int InitialSamples { get; init; } = 10;

    /// <summary>g, the factor S grows by per iteration (≥ 1).</summary>
    public double Growth { get; init; } = 1.25;

    /// <summary>The most draws per point (≥ <see cref="InitialSamples"/>).</summary>
    public int MaxSamples { get; init; } = 10_000;

    /// <summary>S_t for iteration <paramref name="iteration"/> (1-based).</summary>
    /// <param name="iteration">The iteration (≥ 1).</param>
    /// <returns>The draws per point.</returns>
    public int SamplesAt(int iteration) => (int)Math.Min(MaxSamples, Math.Ceiling(InitialSamples * Math.Pow(Growth, Math.Max(iteration, 1) - 1)));

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(InitialSamples, 1, "options.MonteCarlo.InitialSamples");
        if (!(Growth >= 1) || double.IsInfinity(Growth))
        {
            throw new ArgumentOutOfRangeException("options.MonteCarlo.Growth", Growth, "The growth of the draws per iteration must be finite and at least 1.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(MaxSamples, InitialSamples, "options.MonteCarlo.MaxSamples");
    }
}

/// <summary>
/// A model whose E-step can be estimated from draws of its latent variables (<see cref="MonteCarloSchedule"/>). While
/// <see cref="SetMonteCarlo"/> has set S &gt; 0, its passes accumulate statistics from S draws per point (keyed by the
/// seed and the point's index) instead of their expectations, and its statistics carry the variance of the Monte-Carlo
/// estimate of the complete-data log-likelihood, read back by <see cref="MonteCarloVariance"/>. The objective of a pass
/// stays the exact log-likelihood where the model has it.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public interface IMonteCarloModel<T> : IExpectationMaximizationModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>
    /// S draws per point from the next pass on, keyed by <paramref name="seed"/> (the driver gives each iteration its own);
    /// 0 returns to exact expectations. Changing between 0 and S &gt; 0 changes <see cref="IExpectationMaximizationModel{T}.StatisticsLayout"/>:
    /// do it before statistics are made.
    /// </summary>
    /// <param name="samples">S (≥ 0).</param>
    /// <param name="seed">The key of this pass's draws.</param>
    void SetMonteCarlo(int samples, ulong seed);

    /// <summary>Σ_n w_n² Var_s[log p(x_n, z_s)] / S of the pass that made <paramref name="statistics"/>: the variance of its estimate of Q.</summary>
    /// <param name="statistics">Statistics of a Monte-Carlo pass.</param>
    /// <returns>The variance (0 for an exact pass).</returns>
    double MonteCarloVariance(SufficientStatistics statistics);
}
