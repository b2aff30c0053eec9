using System.Diagnostics;
using System.Numerics;

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
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">A value is not 0 or 1 (row and column named), or weights or starting parameters are invalid.</exception>
    public DiscreteMixtureModel<T> Fit(ReadOnlySpan<T> data, int points, int features, ReadOnlySpan<T> sampleWeights = default) =>
        _fitter.Fit(data, points, features, sampleWeights);
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
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">A code is not a whole number in 0 … C − 1 (row and column named), or weights or starting parameters are invalid.</exception>
    public DiscreteMixtureModel<T> Fit(ReadOnlySpan<T> data, int points, int features, ReadOnlySpan<T> sampleWeights = default) =>
        _fitter.Fit(data, points, features, sampleWeights);
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
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">A count is not a whole number in 0 … T (row and column named), or weights or starting parameters are invalid.</exception>
    public DiscreteMixtureModel<T> Fit(ReadOnlySpan<T> data, int points, int features, ReadOnlySpan<T> sampleWeights = default) =>
        _fitter.Fit(data, points, features, sampleWeights);
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
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">A count is negative or not a whole number (row and column named), or weights or starting parameters are invalid.</exception>
    public DiscreteMixtureModel<T> Fit(ReadOnlySpan<T> data, int points, int features, ReadOnlySpan<T> sampleWeights = default) =>
        _fitter.Fit(data, points, features, sampleWeights);
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

    public DiscreteMixtureModel<T> Fit(ReadOnlySpan<T> rowMajor, int points, int features, ReadOnlySpan<T> sampleWeights)
    {
        var clock = Stopwatch.StartNew();
        DiscreteMixtureOptions o = _options;
        var data = FeatureMajorMatrix<T>.FromRowMajor(rowMajor, points, features);
        int k = o.Components;
        CheckValues(data, _distribution, _categories, _trials);
        if (points < k)
        {
            throw new ArgumentException($"There are {points} points but {k} components; a mixture needs at least as many points as components.", "data");
        }

        T[]? weights = DataChecks.SampleWeights(sampleWeights, points);
        double[]? givenWeights = o.InitialWeights is null ? null : MixtureSetup.StartWeights(o.InitialWeights, k, "options.InitialWeights");
        double[]? givenParameters = o.InitialParameters is null ? null : CheckParameters(o.InitialParameters, _distribution, _categories, k, features, "options.InitialParameters");

        var family = new DiscreteFamily<T>(_distribution, k, features, _categories, _trials, o.Smoothing, data, weights);
        using var em = new ExpectationMaximization<T>(data, weights, family, o.MaxDegreeOfParallelism ?? Environment.ProcessorCount, o.Held);
        int seed = o.Seed ?? Random.Shared.Next();
        double[] logWeights = new double[k];
        bool complete = givenWeights is not null && givenParameters is not null;
        double[] bestLogWeights = new double[k];
        double[] bestParameters = new double[family.Parameters.Length];
        (ExpectationMaximization<T>.RunResult best, ComponentReseed[] reseeds) = em.RunRestarts(
            logWeights, bestLogWeights, o.Restarts, seed, complete, o.MaxIterations, o.Tolerance, o.Progress, clock,
            random =>
            {
                Initialize(data, weights, family, em, logWeights, complete, random);
                if (givenWeights is not null)
                {
                    for (int j = 0; j < k; j++)
                    {
                        logWeights[j] = Math.Log(givenWeights[j]);
                    }
                }

                givenParameters?.CopyTo(family.Parameters, 0);
            },
            () => family.Parameters.CopyTo(bestParameters, 0));

        return new DiscreteMixtureModel<T>(
            _distribution, k, features, family.Categories, family.Trials, bestLogWeights.Select(w => Math.Exp(w)).ToArray(), bestParameters,
            best.Converged, best.Iterations, best.History, best.Decreases, reseeds);
    }

    private void Initialize(FeatureMajorMatrix<T> data, T[]? weights, DiscreteFamily<T> family, ExpectationMaximization<T> em, double[] logWeights, bool complete, Random random)
    {
        int k = family.Components;
        int block = family.Features * family.Categories;
        Array.Fill(logWeights, -Math.Log(k));
        for (int j = 0; j < k; j++)
        {
            family.DataFrequencies.CopyTo(family.Parameters.AsSpan(j * block, block));
        }

        if (complete)
        {
            return;
        }

        if (_options.Initialization == DiscreteMixtureInitialization.RandomResponsibilities)
        {
            em.MaximizeFrom((start, count, r) => MixtureSetup.RandomResponsibilities(random, k, count, r), logWeights);
            return;
        }

        int[] rows = Enumerable.Range(0, data.Points).Where(i => weights is null || weights[i] > T.Zero).ToArray();
        random.Shuffle(rows);
        double[] point = new double[family.Features];
        for (int j = 0; j < k; j++)
        {
            int row = rows[j % rows.Length];
            for (int f = 0; f < family.Features; f++)
            {
                point[f] = double.CreateTruncating(data[row, f]);
            }

            family.Reseed(j, point);
        }
    }

    /// <summary>Every value must be a valid outcome of the family; the first offender (in row order) is named.</summary>
    internal static void CheckValues(FeatureMajorMatrix<T> data, DiscreteDistribution distribution, int categories, int trials)
    {
        int badRow = int.MaxValue, badColumn = -1;
        for (int j = 0; j < data.Features; j++)
        {
            Span<T> feature = data.Feature(j);
            for (int n = 0; n < Math.Min(feature.Length, badRow); n++)
            {
                if (!DiscreteOutcomes.IsValid(double.CreateTruncating(feature[n]), distribution, categories, trials))
                {
                    badRow = n;
                    badColumn = j;
                    break;
                }
            }
        }

        if (badColumn >= 0)
        {
            throw new ArgumentException($"The value {data[badRow, badColumn]} at row {badRow}, column {badColumn} is not {DiscreteOutcomes.Expected(distribution, categories, trials)}.", "data");
        }
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
internal static class DiscreteOutcomes
{
    /// <summary>Whether <paramref name="value"/> is an outcome: a whole number, ≥ 0, within the family's range.</summary>
    public static bool IsValid(double value, DiscreteDistribution distribution, int categories, int trials) =>
        double.IsFinite(value) && value >= 0 && value == Math.Floor(value) && distribution switch
        {
            DiscreteDistribution.Bernoulli => value <= 1,
            DiscreteDistribution.Binomial => value <= trials,
            DiscreteDistribution.Categorical => value < categories,
            _ => value <= int.MaxValue,
        };

    /// <summary>What the family's outcomes are, for messages: "0 or 1", "a category code in 0 … 4", …</summary>
    public static string Expected(DiscreteDistribution distribution, int categories, int trials) => distribution switch
    {
        DiscreteDistribution.Bernoulli => "0 or 1",
        DiscreteDistribution.Binomial => $"a whole number of successes in 0 … {trials}",
        DiscreteDistribution.Categorical => $"a category code in 0 … {categories - 1}",
        _ => "a non-negative whole-number count",
    };
}
