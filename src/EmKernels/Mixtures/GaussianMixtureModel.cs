using System.Numerics;
using EmKernels.Numerics;

namespace EmKernels.Mixtures;

/// <summary>
/// A fitted Gaussian mixture: its parameters, how the fit went, and evaluation on new data.
/// Immutable; every method that takes data only reads it.
/// </summary>
/// <typeparam name="T">float or double: the type data are evaluated in. Parameters are double.</typeparam>
/// <remarks>
/// Layouts (as in the fixtures' FORMAT.md §4): <see cref="Means"/> K × D; <see cref="Covariances"/>
/// full K × D × D, tied D × D, diagonal K × D (variances), spherical K (variances);
/// <see cref="PrecisionsCholesky"/> the same shapes: full and tied the upper-triangular U with
/// Σ⁻¹ = U Uᵀ (scikit-learn's <c>precisions_cholesky_</c>), diagonal and spherical 1/σ.
/// </remarks>
public sealed class GaussianMixtureModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly double[] _weights;
    private readonly double[] _means;
    private readonly double[] _covariances;
    private readonly double[] _precisionsCholesky;
    private readonly double[] _history;

    internal GaussianMixtureModel(
        CovarianceType covarianceType, int components, int features, double[] weights, double[] means, double[] covariances,
        bool converged, int iterations, double[] history, LikelihoodDecrease[] decreases, ComponentReseed[] reseeds)
    {
        CovarianceType = covarianceType;
        Components = components;
        Features = features;
        _weights = weights;
        _means = means;
        _covariances = covariances;
        _precisionsCholesky = PrecisionCholeskyOf(covarianceType, features, covariances);
        Converged = converged;
        Iterations = iterations;
        _history = history;
        LikelihoodDecreases = decreases;
        Reseeds = reseeds;
    }

    /// <summary>The covariance type.</summary>
    public CovarianceType CovarianceType { get; }

    /// <summary>K.</summary>
    public int Components { get; }

    /// <summary>D.</summary>
    public int Features { get; }

    /// <summary>K mixing weights, summing to 1.</summary>
    public ReadOnlySpan<double> Weights => _weights;

    /// <summary>K × D means, row-major.</summary>
    public ReadOnlySpan<double> Means => _means;

    /// <summary>Covariances in the type's layout (see the remarks on the type).</summary>
    public ReadOnlySpan<double> Covariances => _covariances;

    /// <summary>Cholesky factors of the precisions in the type's layout (see the remarks on the type).</summary>
    public ReadOnlySpan<double> PrecisionsCholesky => _precisionsCholesky;

    /// <summary>Whether the last run stopped because the change fell below the tolerance (rather than at the iteration limit).</summary>
    public bool Converged { get; }

    /// <summary>EM iterations (M-steps) of the kept run.</summary>
    public int Iterations { get; }

    /// <summary>
    /// Mean log-likelihood of the training data under the starting parameters and after each M-step
    /// of the kept run: <see cref="Iterations"/> + 1 values, the last for the returned parameters.
    /// </summary>
    public ReadOnlySpan<double> MeanLogLikelihoodHistory => _history;

    /// <summary>The mean log-likelihood of the training data under the returned parameters.</summary>
    public double MeanLogLikelihood => _history[^1];

    /// <summary>Iterations of the kept run whose log-likelihood fell by more than rounding (expected empty).</summary>
    public IReadOnlyList<LikelihoodDecrease> LikelihoodDecreases { get; }

    /// <summary>Components re-seeded during any run of the fit.</summary>
    public IReadOnlyList<ComponentReseed> Reseeds { get; }

    /// <summary>Free parameters: K·D means, the covariances' free entries and K − 1 weights (as scikit-learn counts them).</summary>
    public int ParameterCount => GaussianFamily<T>.DensityParameterCount(CovarianceType, Components, Features) + Components - 1;

    /// <summary>The most probable component of each point (ties to the lower index).</summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>N labels in 0 … K − 1.</returns>
    /// <exception cref="ArgumentException">The shape does not match D, or a value is NaN or ±∞.</exception>
    public int[] Predict(ReadOnlySpan<T> data, int points)
    {
        int[] labels = new int[points];
        Evaluate(data, points, default, default, labels);
        return labels;
    }

    /// <inheritdoc cref="Predict(ReadOnlySpan{T}, int)"/>
    public int[] Predict(T[,] data) => Predict(RowMajor(data, out int points), points);

    /// <summary>The responsibilities of each point: N × K, row-major, each row summing to 1.</summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>N × K probabilities.</returns>
    /// <exception cref="ArgumentException">The shape does not match D, or a value is NaN or ±∞.</exception>
    public T[] PredictProbabilities(ReadOnlySpan<T> data, int points)
    {
        T[] probabilities = new T[points * Components];
        Evaluate(data, points, default, probabilities, default);
        return probabilities;
    }

    /// <inheritdoc cref="PredictProbabilities(ReadOnlySpan{T}, int)"/>
    public T[] PredictProbabilities(T[,] data) => PredictProbabilities(RowMajor(data, out int points), points);

    /// <summary>The log-likelihood log p(x_n) of each point under the mixture.</summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>N values.</returns>
    /// <exception cref="ArgumentException">The shape does not match D, or a value is NaN or ±∞.</exception>
    public double[] ScoreSamples(ReadOnlySpan<T> data, int points)
    {
        double[] scores = new double[points];
        Evaluate(data, points, scores, default, default);
        return scores;
    }

    /// <inheritdoc cref="ScoreSamples(ReadOnlySpan{T}, int)"/>
    public double[] ScoreSamples(T[,] data) => ScoreSamples(RowMajor(data, out int points), points);

    /// <summary>The mean log-likelihood of the points.</summary>
    /// <param name="data">N × D values, row-major (N ≥ 1).</param>
    /// <param name="points">N.</param>
    /// <returns>(1/N) Σ log p(x_n).</returns>
    /// <exception cref="ArgumentException">The shape does not match D, N is 0, or a value is NaN or ±∞.</exception>
    public double Score(ReadOnlySpan<T> data, int points)
    {
        if (points < 1)
        {
            throw new ArgumentException("Scoring needs at least one point.", nameof(points));
        }

        return ScoreSamples(data, points).Average();
    }

    /// <summary>Bayesian information criterion on the data: −2 N · Score + p · ln N (lower is better).</summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>The BIC.</returns>
    public double Bic(ReadOnlySpan<T> data, int points) => -2 * points * Score(data, points) + ParameterCount * Math.Log(points);

    /// <summary>Akaike information criterion on the data: −2 N · Score + 2p (lower is better).</summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>The AIC.</returns>
    public double Aic(ReadOnlySpan<T> data, int points) => -2 * points * Score(data, points) + 2 * ParameterCount;

    /// <summary>Draws points from the mixture.</summary>
    /// <param name="count">How many (≥ 0).</param>
    /// <param name="seed">Seed; the same seed gives the same points.</param>
    /// <returns>The points (count × D, row-major) and the component each was drawn from.</returns>
    public (T[] Points, int[] Labels) Sample(int count, int seed)
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
            int k = MixtureSetup.Draw(random, _weights);
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
    private double[] FullCovariance(int k)
    {
        int d = Features;
        double[] matrix = new double[d * d];
        switch (CovarianceType)
        {
            case CovarianceType.Full:
                _covariances.AsSpan(k * d * d, d * d).CopyTo(matrix);
                break;
            case CovarianceType.Tied:
                _covariances.AsSpan(0, d * d).CopyTo(matrix);
                break;
            case CovarianceType.Diagonal:
                for (int a = 0; a < d; a++)
                {
                    matrix[a * d + a] = _covariances[k * d + a];
                }

                break;
            default:
                for (int a = 0; a < d; a++)
                {
                    matrix[a * d + a] = _covariances[k];
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

    private void Evaluate(ReadOnlySpan<T> rowMajor, int points, Span<double> perPoint, Span<T> responsibilities, Span<int> labels)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(points);
        if (rowMajor.Length != (long)points * Features)
        {
            throw new ArgumentException($"Expected {points} points × {Features} features = {(long)points * Features} values (the model has D = {Features}), got {rowMajor.Length}.", "data");
        }

        if (points == 0)
        {
            return;
        }

        var data = FeatureMajorMatrix<T>.FromRowMajor(rowMajor, points, Features);
        DataChecks.Finite(data, "data");

        // Evaluate about the weighted average of the means, so that data far from the origin keep their precision.
        int d = Features;
        double[] center = new double[d];
        for (int k = 0; k < Components; k++)
        {
            for (int a = 0; a < d; a++)
            {
                center[a] += _weights[k] * _means[k * d + a];
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
        using var em = new ExpectationMaximization<T>(data, null, family, 1);
        double[] logWeights = _weights.Select(w => Math.Log(w)).ToArray();
        em.Evaluate(logWeights, perPoint, responsibilities, labels);
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
