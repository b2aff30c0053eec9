namespace EmKernels.Mixtures;

/// <summary>The discrete and count component families.</summary>
public enum DiscreteDistribution
{
    /// <summary>Independent Bernoulli features (values 0 or 1); parameters p_kj = P(x_j = 1 | k).</summary>
    Bernoulli,

    /// <summary>Independent categorical features with C categories (codes 0 … C − 1); parameters p_kjc.</summary>
    Categorical,

    /// <summary>Independent binomial features with T trials (counts 0 … T); parameters p_kj.</summary>
    Binomial,

    /// <summary>Independent Poisson features (counts ≥ 0); parameters λ_kj.</summary>
    Poisson,
}
