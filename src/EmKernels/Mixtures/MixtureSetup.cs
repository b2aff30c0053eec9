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
