using EmKernels.Numerics;

namespace EmKernels.Mixtures;

/// <summary>User-given starting parameters, validated; precisions already turned into covariances.</summary>
internal sealed record GivenParameters(double[]? Weights, double[]? Means, double[]? Covariances)
{
    public bool Complete => Weights is not null && Means is not null && Covariances is not null;

    public static GivenParameters From(GaussianMixtureOptions options, int components, int features) =>
        Check(
            options.CovarianceType, components, features, options.InitialWeights, options.InitialMeans, options.InitialCovariances, options.InitialPrecisions,
            "options.InitialWeights", "options.InitialMeans", "options.InitialCovariances", "options.InitialPrecisions");

    /// <summary>Checks whichever parameters are given (naming each by the given argument name) and returns validated copies.</summary>
    public static GivenParameters Check(
        CovarianceType type, int components, int features, double[]? weights, double[]? means, double[]? covariances, double[]? precisions,
        string weightsName, string meansName, string covariancesName, string precisionsName)
    {
        weights = weights is null ? null : MixtureSetup.StartWeights(weights, components, weightsName);
        if (means is not null)
        {
            CheckLength(means, components * features, meansName, "components × features");
            for (int i = 0; i < means.Length; i++)
            {
                if (!double.IsFinite(means[i]))
                {
                    throw new ArgumentException($"The mean of component {i / features}, feature {i % features} is {means[i]}.", meansName);
                }
            }

            means = (double[])means.Clone();
        }

        if (covariances is not null)
        {
            covariances = Matrices(covariances, type, components, features, covariancesName, invert: false);
        }
        else if (precisions is not null)
        {
            covariances = Matrices(precisions, type, components, features, precisionsName, invert: true);
        }

        return new GivenParameters(weights, means, covariances);
    }

    /// <summary>Checks covariances (or precisions) of the type's layout and returns covariances.</summary>
    private static double[] Matrices(double[] given, CovarianceType type, int components, int features, string name, bool invert)
    {
        int d = features;
        CheckLength(given, GaussianComponents<double>.CovarianceLength(type, components, features), name, type switch
        {
            CovarianceType.Full => "components × features × features",
            CovarianceType.Tied => "features × features",
            CovarianceType.Diagonal => "components × features",
            _ => "one per component",
        });
        double[] result = new double[given.Length];
        if (type is CovarianceType.Diagonal or CovarianceType.Spherical)
        {
            for (int i = 0; i < given.Length; i++)
            {
                if (!(given[i] > 0) || !double.IsFinite(given[i]))
                {
                    throw new ArgumentException($"Element {i} is {given[i]}; variances and precisions must be finite and positive.", name);
                }

                result[i] = invert ? 1 / given[i] : given[i];
            }

            return result;
        }

        double[] lower = new double[d * d];
        double[] upper = new double[d * d];
        for (int m = 0; m < given.Length / (d * d); m++)
        {
            ReadOnlySpan<double> matrix = given.AsSpan(m * d * d, d * d);
            string which = type == CovarianceType.Tied ? "The matrix" : $"Matrix {m}";
            for (int e = 0; e < matrix.Length; e++)
            {
                if (!double.IsFinite(matrix[e]))
                {
                    throw new ArgumentException($"{which} has {matrix[e]} at row {e / d}, column {e % d}; entries must be finite.", name);
                }
            }

            if (!DenseMatrix.IsSymmetric(matrix, d, 1e-10))
            {
                throw new ArgumentException($"{which} is not symmetric.", name);
            }

            if (!DenseMatrix.TryCholesky(matrix, d, lower))
            {
                throw new ArgumentException($"{which} is not positive definite.", name);
            }

            Span<double> target = result.AsSpan(m * d * d, d * d);
            if (!invert)
            {
                matrix.CopyTo(target);
                continue;
            }

            // P = L Lᵀ → P⁻¹ = L⁻ᵀ L⁻¹ = U Uᵀ with U = L⁻ᵀ.
            DenseMatrix.PrecisionCholeskyFromCovarianceCholesky(lower, d, upper);
            for (int a = 0; a < d; a++)
            {
                for (int b = 0; b < d; b++)
                {
                    double sum = 0;
                    for (int j = Math.Max(a, b); j < d; j++)
                    {
                        sum += upper[a * d + j] * upper[b * d + j];
                    }

                    target[a * d + b] = sum;
                }
            }
        }

        return result;
    }

    private static void CheckLength(double[] values, int expected, string name, string layout)
    {
        if (values.Length != expected)
        {
            throw new ArgumentException($"Expected {expected} values ({layout}), got {values.Length}.", name);
        }
    }
}
