using System.Numerics;
using EmKernels.Engine;

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
        DiscreteDistribution distribution, int components, int features, int categories, int trials, double[] weights, double[] parameters, FitRecord? fit)
        : base(components, features, weights, fit)
    {
        Distribution = distribution;
        Categories = categories;
        Trials = trials;
        _parameters = parameters;
    }

    /// <summary>The fitted model of a discrete mixture the engine fitted.</summary>
    internal static DiscreteMixtureModel<T> Fitted(FiniteMixture<T> mixture, ExpectationMaximizationResult result)
    {
        var family = (DiscreteComponents<T>)mixture.Family;
        return new DiscreteMixtureModel<T>(
            family.Distribution, mixture.Components, mixture.Features, family.Categories, family.Trials, mixture.Weights.ToArray(), family.Parameters.ToArray(), FitRecord.Of(result));
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
        return new DiscreteMixtureModel<T>(distribution, weights.Length, features, categories, trials, checkedWeights, checkedParameters, null);
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
    private protected override void SampleCore(Span<T> points, Span<int> labels, Random random)
    {
        int d = Features;
        for (int i = 0; i < labels.Length; i++)
        {
            int k = MixtureSetup.Draw(random, Weights);
            labels[i] = k;
            for (int j = 0; j < d; j++)
            {
                double value = Distribution switch
                {
                    DiscreteDistribution.Bernoulli => random.NextDouble() < _parameters[k * d + j] ? 1 : 0,
                    DiscreteDistribution.Binomial => Binomial(random, Trials, _parameters[k * d + j]),
                    DiscreteDistribution.Poisson => Poisson(random, _parameters[k * d + j]),
                    _ => MixtureSetup.Draw(random, _parameters.AsSpan((k * d + j) * Categories, Categories)),
                };
                points[i * d + j] = T.CreateTruncating(value);
            }
        }
    }

    /// <summary>A binomial draw as the count of <paramref name="trials"/> Bernoulli draws (one uniform each, in order).</summary>
    private static int Binomial(Random random, int trials, double probability)
    {
        int successes = 0;
        for (int t = 0; t < trials; t++)
        {
            successes += random.NextDouble() < probability ? 1 : 0;
        }

        return successes;
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

    /// <inheritdoc/>
    public override FiniteMixture<T> ToFiniteMixture()
    {
        var family = DiscreteComponents<T>.Create(Distribution, Components, Features, Categories, Math.Max(Trials, 1));
        _parameters.CopyTo(family.Parameters);
        var mixture = new FiniteMixture<T>(family, MixtureInitialization.Current);
        mixture.SetWeights(Weights);
        return mixture;
    }
}
