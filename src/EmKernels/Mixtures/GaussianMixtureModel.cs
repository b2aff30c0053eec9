using System.Numerics;
using EmKernels.Numerics;

namespace EmKernels.Mixtures;

/// <summary>
/// A fitted Gaussian mixture: its means and covariances on top of what every <see cref="MixtureModel{T}"/> has.
/// Immutable; every method that takes data only reads it.
/// </summary>
/// <typeparam name="T">float or double: the type data are evaluated in. Parameters are double.</typeparam>
/// <remarks>
/// Layouts (as in the fixtures' FORMAT.md §4): <see cref="Means"/> K × D; <see cref="Covariances"/>
/// full K × D × D, tied D × D, diagonal K × D (variances), spherical K (variances);
/// <see cref="PrecisionsCholesky"/> the same shapes: full and tied the upper-triangular U with
/// Σ⁻¹ = U Uᵀ (scikit-learn's <c>precisions_cholesky_</c>), diagonal and spherical 1/σ.
/// </remarks>
public sealed class GaussianMixtureModel<T> : MixtureModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly double[] _means;
    private readonly double[] _covariances;
    private readonly double[] _precisionsCholesky;

    internal GaussianMixtureModel(
        CovarianceType covarianceType, int components, int features, double[] weights, double[] means, double[] covariances,
        bool converged, int iterations, double[] history, LikelihoodDecrease[] decreases, ComponentReseed[] reseeds)
        : base(components, features, weights, converged, iterations, history, decreases, reseeds)
    {
        CovarianceType = covarianceType;
        _means = means;
        _covariances = covariances;
        _precisionsCholesky = PrecisionCholeskyOf(covarianceType, features, covariances);
    }

    /// <summary>
    /// A model with the given parameters, for evaluating and sampling parameters stored or computed elsewhere
    /// (a saved model, another library's fit). It has no fit history: <see cref="MixtureModel{T}.Iterations"/> is 0,
    /// <see cref="MixtureModel{T}.Converged"/> false and <see cref="MixtureModel{T}.MeanLogLikelihood"/> throws.
    /// </summary>
    /// <param name="covarianceType">The covariance type.</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="weights">K ≥ 1 finite non-negative weights summing to 1 (within 1e-6).</param>
    /// <param name="means">K × D finite means, row-major.</param>
    /// <param name="covariances">Covariances in the type's layout (see the remarks on the type): symmetric positive definite matrices, or positive variances.</param>
    /// <returns>The model; it holds copies of the arrays.</returns>
    /// <exception cref="ArgumentNullException">An array is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="covarianceType"/> is unknown, D &lt; 1 or K = 0.</exception>
    /// <exception cref="ArgumentException">A length or value is invalid; the message says which.</exception>
    public static GaussianMixtureModel<T> FromParameters(CovarianceType covarianceType, int features, double[] weights, double[] means, double[] covariances)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(means);
        ArgumentNullException.ThrowIfNull(covariances);
        if (!Enum.IsDefined(covarianceType))
        {
            throw new ArgumentOutOfRangeException(nameof(covarianceType), covarianceType, "Unknown covariance type.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        if (weights.Length == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(weights), "A mixture needs at least one component.");
        }

        var given = GivenParameters.Check(
            covarianceType, weights.Length, features, weights, means, covariances, null, nameof(weights), nameof(means), nameof(covariances), nameof(covariances));
        return new GaussianMixtureModel<T>(covarianceType, weights.Length, features, given.Weights!, given.Means!, given.Covariances!, false, 0, [], [], []);
    }

    /// <summary>The covariance type.</summary>
    public CovarianceType CovarianceType { get; }

    /// <summary>K × D means, row-major.</summary>
    public ReadOnlySpan<double> Means => _means;

    /// <summary>Covariances in the type's layout (see the remarks on the type).</summary>
    public ReadOnlySpan<double> Covariances => _covariances;

    /// <summary>Cholesky factors of the precisions in the type's layout (see the remarks on the type).</summary>
    public ReadOnlySpan<double> PrecisionsCholesky => _precisionsCholesky;

    /// <summary>Free parameters: K·D means, the covariances' free entries and K − 1 weights (as scikit-learn counts them).</summary>
    public override int ParameterCount => GaussianFamily<T>.DensityParameterCount(CovarianceType, Components, Features) + Components - 1;

    /// <inheritdoc cref="MixtureModel{T}.Predict(ReadOnlySpan{T}, int)"/>
    public int[] Predict(T[,] data) => Predict(RowMajor(data, out int points), points);

    /// <inheritdoc cref="MixtureModel{T}.PredictProbabilities(ReadOnlySpan{T}, int)"/>
    public T[] PredictProbabilities(T[,] data) => PredictProbabilities(RowMajor(data, out int points), points);

    /// <inheritdoc cref="MixtureModel{T}.ScoreSamples(ReadOnlySpan{T}, int)"/>
    public double[] ScoreSamples(T[,] data) => ScoreSamples(RowMajor(data, out int points), points);

    /// <inheritdoc/>
    public override (T[] Points, int[] Labels) Sample(int count, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        int d = Features;
        var random = new Random(seed);
        double[] factors = new double[Components * d * d];
        double[] lower = new double[d * d];
        for (int k = 0; k < Components; k++)
        {
            ReadOnlySpan<double> covariance = FullCovariance(k);
            DenseMatrix.TryCholesky(covariance, d, lower);
            lower.CopyTo(factors, k * d * d);
        }

        T[] points = new T[count * d];
        int[] labels = new int[count];
        double[] z = new double[d];
        for (int i = 0; i < count; i++)
        {
            int k = MixtureSetup.Draw(random, Weights);
            labels[i] = k;
            for (int a = 0; a < d; a++)
            {
                z[a] = StandardNormal(random);
            }

            for (int a = 0; a < d; a++)
            {
                double value = _means[k * d + a];
                for (int b = 0; b <= a; b++)
                {
                    value += factors[k * d * d + a * d + b] * z[b];
                }

                points[i * d + a] = T.CreateTruncating(value);
            }
        }

        return (points, labels);
    }

    /// <summary>Component k's covariance as a full D × D matrix, whatever the type.</summary>
    private double[] FullCovariance(int k) => FullCovariance(CovarianceType, Features, _covariances, k);

    /// <summary>Component k's covariance as a full D × D matrix, from covariances in the type's layout.</summary>
    internal static double[] FullCovariance(CovarianceType type, int d, ReadOnlySpan<double> covariances, int k)
    {
        double[] matrix = new double[d * d];
        switch (type)
        {
            case CovarianceType.Full:
                covariances.Slice(k * d * d, d * d).CopyTo(matrix);
                break;
            case CovarianceType.Tied:
                covariances[..(d * d)].CopyTo(matrix);
                break;
            case CovarianceType.Diagonal:
                for (int a = 0; a < d; a++)
                {
                    matrix[a * d + a] = covariances[k * d + a];
                }

                break;
            default:
                for (int a = 0; a < d; a++)
                {
                    matrix[a * d + a] = covariances[k];
                }

                break;
        }

        return matrix;
    }

    private static double StandardNormal(Random random)
    {
        // Box–Muller; 1 − U keeps the logarithm's argument in (0, 1].
        double u1 = 1.0 - random.NextDouble();
        double u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    private protected override IMixtureFamily<T> EvaluationFamily(FeatureMajorMatrix<T> data)
    {
        DataChecks.Finite(data, "data");

        // Evaluate about the weighted average of the means, so that data far from the origin keep their precision.
        int d = Features;
        double[] center = new double[d];
        for (int k = 0; k < Components; k++)
        {
            for (int a = 0; a < d; a++)
            {
                center[a] += Weights[k] * _means[k * d + a];
            }
        }

        for (int a = 0; a < d; a++)
        {
            T shift = T.CreateTruncating(center[a]);
            foreach (ref T value in data.Feature(a))
            {
                value -= shift;
            }
        }

        var family = new GaussianFamily<T>(CovarianceType, Components, d, 0, new double[d * d]);
        for (int k = 0; k < Components; k++)
        {
            for (int a = 0; a < d; a++)
            {
                family.Means[k * d + a] = _means[k * d + a] - center[a];
            }
        }

        _covariances.CopyTo(family.Covariances, 0);
        return family;
    }

    private static T[] RowMajor(T[,] data, out int points)
    {
        ArgumentNullException.ThrowIfNull(data);
        points = data.GetLength(0);
        T[] values = new T[data.Length];
        int i = 0;
        foreach (T value in data)
        {
            values[i++] = value;
        }

        return values;
    }

    private static double[] PrecisionCholeskyOf(CovarianceType type, int d, double[] covariances)
    {
        double[] result = new double[covariances.Length];
        if (type is CovarianceType.Diagonal or CovarianceType.Spherical)
        {
            for (int i = 0; i < covariances.Length; i++)
            {
                result[i] = 1 / Math.Sqrt(covariances[i]);
            }

            return result;
        }

        double[] lower = new double[d * d];
        double[] upper = new double[d * d];
        for (int m = 0; m < covariances.Length / (d * d); m++)
        {
            DenseMatrix.TryCholesky(covariances.AsSpan(m * d * d, d * d), d, lower);
            DenseMatrix.PrecisionCholeskyFromCovarianceCholesky(lower, d, upper);
            upper.CopyTo(result, m * d * d);
        }

        return result;
    }
}
