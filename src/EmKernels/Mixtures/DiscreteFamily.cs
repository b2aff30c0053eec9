using System.Numerics;
using EmKernels.Kernels;

namespace EmKernels.Mixtures;

/// <summary>The discrete and count component families.</summary>
public enum DiscreteDistribution
{
    /// <summary>Independent Bernoulli features (values 0 or 1); parameters p_kj = P(x_j = 1 | k).</summary>
    Bernoulli,

    /// <summary>Independent categorical features with C categories (codes 0 … C − 1); parameters p_kjc.</summary>
    Categorical,

    /// <summary>Independent binomial features with T trials (counts 0 … T); parameters p_kj.</summary>
    Binomial,

    /// <summary>Independent Poisson features (counts ≥ 0); parameters λ_kj.</summary>
    Poisson,
}

/// <summary>
/// Discrete components (FORMAT.md §6.2–6.5): log-densities through <see cref="DiscreteKernels"/>,
/// weighted counts as statistics, a closed-form M-step with optional smoothing (pseudo-counts), the
/// min(1, ·) clamp. Per-point constants (Σ log C(T, x), −Σ log x!) are computed once for the data.
/// </summary>
internal sealed class DiscreteFamily<T> : IMixtureFamily<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly double _smoothing;
    private readonly double[] _reseedParameters;
    private readonly T[] _first;
    private readonly T[] _complement;
    private readonly T[] _offsets;
    private readonly T[] _pointOffsets;

    public DiscreteFamily(DiscreteDistribution distribution, int components, int features, int categories, int trials, double smoothing, FeatureMajorMatrix<T> data, T[]? weights)
    {
        Distribution = distribution;
        Components = components;
        Features = features;
        Categories = distribution == DiscreteDistribution.Categorical ? categories : 1;
        Trials = distribution switch { DiscreteDistribution.Bernoulli => 1, DiscreteDistribution.Binomial => trials, _ => 0 };
        _smoothing = smoothing;
        Parameters = new double[components * features * Categories];
        _first = new T[Parameters.Length];
        _complement = new T[distribution is DiscreteDistribution.Bernoulli or DiscreteDistribution.Binomial ? Parameters.Length : 0];
        _offsets = new T[components];
        _pointOffsets = PointOffsets(distribution, Trials, data);
        _reseedParameters = Frequencies(data, weights);
    }

    public DiscreteDistribution Distribution { get; }

    public int Components { get; }

    public int Features { get; }

    /// <summary>C for categorical, else 1.</summary>
    public int Categories { get; }

    /// <summary>T for binomial, 1 for Bernoulli, 0 otherwise.</summary>
    public int Trials { get; }

    /// <summary>Probabilities (K × D, or K × D × C) or rates (K × D).</summary>
    public double[] Parameters { get; }

    /// <summary>The data's own frequencies (or mean counts) in the parameters' per-component layout: a neutral start.</summary>
    public ReadOnlySpan<double> DataFrequencies => _reseedParameters;

    public int DensityParameters => Distribution == DiscreteDistribution.Categorical
        ? Components * Features * (Categories - 1)
        : Components * Features;

    public SufficientStatistics CreateStatistics() => new(Components, Parameters.Length, 0);

    public void PrepareExpectation(ReadOnlySpan<double> logWeights)
    {
        for (int k = 0; k < Components; k++)
        {
            double offset = logWeights[k];
            for (int i = k * Features * Categories; i < (k + 1) * Features * Categories; i++)
            {
                double p = Parameters[i];
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

    public void LogProbabilities(ReadOnlySpan<T> tile, int start, int points, int stride, Span<T> destination)
    {
        switch (Distribution)
        {
            case DiscreteDistribution.Bernoulli:
                DiscreteKernels.BernoulliLogDensity<T>(tile, Features, points, stride, Components, _first, _complement, _offsets, destination);
                break;
            case DiscreteDistribution.Binomial:
                DiscreteKernels.BinomialLogDensity<T>(tile, Features, points, stride, Components, _first, _complement, T.CreateTruncating(Trials), _offsets, _pointOffsets.AsSpan(start, points), destination);
                break;
            case DiscreteDistribution.Poisson:
                DiscreteKernels.PoissonLogDensity<T>(tile, Features, points, stride, Components, _first, _offsets, _pointOffsets.AsSpan(start, points), destination);
                break;
            default:
                DiscreteKernels.CategoricalLogDensity<T>(tile, Features, points, stride, Components, Categories, _first, _offsets, destination);
                break;
        }
    }

    public void Accumulate(ReadOnlySpan<T> tile, int points, int stride, ReadOnlySpan<T> responsibilities, ReadOnlySpan<T> sampleWeights, SufficientStatistics statistics)
    {
        if (Distribution == DiscreteDistribution.Categorical)
        {
            DiscreteKernels.CategoricalSufficientStatistics<T>(tile, Features, points, stride, responsibilities, Components, Categories, sampleWeights, statistics.Mass, statistics.First);
        }
        else
        {
            DiscreteKernels.CountSufficientStatistics<T>(tile, Features, points, stride, responsibilities, Components, sampleWeights, statistics.Mass, statistics.First);
        }
    }

    public void Maximize(SufficientStatistics statistics, ReadOnlySpan<bool> held, Span<bool> degenerate)
    {
        double totalMass = 0;
        for (int k = 0; k < Components; k++)
        {
            totalMass += statistics.Mass[k];
        }

        double minimumMass = Math.Max(1e-12 * totalMass, 1e-300);
        double s = _smoothing;
        int block = Features * Categories;
        for (int k = 0; k < Components; k++)
        {
            double mass = statistics.Mass[k];
            degenerate[k] = !held[k] && !(mass > minimumMass);
            if (degenerate[k] || held[k])
            {
                continue;
            }

            for (int i = k * block; i < (k + 1) * block; i++)
            {
                double count = statistics.First[i];

                // MAP with pseudo-counts s (s = 0: maximum likelihood). The min(1, ·) catches quotients that round to 1 + 2⁻⁵².
                Parameters[i] = Distribution switch
                {
                    DiscreteDistribution.Bernoulli => Math.Min(1, (count + s) / (mass + 2 * s)),
                    DiscreteDistribution.Binomial => Math.Min(1, (count + s) / (Trials * mass + 2 * s)),
                    DiscreteDistribution.Poisson => (count + s) / (mass + s),
                    _ => Math.Min(1, (count + s) / (mass + Categories * s)),
                };
            }
        }
    }

    public void Reseed(int component, ReadOnlySpan<double> point)
    {
        // Half the data's frequencies, half the worst-explained point's own values.
        int block = Features * Categories;
        for (int j = 0; j < Features; j++)
        {
            for (int c = 0; c < Categories; c++)
            {
                int i = j * Categories + c;
                double own = Distribution switch
                {
                    DiscreteDistribution.Categorical => point[j] == c ? 1 : 0,
                    DiscreteDistribution.Poisson => point[j],
                    _ => point[j] / Trials,
                };
                Parameters[component * block + i] = 0.5 * (_reseedParameters[i] + own);
            }
        }
    }

    /// <summary>The data's frequencies per feature (and category), or mean counts for Poisson.</summary>
    private double[] Frequencies(FeatureMajorMatrix<T> data, T[]? weights)
    {
        double[] result = new double[Features * Categories];
        double total = 0;
        for (int n = 0; n < data.Points; n++)
        {
            total += weights is null ? 1 : double.CreateTruncating(weights[n]);
        }

        for (int j = 0; j < Features; j++)
        {
            Span<T> feature = data.Feature(j);
            for (int n = 0; n < feature.Length; n++)
            {
                double w = weights is null ? 1 : double.CreateTruncating(weights[n]);
                double value = double.CreateTruncating(feature[n]);
                if (Distribution == DiscreteDistribution.Categorical)
                {
                    result[j * Categories + (int)value] += w / total;
                }
                else
                {
                    result[j] += w * value / total / Math.Max(1, Trials);
                }
            }
        }

        return result;
    }

    /// <summary>Per point: Σ_j log C(T, x_j) (binomial), −Σ_j log(x_j!) (Poisson), else nothing.</summary>
    private static T[] PointOffsets(DiscreteDistribution distribution, int trials, FeatureMajorMatrix<T> data)
    {
        if (distribution is not (DiscreteDistribution.Binomial or DiscreteDistribution.Poisson))
        {
            return [];
        }

        double[] sums = new double[data.Points];
        for (int j = 0; j < data.Features; j++)
        {
            Span<T> feature = data.Feature(j);
            for (int n = 0; n < feature.Length; n++)
            {
                int x = int.CreateTruncating(feature[n]);
                sums[n] += distribution == DiscreteDistribution.Binomial
                    ? LogFactorial(trials) - LogFactorial(x) - LogFactorial(trials - x)
                    : -LogFactorial(x);
            }
        }

        return sums.Select(T.CreateTruncating).ToArray();
    }

    /// <summary>log(n!) for n &lt; 64, summed once (the same sums the definition gives), so building per-point constants is a lookup.</summary>
    private static readonly double[] SmallLogFactorials = CumulativeLogs(64);

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
