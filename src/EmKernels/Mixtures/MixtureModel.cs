using System.Numerics;

namespace EmKernels.Mixtures;

/// <summary>
/// What every fitted mixture has: its weights, how the fit went, and evaluation on new data. Immutable;
/// methods that take data only read it. <see cref="GaussianMixtureModel{T}"/> and
/// <see cref="DiscreteMixtureModel{T}"/> add their component parameters.
/// </summary>
/// <typeparam name="T">float or double: the type data are evaluated in. Parameters are double.</typeparam>
public abstract class MixtureModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly double[] _weights;
    private readonly double[] _history;

    private protected MixtureModel(
        int components, int features, double[] weights, bool converged, int iterations, double[] history, LikelihoodDecrease[] decreases, ComponentReseed[] reseeds)
    {
        Components = components;
        Features = features;
        _weights = weights;
        Converged = converged;
        Iterations = iterations;
        _history = history;
        LikelihoodDecreases = decreases;
        Reseeds = reseeds;
    }

    /// <summary>K.</summary>
    public int Components { get; }

    /// <summary>D.</summary>
    public int Features { get; }

    /// <summary>K mixing weights, summing to 1.</summary>
    public ReadOnlySpan<double> Weights => _weights;

    /// <summary>Whether the kept run stopped because the change fell below the tolerance (rather than at the iteration limit).</summary>
    public bool Converged { get; }

    /// <summary>EM iterations (M-steps) of the kept run.</summary>
    public int Iterations { get; }

    /// <summary>
    /// Mean log-likelihood of the training data under the starting parameters and after each M-step
    /// of the kept run: <see cref="Iterations"/> + 1 values, the last for the returned parameters
    /// (empty for a model built from parameters).
    /// </summary>
    public ReadOnlySpan<double> MeanLogLikelihoodHistory => _history;

    /// <summary>The mean log-likelihood of the training data under the returned parameters.</summary>
    /// <exception cref="InvalidOperationException">The model was built from parameters, not fitted (call <see cref="Score"/> on data instead).</exception>
    public double MeanLogLikelihood => _history.Length > 0
        ? _history[^1]
        : throw new InvalidOperationException("This model was built from parameters, not fitted, so it has no training log-likelihood; call Score on data instead.");

    /// <summary>Iterations of the kept run whose log-likelihood fell by more than rounding (expected empty).</summary>
    public IReadOnlyList<LikelihoodDecrease> LikelihoodDecreases { get; }

    /// <summary>Components re-seeded during any run of the fit.</summary>
    public IReadOnlyList<ComponentReseed> Reseeds { get; }

    /// <summary>Free parameters, as BIC and AIC count them: the component parameters and K − 1 weights.</summary>
    public abstract int ParameterCount { get; }

    /// <summary>The most probable component of each point (ties to the lower index).</summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>N labels in 0 … K − 1.</returns>
    /// <exception cref="ArgumentException">The shape does not match D, or a value is not valid data for the model (row and column named).</exception>
    public int[] Predict(ReadOnlySpan<T> data, int points)
    {
        int[] labels = new int[points];
        Evaluate(data, points, default, default, labels);
        return labels;
    }

    /// <summary>The responsibilities of each point: N × K, row-major, each row summing to 1.</summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>N × K probabilities.</returns>
    /// <exception cref="ArgumentException">The shape does not match D, or a value is not valid data for the model.</exception>
    public T[] PredictProbabilities(ReadOnlySpan<T> data, int points)
    {
        T[] probabilities = new T[points * Components];
        Evaluate(data, points, default, probabilities, default);
        return probabilities;
    }

    /// <summary>The log-likelihood log p(x_n) of each point under the mixture (with every normalising constant).</summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>N values.</returns>
    /// <exception cref="ArgumentException">The shape does not match D, or a value is not valid data for the model.</exception>
    public double[] ScoreSamples(ReadOnlySpan<T> data, int points)
    {
        double[] scores = new double[points];
        Evaluate(data, points, scores, default, default);
        return scores;
    }

    /// <summary>The mean log-likelihood of the points.</summary>
    /// <param name="data">N × D values, row-major (N ≥ 1).</param>
    /// <param name="points">N.</param>
    /// <returns>(1/N) Σ log p(x_n).</returns>
    /// <exception cref="ArgumentException">The shape does not match D, N is 0, or a value is not valid data for the model.</exception>
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
    public abstract (T[] Points, int[] Labels) Sample(int count, int seed);

    /// <summary>Validates data for this model (naming the argument "data"), prepares it in place if needed, and returns a family holding the model's parameters.</summary>
    private protected abstract IMixtureFamily<T> EvaluationFamily(FeatureMajorMatrix<T> data);

    /// <summary>One pass over the data giving any of per-point log-likelihoods, responsibilities (N × K) and labels (empty spans are skipped).</summary>
    internal void Evaluate(ReadOnlySpan<T> rowMajor, int points, Span<double> perPoint, Span<T> responsibilities, Span<int> labels)
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
        using var em = new ExpectationMaximization<T>(data, null, EvaluationFamily(data), 1);
        em.Evaluate(_weights.Select(w => Math.Log(w)).ToArray(), perPoint, responsibilities, labels);
    }
}
