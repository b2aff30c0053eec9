using System.Numerics;

namespace EmKernels.Mixtures;

/// <summary>Validation of what callers pass to the estimators, with messages that say where the problem is.</summary>
internal static class DataChecks
{
    /// <summary>Throws if any value is NaN or ±∞, naming the first such row (and its column) in row order.</summary>
    public static void Finite<T>(FeatureMajorMatrix<T> data, string paramName)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int badRow = int.MaxValue;
        int badColumn = -1;
        for (int d = 0; d < data.Features; d++)
        {
            Span<T> feature = data.Feature(d);
            for (int n = 0; n < Math.Min(feature.Length, badRow); n++)
            {
                if (!T.IsFinite(feature[n]))
                {
                    badRow = n;
                    badColumn = d;
                    break;
                }
            }
        }

        if (badColumn >= 0)
        {
            throw new ArgumentException($"The data contain {data[badRow, badColumn]} at row {badRow}, column {badColumn}; every value must be finite.", paramName);
        }
    }

    /// <summary>A validated copy of the sample weights, or null when none were given.</summary>
    public static T[]? SampleWeights<T>(ReadOnlySpan<T> weights, int points)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (weights.IsEmpty)
        {
            return null;
        }

        if (weights.Length != points)
        {
            throw new ArgumentException($"There are {weights.Length} sample weights for {points} points.", "sampleWeights");
        }

        double sum = 0;
        for (int i = 0; i < weights.Length; i++)
        {
            if (!T.IsFinite(weights[i]) || weights[i] < T.Zero)
            {
                throw new ArgumentException($"Sample weight {i} is {weights[i]}; weights must be finite and non-negative.", "sampleWeights");
            }

            sum += double.CreateTruncating(weights[i]);
        }

        if (!(sum > 0))
        {
            throw new ArgumentException("All sample weights are zero.", "sampleWeights");
        }

        return weights.ToArray();
    }

    /// <summary>The (weighted) mean of each feature, in double.</summary>
    public static double[] Mean<T>(FeatureMajorMatrix<T> data, T[]? weights)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        double[] mean = new double[data.Features];
        double total = 0;
        for (int n = 0; n < data.Points; n++)
        {
            total += weights is null ? 1 : double.CreateTruncating(weights[n]);
        }

        for (int d = 0; d < data.Features; d++)
        {
            Span<T> feature = data.Feature(d);
            double sum = 0;
            for (int n = 0; n < feature.Length; n++)
            {
                sum += (weights is null ? 1 : double.CreateTruncating(weights[n])) * double.CreateTruncating(feature[n]);
            }

            mean[d] = sum / total;
        }

        return mean;
    }
}
