using System.Numerics;
using EmKernels.Kernels;

namespace EmKernels.Mixtures;

/// <summary>
/// k-means++ seeding (D² sampling, weighted by the sample weights) refined by Lloyd iterations, for
/// initialising mixtures. Like scikit-learn's KMeans (which its GaussianMixture uses), Lloyd stops when
/// no label changes or when the centres move by at most <c>tolerance</c> × the mean feature variance
/// in total squared distance, and then relabels once so labels match the final centres. Distances come from <see cref="GaussianKernels.SphericalLogDensity{T}"/> with
/// unit precision and zero offset, which is −½‖x − μ‖².
/// </summary>
internal static class KMeans
{
    /// <summary>Labels for the points: k-means++ seeding, then Lloyd iterations.</summary>
    /// <param name="data">The (centred) data.</param>
    /// <param name="weights">Sample weights, or null.</param>
    /// <param name="components">K.</param>
    /// <param name="meanVariance">The data's (weighted) feature variances averaged over features: the scale of the tolerance
    /// (the caller has the data's covariance already).</param>
    /// <param name="random">The restart's random source.</param>
    /// <param name="maxIterations">Lloyd iterations at most.</param>
    /// <param name="tolerance">Stop when the centres move by at most this × <paramref name="meanVariance"/> (squared distance, summed).</param>
    /// <returns>N labels.</returns>
    public static int[] Cluster<T>(FeatureMajorMatrix<T> data, T[]? weights, int components, double meanVariance, Random random, int maxIterations = 300, double tolerance = 1e-4)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int n = data.Points;
        int d = data.Features;
        const int Tile = ExpectationMaximization<T>.Tile;
        double[] centers = new double[components * d];
        T[] centersT = new T[components * d];
        T[] unit = new T[components];
        T[] zero = new T[components];
        unit.AsSpan().Fill(T.One);
        T[] block = new T[components * Tile];
        double[] nearest = new double[n];
        Array.Fill(nearest, double.PositiveInfinity);

        // k-means++: each new centre is a point drawn with probability ∝ w · (distance to the nearest centre)².
        int first = Draw(weights, null, n, random);
        CopyPoint(data, first, centers.AsSpan(0, d));
        for (int c = 0; c < components; c++)
        {
            if (c > 0)
            {
                int next = Draw(weights, nearest, n, random);
                CopyPoint(data, next, centers.AsSpan(c * d, d));
            }

            for (int i = 0; i < d; i++)
            {
                centersT[i] = T.CreateTruncating(centers[c * d + i]);
            }

            for (int start = 0; start < n; start += Tile)
            {
                int count = Math.Min(Tile, n - start);
                GaussianKernels.SphericalLogDensity<T>(data.Tile(start, count), d, count, data.Stride, 1, centersT.AsSpan(0, d), unit.AsSpan(0, 1), zero.AsSpan(0, 1), block.AsSpan(0, count));
                for (int i = 0; i < count; i++)
                {
                    nearest[start + i] = Math.Min(nearest[start + i], -2 * double.CreateTruncating(block[i]));
                }
            }
        }

        // Lloyd iterations. One pass per iteration: each tile is labelled and its one-hot
        // responsibilities go straight to the weighted-sum kernel, which gives the next centres.
        double shiftTolerance = tolerance * meanVariance;
        bool lastPass = false;
        int[] labels = new int[n];
        Array.Fill(labels, -1);
        double[] sums = new double[components * d];
        double[] mass = new double[components];
        T[] oneHot = new T[components * Tile];
        for (int iteration = 0; iteration < maxIterations; iteration++)
        {
            for (int i = 0; i < centers.Length; i++)
            {
                centersT[i] = T.CreateTruncating(centers[i]);
            }

            Array.Clear(sums);
            Array.Clear(mass);
            bool changed = false;
            for (int start = 0; start < n; start += Tile)
            {
                int count = Math.Min(Tile, n - start);
                ReadOnlySpan<T> tile = data.Tile(start, count);
                Span<T> r = oneHot.AsSpan(0, components * count);
                GaussianKernels.SphericalLogDensity<T>(tile, d, count, data.Stride, components, centersT, unit, zero, block.AsSpan(0, components * count));
                r.Clear();
                for (int i = 0; i < count; i++)
                {
                    int best = 0;
                    for (int c = 1; c < components; c++)
                    {
                        if (block[c * count + i] > block[best * count + i])
                        {
                            best = c;
                        }
                    }

                    changed |= labels[start + i] != best;
                    labels[start + i] = best;
                    r[best * count + i] = T.One;
                }

                DiscreteKernels.CountSufficientStatistics<T>(tile, d, count, data.Stride, r, components, weights is null ? default : weights.AsSpan(start, count), mass, sums);
            }

            if (!changed || lastPass)
            {
                break;
            }

            double shift = 0;
            for (int c = 0; c < components; c++)
            {
                if (mass[c] > 0)
                {
                    for (int f = 0; f < d; f++)
                    {
                        double moved = sums[c * d + f] / mass[c];
                        shift += (moved - centers[c * d + f]) * (moved - centers[c * d + f]);
                        centers[c * d + f] = moved;
                    }
                }
            }

            lastPass = shift <= shiftTolerance; // one more labelling pass, against the final centres
        }

        return labels;
    }

    private static void CopyPoint<T>(FeatureMajorMatrix<T> data, int point, Span<double> destination)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        for (int f = 0; f < data.Features; f++)
        {
            destination[f] = double.CreateTruncating(data[point, f]);
        }
    }

    /// <summary>A point drawn with probability ∝ w_n · score_n (score 1 when null); uniform among positive weights if all products are 0.</summary>
    private static int Draw<T>(T[]? weights, double[]? scores, int n, Random random)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            total += Score(weights, scores, i);
        }

        if (!(total > 0) || double.IsInfinity(total))
        {
            // Every remaining point coincides with a centre: any positive-weight point will do.
            scores = null;
            total = 0;
            for (int i = 0; i < n; i++)
            {
                total += Score(weights, scores, i);
            }
        }

        double target = random.NextDouble() * total;
        double running = 0;
        int last = 0;
        for (int i = 0; i < n; i++)
        {
            double score = Score(weights, scores, i);
            if (score > 0)
            {
                last = i;
                running += score;
                if (running > target)
                {
                    return i;
                }
            }
        }

        return last;
    }

    private static double Score<T>(T[]? weights, double[]? scores, int i)
        where T : unmanaged, IBinaryFloatingPointIeee754<T> =>
        (weights is null ? 1 : double.CreateTruncating(weights[i])) * (scores is null ? 1 : scores[i]);
}
