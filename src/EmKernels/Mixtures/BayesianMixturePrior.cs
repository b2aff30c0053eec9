namespace EmKernels.Mixtures;

/// <summary>The prior on the mixing weights of a variational Bayesian Gaussian mixture.</summary>
public enum WeightPrior
{
    /// <summary>
    /// A Dirichlet process, truncated at K sticks in the components' order: π_k = v_k Π_{j&lt;k} (1 − v_j) with
    /// v_k ~ Beta(1, γ); scikit-learn's default. Components beyond what the data need are left with a weight of order
    /// 1/N, so K is an upper bound rather than a choice.
    /// </summary>
    DirichletProcess,

    /// <summary>A symmetric Dirichlet distribution, π ~ Dir(γ, …, γ); a small γ empties unneeded components.</summary>
    DirichletDistribution,
}

/// <summary>
/// The prior of a variational Bayesian Gaussian mixture, with scikit-learn's <c>BayesianGaussianMixture</c>
/// parameters: a weight prior of concentration γ, and for each component a Normal–Wishart prior
/// μ_k | Λ_k ~ N(m₀, (β₀ Λ_k)⁻¹), Λ_k ~ Wishart(Ψ₀⁻¹, ν₀) on the mean and the precision.
/// </summary>
/// <param name="WeightConcentration">γ &gt; 0: the Dirichlet concentration, or the stick-breaking concentration of the Dirichlet process (scikit-learn's <c>weight_concentration_prior</c>; default 1/K).</param>
/// <param name="MeanPrecision">β₀ &gt; 0: how many points the prior mean counts as (<c>mean_precision_prior</c>; default 1).</param>
/// <param name="Mean">m₀ (D values; <c>mean_prior</c>; default the data's mean).</param>
/// <param name="DegreesOfFreedom">ν₀ &gt; D − 1 (<c>degrees_of_freedom_prior</c>; default D).</param>
/// <param name="Covariance">
/// Ψ₀, the prior covariance (the inverse of the Wishart scale matrix, not divided by ν₀; <c>covariance_prior</c>) in the
/// covariance type's layout: full and tied D × D (symmetric positive definite, row-major), diagonal D positive values,
/// spherical one positive value. Default: the data's covariance with divisor N − 1 (diagonal: the variances; spherical:
/// their mean). With diagonal or spherical covariances the precisions' Wishart factors are restricted to diagonal or
/// isotropic scale matrices, which is what scikit-learn computes.
/// </param>
public sealed record BayesianMixturePrior(double WeightConcentration, double MeanPrecision, double[] Mean, double DegreesOfFreedom, double[] Covariance)
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid value, for D features and a covariance type.</summary>
    /// <param name="type">The covariance type.</param>
    /// <param name="features">D.</param>
    /// <param name="name">The argument name to report.</param>
    /// <exception cref="ArgumentException">A value is invalid.</exception>
    internal void Validate(CovarianceType type, int features, string name)
    {
        if (!(WeightConcentration > 0) || double.IsInfinity(WeightConcentration))
        {
            throw new ArgumentException($"The weight concentration must be positive and finite; it is {WeightConcentration}.", name);
        }

        if (!(MeanPrecision > 0) || double.IsInfinity(MeanPrecision))
        {
            throw new ArgumentException($"The mean precision must be positive and finite; it is {MeanPrecision}.", name);
        }

        if (Mean is null || Mean.Length != features || !Mean.All(double.IsFinite))
        {
            throw new ArgumentException($"The prior mean must be {features} finite values.", name);
        }

        if (!(DegreesOfFreedom > features - 1) || double.IsInfinity(DegreesOfFreedom))
        {
            throw new ArgumentException($"The degrees of freedom must be finite and greater than D − 1 = {features - 1}; they are {DegreesOfFreedom}.", name);
        }

        int length = CovarianceLength(type, features);
        if (Covariance is null || Covariance.Length != length || !Covariance.All(double.IsFinite))
        {
            throw new ArgumentException($"The covariance prior of a {type} mixture must be {length} finite values.", name);
        }

        bool valid = type is CovarianceType.Full or CovarianceType.Tied
            ? Numerics.DenseMatrix.IsSymmetric(Covariance, features, 1e-12) && Numerics.DenseMatrix.TryCholesky(Covariance, features, new double[features * features])
            : Covariance.All(v => v > 0);
        if (!valid)
        {
            throw new ArgumentException(type is CovarianceType.Full or CovarianceType.Tied
                ? "The covariance prior must be symmetric positive definite."
                : "The covariance prior must be positive.", name);
        }
    }

    /// <summary>Values of Ψ₀ for a covariance type: D × D, D or 1.</summary>
    internal static int CovarianceLength(CovarianceType type, int features) => type switch
    {
        CovarianceType.Full or CovarianceType.Tied => features * features,
        CovarianceType.Diagonal => features,
        _ => 1,
    };
}
