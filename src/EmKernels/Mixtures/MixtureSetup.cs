using System.Numerics;

namespace EmKernels.Mixtures;

/// <summary>What every mixture estimator and model does the same way: option checks, start weights, random starts, draws.</summary>
internal static class MixtureSetup
{
    /// <summary>Checks the options every mixture shares, naming them as <c>options.Name</c>.</summary>
    public static void CheckOptions(int components, int maxIterations, int restarts, double tolerance, int? maxDegreeOfParallelism)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(components, 1, "options.Components");
        ArgumentOutOfRangeException.ThrowIfLessThan(maxIterations, 1, "options.MaxIterations");
        ArgumentOutOfRangeException.ThrowIfLessThan(restarts, 1, "options.Restarts");
        if (!(tolerance >= 0) || double.IsInfinity(tolerance))
        {
            throw new ArgumentOutOfRangeException("options.Tolerance", tolerance, "Must be finite and non-negative.");
        }

        if (maxDegreeOfParallelism is < 1)
        {
            throw new ArgumentOutOfRangeException("options.MaxDegreeOfParallelism", maxDegreeOfParallelism, "Must be at least 1 (or null for every core).");
        }
    }

    /// <summary>A validated copy of given start weights: K values, finite, non-negative, summing to 1 within 1e-6.</summary>
    public static double[] StartWeights(double[] weights, int components, string name)
    {
        if (weights.Length != components)
        {
            throw new ArgumentException($"Expected {components} values (one per component), got {weights.Length}.", name);
        }

        double sum = 0;
        for (int k = 0; k < components; k++)
        {
            if (!double.IsFinite(weights[k]) || weights[k] < 0)
            {
                throw new ArgumentException($"Weight {k} is {weights[k]}; weights must be finite and non-negative.", name);
            }

            sum += weights[k];
        }

        if (Math.Abs(sum - 1) > 1e-6)
        {
            throw new ArgumentException($"The weights sum to {sum}, not 1 (within 1e-6).", name);
        }

        return (double[])weights.Clone();
    }

    /// <summary>The engine's initialization for an estimator's option.</summary>
    public static MixtureInitialization Initialization(GaussianMixtureInitialization initialization) => initialization switch
    {
        GaussianMixtureInitialization.RandomResponsibilities => MixtureInitialization.RandomResponsibilities,
        GaussianMixtureInitialization.RandomPoints => MixtureInitialization.RandomPoints,
        GaussianMixtureInitialization.Hierarchical => MixtureInitialization.Hierarchical,
        _ => MixtureInitialization.KMeans,
    };

    /// <summary>Uniform random responsibilities, normalised per point: K × count, component-major.</summary>
    public static void RandomResponsibilities<T>(Random random, int components, int count, Span<T> responsibilities)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Span<double> row = components <= 256 ? stackalloc double[components] : new double[components];
        for (int i = 0; i < count; i++)
        {
            double sum = 0;
            for (int k = 0; k < components; k++)
            {
                row[k] = random.NextDouble();
                sum += row[k];
            }

            for (int k = 0; k < components; k++)
            {
                responsibilities[k * count + i] = T.CreateTruncating(row[k] / sum);
            }
        }
    }

    /// <summary>
    /// Uniform random responsibilities of points [<paramref name="first"/>, <paramref name="first"/> + <paramref name="count"/>)
    /// (K × count), each row normalized: point n's values are a function of <paramref name="seed"/> and n alone (SplitMix64 of
    /// the seed and n K + k), so they do not depend on how the points are split into tiles, passes or processes.
    /// </summary>
    public static void RandomResponsibilities<T>(long seed, int components, long first, int count, Span<T> responsibilities)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Span<double> row = components <= 256 ? stackalloc double[components] : new double[components];
        for (int i = 0; i < count; i++)
        {
            double sum = 0;
            for (int k = 0; k < components; k++)
            {
                row[k] = Uniform(unchecked((ulong)seed + (((ulong)(first + i) * (ulong)components) + (ulong)k) * 0x9E3779B97F4A7C15UL));
                sum += row[k];
            }

            for (int k = 0; k < components; k++)
            {
                responsibilities[k * count + i] = T.CreateTruncating(row[k] / sum);
            }
        }
    }

    /// <summary>A uniform value in [2^−53, 1] from a key, by SplitMix64's finalizer (never 0, so a row never sums to 0).</summary>
    private static double Uniform(ulong key)
    {
        ulong z = unchecked(key + 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return ((z >> 11) + 1) * (1.0 / (1UL << 53));
    }

    /// <summary>An index drawn with the given probabilities (the last one takes any rounding remainder).</summary>
    public static int Draw(Random random, ReadOnlySpan<double> probabilities)
    {
        double u = random.NextDouble();
        double cumulative = 0;
        for (int i = 0; i < probabilities.Length - 1; i++)
        {
            cumulative += probabilities[i];
            if (u < cumulative)
            {
                return i;
            }
        }

        return probabilities.Length - 1;
    }
}
