namespace EmKernels.Mixtures;

/// <summary>
/// The conjugate prior of Gaussian components for MAP estimation (Fraley and Raftery 2007; mclust's
/// <c>priorControl()</c>): a normal prior on each mean given its covariance, μ_k | Σ_k ~ N(μ_P, Σ_k / κ_P), and an
/// inverse-Wishart prior IW(ν_P, Λ_P) on each covariance (full; tied: on the shared one) or an inverse-gamma prior
/// IG(ν_P / 2, ς_P / 2) on each variance (diagonal: every feature's; spherical: each component's), and optionally a
/// symmetric Dirichlet prior on the mixing weights (<see cref="WeightConcentration"/>; none by default, as mclust). With a
/// prior, the objective EM increases is the log-posterior (log-likelihood plus log-prior, every normalizing constant
/// included).
/// </summary>
/// <param name="Shrinkage">κ_P &gt; 0: how many points the prior mean counts as.</param>
/// <param name="Mean">μ_P (D).</param>
/// <param name="DegreesOfFreedom">ν_P: &gt; D − 1 for full and tied covariances, &gt; 0 for diagonal and spherical.</param>
/// <param name="Scale">Λ_P (D × D, symmetric positive definite, row-major) for full and tied covariances; ς_P &gt; 0 (one value) for diagonal and spherical.</param>
public sealed record GaussianPrior(double Shrinkage, double[] Mean, double DegreesOfFreedom, double[] Scale)
{
    /// <summary>
    /// α ≥ 1 of a symmetric Dirichlet prior on the mixing weights (<see cref="FiniteMixture{T}.WeightConcentration"/>); 1, the
    /// default and mclust's, is no prior on the weights.
    /// </summary>
    public double WeightConcentration { get; init; } = 1;

    /// <summary>
    /// mclust's <c>defaultPrior</c> for the data: κ_P = 0.01, μ_P = the column means, ν_P = D + 2, and Λ_P = (1/K)^{2/D}
    /// times the sample covariance (divisor N − 1), or ς_P = (1/K)^{2/D} times the mean of the sample variances.
    /// </summary>
    /// <param name="covarianceType">The covariance type the prior is for.</param>
    /// <param name="components">K.</param>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N (≥ 2).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <returns>The prior.</returns>
    /// <exception cref="ArgumentException">The shape does not fit, there are fewer than 2 points, or a value is not finite.</exception>
    public static GaussianPrior Default(CovarianceType covarianceType, int components, ReadOnlySpan<double> data, int points, int features)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(components, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(points, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        if ((long)points * features != data.Length)
        {
            throw new ArgumentException($"Expected {points} × {features} values, got {data.Length}.", nameof(data));
        }

        int d = features;
        double[] mean = new double[d];
        for (int i = 0; i < points; i++)
        {
            for (int j = 0; j < d; j++)
            {
                double v = data[i * d + j];
                if (!double.IsFinite(v))
                {
                    throw new ArgumentException($"The data contain {v} at row {i}, column {j}; every value must be finite.", nameof(data));
                }

                mean[j] += v;
            }
        }

        for (int j = 0; j < d; j++)
        {
            mean[j] /= points;
        }

        double[] covariance = new double[d * d];
        for (int i = 0; i < points; i++)
        {
            for (int a = 0; a < d; a++)
            {
                double da = data[i * d + a] - mean[a];
                for (int b = 0; b < d; b++)
                {
                    covariance[a * d + b] += da * (data[i * d + b] - mean[b]);
                }
            }
        }

        for (int i = 0; i < covariance.Length; i++)
        {
            covariance[i] /= points - 1;
        }

        return Default(covarianceType, components, mean, covariance);
    }

    /// <summary>
    /// mclust's <c>defaultPrior</c> from the data's column means and sample covariance (divisor N − 1), for data read
    /// elsewhere (a file streamed once): as <see cref="Default(CovarianceType, int, ReadOnlySpan{double}, int, int)"/>.
    /// </summary>
    /// <param name="covarianceType">The covariance type the prior is for.</param>
    /// <param name="components">K.</param>
    /// <param name="mean">The D column means.</param>
    /// <param name="sampleCovariance">The D × D sample covariance, row-major.</param>
    /// <returns>The prior.</returns>
    /// <exception cref="ArgumentException">The lengths do not fit.</exception>
    public static GaussianPrior Default(CovarianceType covarianceType, int components, double[] mean, double[] sampleCovariance)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(sampleCovariance);
        ArgumentOutOfRangeException.ThrowIfLessThan(components, 1);
        int d = mean.Length;
        if (d < 1 || sampleCovariance.Length != d * d)
        {
            throw new ArgumentException($"Expected a {d} × {d} covariance for {d} means.", nameof(sampleCovariance));
        }

        double factor = Math.Pow(1.0 / components, 2.0 / d);
        double[] scale;
        if (covarianceType is CovarianceType.Full or CovarianceType.Tied)
        {
            scale = sampleCovariance.Select(c => c * factor).ToArray();
        }
        else
        {
            double trace = 0;
            for (int j = 0; j < d; j++)
            {
                trace += sampleCovariance[j * d + j];
            }

            scale = [trace / d * factor];
        }

        return new GaussianPrior(0.01, (double[])mean.Clone(), d + 2, scale);
    }
}
