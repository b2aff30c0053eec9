namespace EmKernels.Mixtures;

/// <summary>The shape of the Gaussian components' covariance matrices.</summary>
public enum CovarianceType
{
    /// <summary>Each component has its own full covariance matrix (D·(D+1)/2 parameters each).</summary>
    Full,

    /// <summary>All components share one full covariance matrix.</summary>
    Tied,

    /// <summary>Each component has its own diagonal covariance matrix (D variances).</summary>
    Diagonal,

    /// <summary>Each component has a single variance, σ²·I.</summary>
    Spherical,
}
