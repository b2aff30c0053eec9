using System.Numerics;

namespace EmKernels.Mixtures;

/// <summary>
/// A fitted discrete or count mixture: its parameters, how the fit went, and evaluation on new data.
/// Immutable; methods that take data only read it.
/// </summary>
/// <typeparam name="T">float or double: the type data are evaluated in. Parameters are double.</typeparam>
public sealed class DiscreteMixtureModel<T> : MixtureModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly double[] _parameters;

    internal DiscreteMixtureModel(
        DiscreteDistribution distribution, int components, int features, int categories, int trials, double[] weights, double[] parameters,
        bool converged, int iterations, double[] history, LikelihoodDecrease[] decreases, ComponentReseed[] reseeds)
        : base(components, features, weights, converged, iterations, history, decreases, reseeds)
    {
        Distribution = distribution;
        Categories = categories;
        Trials = trials;
        _parameters = parameters;
    }

    /// <summary>
    /// A model with the given parameters, for evaluating and sampling parameters stored or computed elsewhere.
    /// It has no fit history: <see cref="MixtureModel{T}.Iterations"/> is 0, <see cref="MixtureModel{T}.Converged"/>
    /// false and <see cref="MixtureModel{T}.MeanLogLikelihood"/> throws.
    /// </summary>
    /// <param name="distribution">The component family.</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="weights">K ≥ 1 finite non-negative weights summing to 1 (within 1e-6).</param>
    /// <param name="parameters">The component parameters in the layout of <see cref="Parameters"/>: probabilities in [0, 1] (each categorical row summing to 1), or finite non-negative rates.</param>
    /// <param name="categories">C for categorical (≥ 1); ignored otherwise.</param>
    /// <param name="trials">T for binomial (≥ 1); ignored otherwise.</param>
    /// <returns>The model; it holds copies of the arrays.</returns>
    /// <exception cref="ArgumentNullException">An array is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="distribution"/> is unknown, or D, K, C or T is out of range.</exception>
    /// <exception cref="ArgumentException">A length or value is invalid; the message says which.</exception>
    public static DiscreteMixtureModel<T> FromParameters(DiscreteDistribution distribution, int features, double[] weights, double[] parameters, int categories = 1, int trials = 1)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(parameters);
        if (!Enum.IsDefined(distribution))
        {
            throw new ArgumentOutOfRangeException(nameof(distribution), distribution, "Unknown distribution.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        if (weights.Length == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(weights), "A mixture needs at least one component.");
        }

        categories = distribution == DiscreteDistribution.Categorical ? categories : 1;
        ArgumentOutOfRangeException.ThrowIfLessThan(categories, 1);
        trials = distribution switch
        {
            DiscreteDistribution.Binomial => trials,
            DiscreteDistribution.Bernoulli => 1,
            _ => 0,
        };
        if (distribution == DiscreteDistribution.Binomial)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(trials, 1);
        }

        double[] checkedWeights = MixtureSetup.StartWeights(weights, weights.Length, nameof(weights));
        double[] checkedParameters = DiscreteMixtureFitter<T>.CheckParameters(parameters, distribution, categories, weights.Length, features, nameof(parameters));
        return new DiscreteMixtureModel<T>(distribution, weights.Length, features, categories, trials, checkedWeights, checkedParameters, false, 0, [], [], []);
    }

    /// <summary>The component family.</summary>
    public DiscreteDistribution Distribution { get; }

    /// <summary>C for categorical, else 1.</summary>
    public int Categories { get; }

    /// <summary>T for binomial, 1 for Bernoulli, 0 otherwise.</summary>
    public int Trials { get; }

    /// <summary>
    /// Bernoulli and binomial: success probabilities p_kj at <c>k·D + j</c>; categorical: p_kjc at <c>(k·D + j)·C + c</c>;
    /// Poisson: rates λ_kj at <c>k·D + j</c>.
    /// </summary>
    public ReadOnlySpan<double> Parameters => _parameters;

    /// <inheritdoc/>
    public override int ParameterCount => (Distribution == DiscreteDistribution.Categorical ? Components * Features * (Categories - 1) : Components * Features) + Components - 1;

    /// <inheritdoc/>
    public override (T[] Points, int[] Labels) Sample(int count, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var random = new Random(seed);
        int d = Features;
        T[] points = new T[count * d];
        int[] labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            int k = MixtureSetup.Draw(random, Weights);
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

    private protected override IMixtureFamily<T> EvaluationFamily(FeatureMajorMatrix<T> data)
    {
        DiscreteMixtureFitter<T>.CheckValues(data, Distribution, Categories, Trials);
        var family = new DiscreteFamily<T>(Distribution, Components, Features, Categories, Trials, 0, data, null);
        _parameters.CopyTo(family.Parameters, 0);
        return family;
    }
}
