using System.Numerics;

namespace EmKernels.Mixtures;

/// <summary>
/// A fitted discrete or count mixture: its parameters, how the fit went, and evaluation on new data.
/// Immutable; methods that take data only read it.
/// </summary>
/// <typeparam name="T">float or double: the type data are evaluated in. Parameters are double.</typeparam>
public sealed class DiscreteMixtureModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly double[] _weights;
    private readonly double[] _parameters;
    private readonly double[] _history;

    internal DiscreteMixtureModel(
        DiscreteDistribution distribution, int components, int features, int categories, int trials, double[] weights, double[] parameters,
        bool converged, int iterations, double[] history, LikelihoodDecrease[] decreases, ComponentReseed[] reseeds)
    {
        Distribution = distribution;
        Components = components;
        Features = features;
        Categories = categories;
        Trials = trials;
        _weights = weights;
        _parameters = parameters;
        Converged = converged;
        Iterations = iterations;
        _history = history;
        LikelihoodDecreases = decreases;
        Reseeds = reseeds;
    }

    /// <summary>The component family.</summary>
    public DiscreteDistribution Distribution { get; }

    /// <summary>K.</summary>
    public int Components { get; }

    /// <summary>D.</summary>
    public int Features { get; }

    /// <summary>C for categorical, else 1.</summary>
    public int Categories { get; }

    /// <summary>T for binomial, 1 for Bernoulli, 0 otherwise.</summary>
    public int Trials { get; }

    /// <summary>K mixing weights, summing to 1.</summary>
    public ReadOnlySpan<double> Weights => _weights;

    /// <summary>
    /// Bernoulli and binomial: success probabilities p_kj at <c>k·D + j</c>; categorical: p_kjc at <c>(k·D + j)·C + c</c>;
    /// Poisson: rates λ_kj at <c>k·D + j</c>.
    /// </summary>
    public ReadOnlySpan<double> Parameters => _parameters;

    /// <summary>Whether the kept run stopped on the tolerance rather than the iteration limit.</summary>
    public bool Converged { get; }

    /// <summary>EM iterations of the kept run.</summary>
    public int Iterations { get; }

    /// <summary>Mean log-likelihood under the start and after each M-step of the kept run (<see cref="Iterations"/> + 1 values).</summary>
    public ReadOnlySpan<double> MeanLogLikelihoodHistory => _history;

    /// <summary>The mean log-likelihood of the training data under the returned parameters.</summary>
    public double MeanLogLikelihood => _history[^1];

    /// <summary>Iterations whose log-likelihood fell by more than rounding (expected empty).</summary>
    public IReadOnlyList<LikelihoodDecrease> LikelihoodDecreases { get; }

    /// <summary>Components re-seeded during the fit (lost all their mass).</summary>
    public IReadOnlyList<ComponentReseed> Reseeds { get; }

    /// <summary>Free parameters: the component parameters (categorical: C − 1 per feature) and K − 1 weights.</summary>
    public int ParameterCount => (Distribution == DiscreteDistribution.Categorical ? Components * Features * (Categories - 1) : Components * Features) + Components - 1;

    /// <summary>The most probable component of each point (ties to the lower index).</summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>N labels.</returns>
    /// <exception cref="ArgumentException">The shape does not match D, or a value is not a valid outcome.</exception>
    public int[] Predict(ReadOnlySpan<T> data, int points)
    {
        int[] labels = new int[points];
        Evaluate(data, points, default, default, labels);
        return labels;
    }

    /// <summary>The responsibilities of each point: N × K, row-major.</summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>N × K probabilities.</returns>
    /// <exception cref="ArgumentException">The shape does not match D, or a value is not a valid outcome.</exception>
    public T[] PredictProbabilities(ReadOnlySpan<T> data, int points)
    {
        T[] result = new T[points * Components];
        Evaluate(data, points, default, result, default);
        return result;
    }

    /// <summary>log p(x_n) of each point, with the normalising constants (log C(T, x), −log x!).</summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>N values (−∞ for a point impossible under every component).</returns>
    /// <exception cref="ArgumentException">The shape does not match D, or a value is not a valid outcome.</exception>
    public double[] ScoreSamples(ReadOnlySpan<T> data, int points)
    {
        double[] result = new double[points];
        Evaluate(data, points, result, default, default);
        return result;
    }

    /// <summary>The mean log-likelihood of the points.</summary>
    /// <param name="data">N × D values, row-major (N ≥ 1).</param>
    /// <param name="points">N.</param>
    /// <returns>(1/N) Σ log p(x_n).</returns>
    public double Score(ReadOnlySpan<T> data, int points)
    {
        if (points < 1)
        {
            throw new ArgumentException("Scoring needs at least one point.", nameof(points));
        }

        return ScoreSamples(data, points).Average();
    }

    /// <summary>−2 N · Score + p · ln N (lower is better).</summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>The BIC.</returns>
    public double Bic(ReadOnlySpan<T> data, int points) => -2 * points * Score(data, points) + ParameterCount * Math.Log(points);

    /// <summary>−2 N · Score + 2p (lower is better).</summary>
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
        var random = new Random(seed);
        int d = Features;
        T[] points = new T[count * d];
        int[] labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            int k = MixtureSetup.Draw(random, _weights);
            labels[i] = k;
            for (int j = 0; j < d; j++)
            {
                double value = Distribution switch
                {
                    DiscreteDistribution.Bernoulli => random.NextDouble() < _parameters[k * d + j] ? 1 : 0,
                    DiscreteDistribution.Binomial => Enumerable.Range(0, Trials).Count(_ => random.NextDouble() < _parameters[k * d + j]),
                    DiscreteDistribution.Poisson => Poisson(random, _parameters[k * d + j]),
                    _ => MixtureSetup.Draw(random, _parameters.AsSpan((k * d + j) * Categories, Categories)),
                };
                points[i * d + j] = T.CreateTruncating(value);
            }
        }

        return (points, labels);
    }

    /// <summary>Poisson draw by inversion of the CDF (exact; O(λ) per draw).</summary>
    private static int Poisson(Random random, double rate)
    {
        double u = random.NextDouble();
        double p = Math.Exp(-rate);
        double cumulative = p;
        int k = 0;
        while (u > cumulative && p > 0)
        {
            k++;
            p *= rate / k;
            cumulative += p;
        }

        return k;
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
        DiscreteMixtureFitter<T>.CheckValues(data, Distribution, Categories, Trials);
        var family = new DiscreteFamily<T>(Distribution, Components, Features, Categories, Trials, 0, data, null);
        _parameters.CopyTo(family.Parameters, 0);
        using var em = new ExpectationMaximization<T>(data, null, family, 1);
        em.Evaluate(_weights.Select(w => Math.Log(w)).ToArray(), perPoint, responsibilities, labels);
    }
}
