using System.Numerics;
using System.Runtime.CompilerServices;
using EmKernels.Engine;
using EmKernels.Kernels;

namespace EmKernels.Mixtures;

/// <summary>
/// K components of independent discrete or count features (FORMAT.md §6.2–6.5): log-densities through
/// <see cref="DiscreteKernels"/>, weighted counts as statistics, a closed-form M-step with optional
/// smoothing (pseudo-counts) and the min(1, ·) clamp. The four subclasses are the distributions.
/// Parameters (<see cref="ComponentFamily{T}.Parameters"/>): probabilities p at <c>k·D + j</c> (categorical
/// <c>(k·D + j)·C + c</c>) or Poisson rates λ at <c>k·D + j</c>.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
/// <remarks>
/// Statistics (layout <c>{distribution}/1</c>): the masses N_k and the weighted counts Σ w r x (categorical:
/// Σ w r [x = c]) in the parameters' layout. Conventions: 0 · log 0 = 0, log 0 = −∞ (a point impossible
/// under a component gets responsibility exactly 0), never NaN.
/// </remarks>
public abstract class DiscreteComponents<T> : ComponentFamily<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>log(n!) for n &lt; 64, summed once, so per-point constants are a lookup.</summary>
    private static readonly double[] SmallLogFactorials = CumulativeLogs(64);

    private readonly T[] _first;
    private readonly T[] _complement;
    private readonly T[] _offsets;
    private double[] _frequencies;

    private protected DiscreteComponents(DiscreteDistribution distribution, int components, int features, int categories, int trials, double smoothing)
        : base(components, features, checked(components * features * categories), new StatisticsLayout(
            $"{distribution.ToString().ToLowerInvariant()}/1", new StatisticsBlock("mass", components), new StatisticsBlock("counts", checked(components * features * categories))))
    {
        if (!(smoothing >= 0) || double.IsInfinity(smoothing))
        {
            throw new ArgumentOutOfRangeException(nameof(smoothing), smoothing, "Must be finite and non-negative.");
        }

        Distribution = distribution;
        Categories = categories;
        Trials = trials;
        Smoothing = smoothing;
        _first = new T[Parameters.Length];
        _complement = new T[distribution is DiscreteDistribution.Bernoulli or DiscreteDistribution.Binomial ? Parameters.Length : 0];
        _offsets = new T[components];
        _frequencies = new double[features * categories];
        _frequencies.AsSpan().Fill(distribution == DiscreteDistribution.Poisson ? 1 : 1.0 / (distribution == DiscreteDistribution.Categorical ? categories : 2));
        for (int k = 0; k < components; k++)
        {
            _frequencies.CopyTo(Parameters.Slice(k * features * categories, features * categories));
        }
    }

    /// <summary>Which distribution.</summary>
    public DiscreteDistribution Distribution { get; }

    /// <summary>C for categorical, else 1.</summary>
    public int Categories { get; }

    /// <summary>T for binomial, 1 for Bernoulli, 0 otherwise.</summary>
    public int Trials { get; }

    /// <summary>Pseudo-counts s ≥ 0 of the MAP M-step (0: maximum likelihood); see <see cref="DiscreteMixtureOptions.Smoothing"/>.</summary>
    public double Smoothing { get; }

    /// <inheritdoc/>
    public override bool AccumulatesMass => true;

    /// <inheritdoc/>
    public override int FreeParameterCount => Distribution == DiscreteDistribution.Categorical
        ? Components * Features * (Categories - 1)
        : Components * Features;

    /// <summary>The data's own frequencies (or mean counts) in one component's parameter layout: the neutral start (after the fit has seen the data).</summary>
    public ReadOnlySpan<double> DataFrequencies => _frequencies;

    /// <summary>Creates the components of a distribution.</summary>
    /// <param name="distribution">The distribution.</param>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="categories">C (categorical; ≥ 1).</param>
    /// <param name="trials">T (binomial; ≥ 1).</param>
    /// <param name="smoothing">Pseudo-counts (≥ 0).</param>
    /// <returns>The family.</returns>
    public static DiscreteComponents<T> Create(DiscreteDistribution distribution, int components, int features, int categories = 1, int trials = 1, double smoothing = 0) => distribution switch
    {
        DiscreteDistribution.Bernoulli => new BernoulliComponents<T>(components, features, smoothing),
        DiscreteDistribution.Categorical => new CategoricalComponents<T>(components, features, categories, smoothing),
        DiscreteDistribution.Binomial => new BinomialComponents<T>(components, features, trials, smoothing),
        DiscreteDistribution.Poisson => new PoissonComponents<T>(components, features, smoothing),
        _ => throw new ArgumentOutOfRangeException(nameof(distribution), distribution, "Unknown distribution."),
    };

    /// <summary>Every value must be an outcome of the distribution; the first offender in the tile (by row, then column) is named.</summary>
    /// <param name="tile">The tile.</param>
    public override void Validate(in DataTile<T> tile)
    {
        int badRow = int.MaxValue, badColumn = -1;
        for (int j = 0; j < tile.Features; j++)
        {
            ReadOnlySpan<T> feature = tile.Feature(j);
            for (int n = 0; n < Math.Min(feature.Length, badRow); n++)
            {
                if (!DiscreteOutcomes.IsValid(double.CreateTruncating(feature[n]), Distribution, Categories, Trials))
                {
                    badRow = n;
                    badColumn = j;
                    break;
                }
            }
        }

        if (badColumn >= 0)
        {
            throw new ArgumentException($"The value {tile[badRow, badColumn]} at row {tile.Start + badRow}, column {badColumn} is not {DiscreteOutcomes.Expected(Distribution, Categories, Trials)}.", "data");
        }
    }

    /// <summary>The data's frequencies per feature (and category), or mean counts: one pass.</summary>
    /// <param name="context">The data.</param>
    public override void BeginFit(ModelInitialization<T> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        double[] result = new double[Features * Categories];
        double total = context.Summary.TotalWeight;
        int categories = Categories;
        bool categorical = Distribution == DiscreteDistribution.Categorical;
        int perTrial = Math.Max(1, Trials);
        context.SumValues(result, (in DataTile<T> tile, Span<double> result) =>
        {
            for (int j = 0; j < Features; j++)
            {
                ReadOnlySpan<T> feature = tile.Feature(j);
                for (int n = 0; n < feature.Length; n++)
                {
                    double w = double.CreateTruncating(tile.Weight(n));
                    double value = double.CreateTruncating(feature[n]);
                    if (categorical)
                    {
                        result[j * categories + (int)value] += w / total;
                    }
                    else
                    {
                        result[j] += w * value / total / perTrial;
                    }
                }
            }
        });
        _frequencies = result;
    }

    /// <summary>Every component starts at the data's own frequencies.</summary>
    /// <param name="component">0-based component.</param>
    /// <param name="summary">The data's summary.</param>
    public override void ResetComponent(int component, DataSummary summary)
    {
        int block = Features * Categories;
        _frequencies.CopyTo(Parameters.Slice(component * block, block));
    }

    /// <summary>Half the data's frequencies, half the point's own values.</summary>
    /// <param name="component">0-based component.</param>
    /// <param name="point">D values.</param>
    public override void Reseed(int component, ReadOnlySpan<double> point)
    {
        int block = Features * Categories;
        for (int j = 0; j < Features; j++)
        {
            for (int c = 0; c < Categories; c++)
            {
                int i = j * Categories + c;
                Parameters[component * block + i] = 0.5 * (_frequencies[i] + Own(point[j], c));
            }
        }
    }

    /// <summary>A point's own value as a parameter: its indicator (categorical), its count (Poisson) or its success fraction.</summary>
    private protected abstract double Own(double value, int category);

    /// <summary>The M-step for one parameter from its weighted count and the component's mass.</summary>
    private protected abstract double Estimate(double count, double mass);

    /// <inheritdoc/>
    protected override void Prepare(bool reshift)
    {
        ReadOnlySpan<double> parameters = Parameters;
        int block = Features * Categories;
        for (int k = 0; k < Components; k++)
        {
            double offset = LogWeights[k];
            for (int i = k * block; i < (k + 1) * block; i++)
            {
                double p = parameters[i];
                _first[i] = T.CreateTruncating(Math.Log(p));
                if (_complement.Length > 0)
                {
                    _complement[i] = T.CreateTruncating(Math.Log(1 - p));
                }

                if (Distribution == DiscreteDistribution.Poisson)
                {
                    offset -= p; // −Σ_j λ_kj
                }
            }

            _offsets[k] = T.CreateTruncating(offset);
        }
    }

    /// <inheritdoc/>
    public override int WorkspaceLength(int tilePoints) => Distribution is DiscreteDistribution.Binomial or DiscreteDistribution.Poisson ? tilePoints : 0;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void LogProbabilities(in DataTile<T> tile, Span<T> destination, Span<T> workspace)
    {
        int points = tile.Points;
        switch (Distribution)
        {
            case DiscreteDistribution.Bernoulli:
                DiscreteKernels.BernoulliLogDensity<T>(tile.Values, Features, points, tile.Stride, Components, _first, _complement, _offsets, destination);
                break;
            case DiscreteDistribution.Binomial:
                PointOffsets(tile, workspace[..points]);
                DiscreteKernels.BinomialLogDensity<T>(tile.Values, Features, points, tile.Stride, Components, _first, _complement, T.CreateTruncating(Trials), _offsets, workspace[..points], destination);
                break;
            case DiscreteDistribution.Poisson:
                PointOffsets(tile, workspace[..points]);
                DiscreteKernels.PoissonLogDensity<T>(tile.Values, Features, points, tile.Stride, Components, _first, _offsets, workspace[..points], destination);
                break;
            default:
                DiscreteKernels.CategoricalLogDensity<T>(tile.Values, Features, points, tile.Stride, Components, Categories, _first, _offsets, destination);
                break;
        }
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Accumulate(in DataTile<T> tile, ReadOnlySpan<T> responsibilities, SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        if (Distribution == DiscreteDistribution.Categorical)
        {
            DiscreteKernels.CategoricalSufficientStatistics<T>(tile.Values, Features, tile.Points, tile.Stride, responsibilities, Components, Categories, tile.SampleWeights, Mass(statistics), Moments(statistics));
        }
        else
        {
            DiscreteKernels.CountSufficientStatistics<T>(tile.Values, Features, tile.Points, tile.Stride, responsibilities, Components, tile.SampleWeights, Mass(statistics), Moments(statistics));
        }
    }

    /// <summary>E[count] per parameter times w_k: w p (Bernoulli, categorical), w T p (binomial), w λ (Poisson).</summary>
    /// <param name="weights">K weights.</param>
    /// <param name="statistics">Statistics zeroed by the caller.</param>
    /// <returns>True.</returns>
    public override bool TryWriteImpliedStatistics(ReadOnlySpan<double> weights, SufficientStatistics statistics)
    {
        Span<double> counts = Moments(statistics);
        int block = Features * Categories;
        double perPoint = Distribution == DiscreteDistribution.Binomial ? Trials : 1;
        for (int k = 0; k < Components; k++)
        {
            for (int i = k * block; i < (k + 1) * block; i++)
            {
                counts[i] = weights[k] * perPoint * Parameters[i];
            }
        }

        return true;
    }

    /// <inheritdoc/>
    protected override bool MaximizeComponent(int component, double mass, ReadOnlySpan<double> moments)
    {
        Span<double> parameters = Parameters.Slice(component * moments.Length, moments.Length);
        for (int i = 0; i < moments.Length; i++)
        {
            parameters[i] = Estimate(moments[i], mass);
        }

        return true;
    }

    /// <summary>log(n!): the table for small n, Stirling's series beyond (its error is far below double rounding there).</summary>
    internal static double LogFactorial(int n)
    {
        if (n < SmallLogFactorials.Length)
        {
            return SmallLogFactorials[Math.Max(n, 0)];
        }

        double x = n + 1.0;
        return (x - 0.5) * Math.Log(x) - x + 0.5 * Math.Log(2 * Math.PI) + 1 / (12 * x) - 1 / (360 * x * x * x) + 1 / (1260 * Math.Pow(x, 5));
    }

    /// <summary>Per point: Σ_j log C(T, x_j) (binomial) or −Σ_j log(x_j!) (Poisson), summed in double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void PointOffsets(in DataTile<T> tile, Span<T> destination)
    {
        int points = tile.Points;
        for (int n = 0; n < points; n++)
        {
            double sum = 0;
            for (int j = 0; j < Features; j++)
            {
                int x = int.CreateTruncating(tile[n, j]);
                sum += Distribution == DiscreteDistribution.Binomial
                    ? LogFactorial(Trials) - LogFactorial(x) - LogFactorial(Trials - x)
                    : -LogFactorial(x);
            }

            destination[n] = T.CreateTruncating(sum);
        }
    }

    private static double[] CumulativeLogs(int length)
    {
        double[] table = new double[length];
        for (int i = 2; i < length; i++)
        {
            table[i] = table[i - 1] + Math.Log(i);
        }

        return table;
    }
}

/// <summary>Independent Bernoulli features (values 0 or 1); parameters p_kj = P(x_j = 1 | k). MAP with s: p = (Σ w r x + s) / (N_k + 2s).</summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class BernoulliComponents<T> : DiscreteComponents<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>K Bernoulli components, every probability ½.</summary>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="smoothing">Pseudo-counts s (≥ 0).</param>
    public BernoulliComponents(int components, int features, double smoothing = 0)
        : base(DiscreteDistribution.Bernoulli, components, features, 1, 1, smoothing)
    {
    }

    private protected override double Own(double value, int category) => value;

    // The min(1, ·) catches quotients that round to 1 + 2⁻⁵².
    private protected override double Estimate(double count, double mass) => Math.Min(1, (count + Smoothing) / (mass + 2 * Smoothing));
}

/// <summary>Independent categorical features with C categories (codes 0 … C − 1); parameters p_kjc. MAP with s: p_c = (n_c + s) / (N_k + C s).</summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class CategoricalComponents<T> : DiscreteComponents<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>K categorical components, every category 1/C.</summary>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="categories">C (≥ 1).</param>
    /// <param name="smoothing">Pseudo-counts s (≥ 0).</param>
    public CategoricalComponents(int components, int features, int categories, double smoothing = 0)
        : base(DiscreteDistribution.Categorical, components, features, CheckCategories(categories), 1, smoothing)
    {
    }

    private protected override double Own(double value, int category) => value == category ? 1 : 0;

    private protected override double Estimate(double count, double mass) => Math.Min(1, (count + Smoothing) / (mass + Categories * Smoothing));

    private static int CheckCategories(int categories)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(categories, 1);
        return categories;
    }
}

/// <summary>Independent binomial features with T trials (success counts 0 … T); parameters p_kj. MAP with s: p = (Σ w r x + s) / (T N_k + 2s).</summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class BinomialComponents<T> : DiscreteComponents<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>K binomial components, every probability ½.</summary>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="trials">T (≥ 1).</param>
    /// <param name="smoothing">Pseudo-counts s (≥ 0).</param>
    public BinomialComponents(int components, int features, int trials, double smoothing = 0)
        : base(DiscreteDistribution.Binomial, components, features, 1, CheckTrials(trials), smoothing)
    {
    }

    private protected override double Own(double value, int category) => value / Trials;

    private protected override double Estimate(double count, double mass) => Math.Min(1, (count + Smoothing) / (Trials * mass + 2 * Smoothing));

    private static int CheckTrials(int trials)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(trials, 1);
        return trials;
    }
}

/// <summary>Independent Poisson features (counts ≥ 0); parameters λ_kj. MAP with s: λ = (Σ w r x + s) / (N_k + s).</summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class PoissonComponents<T> : DiscreteComponents<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>K Poisson components, every rate 1.</summary>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="smoothing">Pseudo-counts s (≥ 0).</param>
    public PoissonComponents(int components, int features, double smoothing = 0)
        : base(DiscreteDistribution.Poisson, components, features, 1, 0, smoothing)
    {
    }

    private protected override double Own(double value, int category) => value;

    private protected override double Estimate(double count, double mass) => (count + Smoothing) / (mass + Smoothing);
}
