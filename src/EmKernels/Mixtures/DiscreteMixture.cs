using System.Numerics;
using EmKernels.Engine;

namespace EmKernels.Mixtures;

/// <summary>Fits mixtures of independent Bernoulli features (values 0 or 1) with EM.</summary>
/// <typeparam name="T">float or double.</typeparam>
/// <param name="options">The options (validated).</param>
public sealed class BernoulliMixture<T>(DiscreteMixtureOptions options)
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly DiscreteMixtureFitter<T> _fitter = new(DiscreteDistribution.Bernoulli, 1, 1, options);

    /// <summary>Fits row-major data of 0/1 values.</summary>
    /// <param name="data">N × D values, row-major; only read.</param>
    /// <param name="points">N.</param>
    /// <param name="features">D.</param>
    /// <param name="sampleWeights">Empty, or N non-negative weights (not all zero).</param>
    /// <param name="knownComponents">Empty, or N values: the component a point is known to come from, or −1 where unknown (semi-supervised fitting).</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">A value is not 0 or 1 (row and column named), or weights or starting parameters are invalid.</exception>
    public DiscreteMixtureModel<T> Fit(ReadOnlySpan<T> data, int points, int features, ReadOnlySpan<T> sampleWeights = default, ReadOnlySpan<int> knownComponents = default) =>
        _fitter.Fit(data, points, features, sampleWeights, knownComponents);
}

/// <summary>Fits mixtures of independent categorical features (codes 0 … C − 1) with EM.</summary>
/// <typeparam name="T">float or double.</typeparam>
/// <param name="categories">C, the number of categories of every feature (≥ 1).</param>
/// <param name="options">The options (validated).</param>
public sealed class CategoricalMixture<T>(int categories, DiscreteMixtureOptions options)
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly DiscreteMixtureFitter<T> _fitter = new(DiscreteDistribution.Categorical, categories, 1, options);

    /// <summary>Fits row-major data of category codes.</summary>
    /// <param name="data">N × D codes, row-major; only read.</param>
    /// <param name="points">N.</param>
    /// <param name="features">D.</param>
    /// <param name="sampleWeights">Empty, or N non-negative weights (not all zero).</param>
    /// <param name="knownComponents">Empty, or N values: the component a point is known to come from, or −1 where unknown (semi-supervised fitting).</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">A code is not a whole number in 0 … C − 1 (row and column named), or weights or starting parameters are invalid.</exception>
    public DiscreteMixtureModel<T> Fit(ReadOnlySpan<T> data, int points, int features, ReadOnlySpan<T> sampleWeights = default, ReadOnlySpan<int> knownComponents = default) =>
        _fitter.Fit(data, points, features, sampleWeights, knownComponents);
}

/// <summary>Fits mixtures of independent binomial features (success counts out of T trials) with EM.</summary>
/// <typeparam name="T">float or double.</typeparam>
/// <param name="trials">T, the number of trials of every feature (≥ 1).</param>
/// <param name="options">The options (validated).</param>
public sealed class BinomialMixture<T>(int trials, DiscreteMixtureOptions options)
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly DiscreteMixtureFitter<T> _fitter = new(DiscreteDistribution.Binomial, 1, trials, options);

    /// <summary>Fits row-major data of counts.</summary>
    /// <param name="data">N × D counts, row-major; only read.</param>
    /// <param name="points">N.</param>
    /// <param name="features">D.</param>
    /// <param name="sampleWeights">Empty, or N non-negative weights (not all zero).</param>
    /// <param name="knownComponents">Empty, or N values: the component a point is known to come from, or −1 where unknown (semi-supervised fitting).</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">A count is not a whole number in 0 … T (row and column named), or weights or starting parameters are invalid.</exception>
    public DiscreteMixtureModel<T> Fit(ReadOnlySpan<T> data, int points, int features, ReadOnlySpan<T> sampleWeights = default, ReadOnlySpan<int> knownComponents = default) =>
        _fitter.Fit(data, points, features, sampleWeights, knownComponents);
}

/// <summary>Fits mixtures of independent Poisson features (counts ≥ 0) with EM.</summary>
/// <typeparam name="T">float or double.</typeparam>
/// <param name="options">The options (validated).</param>
public sealed class PoissonMixture<T>(DiscreteMixtureOptions options)
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly DiscreteMixtureFitter<T> _fitter = new(DiscreteDistribution.Poisson, 1, 0, options);

    /// <summary>Fits row-major data of counts.</summary>
    /// <param name="data">N × D counts, row-major; only read.</param>
    /// <param name="points">N.</param>
    /// <param name="features">D.</param>
    /// <param name="sampleWeights">Empty, or N non-negative weights (not all zero).</param>
    /// <param name="knownComponents">Empty, or N values: the component a point is known to come from, or −1 where unknown (semi-supervised fitting).</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">A count is negative or not a whole number (row and column named), or weights or starting parameters are invalid.</exception>
    public DiscreteMixtureModel<T> Fit(ReadOnlySpan<T> data, int points, int features, ReadOnlySpan<T> sampleWeights = default, ReadOnlySpan<int> knownComponents = default) =>
        _fitter.Fit(data, points, features, sampleWeights, knownComponents);
}

/// <summary>The fit shared by the four discrete estimators: validation, initialisation, restarts, the one EM loop.</summary>
internal sealed class DiscreteMixtureFitter<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly DiscreteDistribution _distribution;
    private readonly int _categories;
    private readonly int _trials;
    private readonly DiscreteMixtureOptions _options;

    public DiscreteMixtureFitter(DiscreteDistribution distribution, int categories, int trials, DiscreteMixtureOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double))
        {
            throw new NotSupportedException($"Mixtures support float and double, not {typeof(T).Name}.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(categories, 1, nameof(categories));
        if (distribution == DiscreteDistribution.Binomial)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(trials, 1, nameof(trials));
        }

        MixtureSetup.CheckOptions(options.Components, options.MaxIterations, options.Restarts, options.Tolerance, options.MaxDegreeOfParallelism);
        if (!(options.Smoothing >= 0) || double.IsInfinity(options.Smoothing))
        {
            throw new ArgumentOutOfRangeException("options.Smoothing", options.Smoothing, "Must be finite and non-negative.");
        }

        _distribution = distribution;
        _categories = categories;
        _trials = trials;
        _options = options;
    }

    public DiscreteMixtureModel<T> Fit(ReadOnlySpan<T> rowMajor, int points, int features, ReadOnlySpan<T> sampleWeights, ReadOnlySpan<int> knownComponents)
    {
        DiscreteMixtureOptions o = _options;
        var data = FeatureMajorMatrix<T>.FromRowMajor(rowMajor, points, features);
        int k = o.Components;
        if (points < k)
        {
            throw new ArgumentException($"There are {points} points but {k} components; a mixture needs at least as many points as components.", "data");
        }

        var source = InMemoryDataSource<T>.Own(data, sampleWeights, knownComponents);
        double[]? givenWeights = o.InitialWeights is null ? null : MixtureSetup.StartWeights(o.InitialWeights, k, "options.InitialWeights");
        double[]? givenParameters = o.InitialParameters is null ? null : CheckParameters(o.InitialParameters, _distribution, _categories, k, features, "options.InitialParameters");
        var family = DiscreteComponents<T>.Create(_distribution, k, features, _categories, _trials, o.Smoothing);
        var mixture = new FiniteMixture<T>(
            family,
            o.Initialization == DiscreteMixtureInitialization.RandomPoints ? MixtureInitialization.RandomPoints : MixtureInitialization.RandomResponsibilities)
        {
            HoldWeights = o.Held?.Weights ?? false,
        };
        bool[]? held = o.Held?.ComponentMask(k, "options.Held");
        for (int j = 0; j < k && held is not null; j++)
        {
            mixture.HoldComponent(j, held[j]);
        }

        if (givenWeights is not null || givenParameters is not null)
        {
            bool[] mask = new bool[mixture.ParameterLength];
            if (givenWeights is not null)
            {
                mixture.SetWeights(givenWeights);
                mask.AsSpan(0, k).Fill(true);
            }

            if (givenParameters is not null)
            {
                givenParameters.CopyTo(family.Parameters);
                mask.AsSpan(k).Fill(true);
            }

            mixture.SetGivenParameters(mask);
        }

        ExpectationMaximizationResult result = ExpectationMaximization.Fit(mixture, source, new ExpectationMaximizationOptions
        {
            MaxIterations = o.MaxIterations,
            Tolerance = o.Tolerance,
            StoppingRule = o.StoppingRule,
            Restarts = o.Restarts,
            Seed = o.Seed,
            MaxDegreeOfParallelism = o.MaxDegreeOfParallelism,
            Progress = o.Progress,
            CancellationToken = o.CancellationToken,
        });
        return DiscreteMixtureModel<T>.Fitted(mixture, result);
    }

    /// <summary>Checks component parameters of the family's layout (naming them by <paramref name="name"/>) and returns a copy.</summary>
    internal static double[] CheckParameters(double[] parameters, DiscreteDistribution distribution, int categories, int k, int features, string name)
    {
        categories = distribution == DiscreteDistribution.Categorical ? categories : 1;
        if (parameters.Length != k * features * categories)
        {
            throw new ArgumentException($"Expected {k * features * categories} parameters (components × features{(categories > 1 ? " × categories" : "")}), got {parameters.Length}.", name);
        }

        for (int i = 0; i < parameters.Length; i++)
        {
            double p = parameters[i];
            bool ok = distribution == DiscreteDistribution.Poisson ? double.IsFinite(p) && p >= 0 : p >= 0 && p <= 1;
            if (!ok)
            {
                throw new ArgumentException($"Parameter {i} is {p}; {(distribution == DiscreteDistribution.Poisson ? "rates must be finite and non-negative" : "probabilities must lie in [0, 1]")}.", name);
            }
        }

        if (distribution == DiscreteDistribution.Categorical)
        {
            for (int i = 0; i < k * features; i++)
            {
                double sum = parameters.AsSpan(i * categories, categories).ToArray().Sum();
                if (Math.Abs(sum - 1) > 1e-6)
                {
                    throw new ArgumentException($"The probabilities of component {i / features}, feature {i % features} sum to {sum}, not 1.", name);
                }
            }
        }

        return (double[])parameters.Clone();
    }
}

/// <summary>Which values each discrete family can take: one rule for the estimators, the models and the command line.</summary>
public static class DiscreteOutcomes
{
    /// <summary>Whether <paramref name="value"/> is an outcome: a whole number, ≥ 0, within the family's range.</summary>
    /// <param name="value">The value.</param>
    /// <param name="distribution">The family.</param>
    /// <param name="categories">C (categorical).</param>
    /// <param name="trials">T (binomial).</param>
    /// <returns>True when the family can take it.</returns>
    public static bool IsValid(double value, DiscreteDistribution distribution, int categories, int trials) =>
        double.IsFinite(value) && value >= 0 && value == Math.Floor(value) && distribution switch
        {
            DiscreteDistribution.Bernoulli => value <= 1,
            DiscreteDistribution.Binomial => value <= trials,
            DiscreteDistribution.Categorical => value < categories,
            _ => value <= int.MaxValue,
        };

    /// <summary>What the family's outcomes are, for messages: "0 or 1", "a category code in 0 … 4", …</summary>
    /// <param name="distribution">The family.</param>
    /// <param name="categories">C (categorical).</param>
    /// <param name="trials">T (binomial).</param>
    /// <returns>The description.</returns>
    public static string Expected(DiscreteDistribution distribution, int categories, int trials) => distribution switch
    {
        DiscreteDistribution.Bernoulli => "0 or 1",
        DiscreteDistribution.Binomial => $"a whole number of successes in 0 … {trials}",
        DiscreteDistribution.Categorical => $"a category code in 0 … {categories - 1}",
        _ => "a non-negative whole-number count",
    };
}
