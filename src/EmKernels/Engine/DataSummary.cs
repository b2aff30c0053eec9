namespace EmKernels.Engine;

/// <summary>
/// What a driver learns about the data before fitting, in one or two passes: how many points and how much
/// weight, the weighted mean and per-feature variance, and the centre of the fit's frame.
/// </summary>
/// <param name="Points">N.</param>
/// <param name="TotalWeight">Σ w (N without sample weights).</param>
/// <param name="Mean">The weighted mean of each feature, in the user's coordinates.</param>
/// <param name="Variance">The weighted variance of each feature (divisor Σ w).</param>
/// <param name="Centre">The origin of the fit's frame in the user's coordinates: the mean when the model is translation-equivariant, else zero.</param>
public sealed record DataSummary(long Points, double TotalWeight, double[] Mean, double[] Variance, double[] Centre)
{
    /// <summary>D.</summary>
    public int Features => Mean.Length;

    /// <summary>The variances averaged over the features: the data's scale.</summary>
    public double MeanVariance => Variance.Average();
}
