namespace EmKernels.Mixtures;

/// <summary>
/// A start for a mixture's noise component (<see cref="NoiseComponentOptions"/>): which points look like clutter rather than
/// members of a cluster.
/// </summary>
public static class NoiseDetection
{
    /// <summary>Reference points the neighbours are searched among: all of them up to this many, else a fixed random subset of this many.</summary>
    public const int MaximumReferencePoints = 5000;

    /// <summary>The seed of the reference subset: fixed, so the flags are a function of the data.</summary>
    private const int ReferenceSeed = 19980601;

    /// <summary>
    /// Nearest-neighbour clutter removal (Byers and Raftery 1998, the start mclust's documentation recommends for its noise
    /// component): the distance X of each point to its k-th nearest neighbour, of which, for points of a Poisson process of
    /// intensity λ in D dimensions, α_D·X^D is Gamma(k, λ) (α_D the volume of the unit ball); a mixture of two such
    /// processes — dense features and sparse clutter — is fitted to the distances by EM, and a point is clutter when its
    /// posterior probability of the sparse process exceeds ½. The EM starts, as Byers and Raftery's, with the points whose
    /// distance is beyond the first third of the distances' range as clutter.
    /// </summary>
    /// <param name="data">N × D values, row-major; only read.</param>
    /// <param name="points">N (≥ 2).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="neighbors">k (≥ 1, &lt; N): which nearest neighbour's distance is used; Byers and Raftery's examples take 5 to 15.</param>
    /// <returns>N flags: true where the point is clutter (all false when the distances show no second process).</returns>
    /// <remarks>
    /// With more than <see cref="MaximumReferencePoints"/> points the neighbours are searched among a fixed random subset of
    /// that many: the distances to a thinned process are of the same form, with the intensities scaled alike, so the
    /// classification is unchanged in expectation and the cost is N × that many distances. The result does not depend on
    /// the number of threads.
    /// </remarks>
    /// <exception cref="ArgumentException">The shape does not fit, a value is not finite, or k is out of range.</exception>
    public static bool[] NearestNeighborClutter(ReadOnlySpan<double> data, int points, int features, int neighbors = 5)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(points, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        if ((long)points * features != data.Length)
        {
            throw new ArgumentException($"Expected {points} × {features} values; got {data.Length}.", nameof(data));
        }

        if (!Kernels.Common.Reductions.AllFinite(data))
        {
            throw new ArgumentException("Every value must be finite.", nameof(data));
        }

        int[] reference = ReferenceRows(points);
        if (neighbors < 1 || neighbors >= reference.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(neighbors), neighbors, $"Must be in 1 … {reference.Length - 1} (the reference points but one).");
        }

        double[] distances = KthNeighborDistances(data.ToArray(), points, features, reference, neighbors);
        return Classify(distances, features, neighbors);
    }

    /// <summary>The rows searched for neighbours: all, or a fixed sorted random subset of <see cref="MaximumReferencePoints"/>.</summary>
    private static int[] ReferenceRows(int points)
    {
        if (points <= MaximumReferencePoints)
        {
            return Enumerable.Range(0, points).ToArray();
        }

        var random = new Random(ReferenceSeed);
        var chosen = new HashSet<int>();
        while (chosen.Count < MaximumReferencePoints)
        {
            chosen.Add(random.Next(points));
        }

        return [.. chosen.Order()];
    }

    /// <summary>Each point's Euclidean distance to its k-th nearest reference point other than itself.</summary>
    private static double[] KthNeighborDistances(double[] data, int n, int d, int[] reference, int k)
    {
        double[] result = new double[n];
        Parallel.For(0, (n + 255) / 256, () => new double[k], (chunk, _, nearest) =>
        {
            int end = Math.Min(n, (chunk + 1) * 256);
            for (int i = chunk * 256; i < end; i++)
            {
                ReadOnlySpan<double> x = data.AsSpan(i * d, d);
                nearest.AsSpan().Fill(double.PositiveInfinity);
                foreach (int j in reference)
                {
                    if (j == i)
                    {
                        continue;
                    }

                    ReadOnlySpan<double> y = data.AsSpan(j * d, d);
                    double s = 0;
                    for (int f = 0; f < d && s < nearest[k - 1]; f++)
                    {
                        double e = x[f] - y[f];
                        s += e * e;
                    }

                    if (s < nearest[k - 1])
                    {
                        int at = k - 1;
                        while (at > 0 && nearest[at - 1] > s)
                        {
                            nearest[at] = nearest[at - 1];
                            at--;
                        }

                        nearest[at] = s;
                    }
                }

                result[i] = Math.Sqrt(nearest[k - 1]);
            }

            return nearest;
        }, _ => { });
        return result;
    }

    /// <summary>
    /// The EM of the two Gamma(k, λ) processes on t = (X / X_median)^D (the rescaling and α_D cancel in the posteriors, and
    /// keep t finite where X^D would overflow), in logarithms; true where the sparse process is the more probable.
    /// </summary>
    internal static bool[] Classify(ReadOnlySpan<double> distances, int d, int k)
    {
        int n = distances.Length;
        bool[] clutter = new bool[n];
        double[] positive = distances.ToArray().Where(x => x > 0).Order().ToArray();
        if (positive.Length == 0)
        {
            return clutter;
        }

        double median = positive[positive.Length / 2], floor = positive[0];
        double[] t = new double[n];
        for (int i = 0; i < n; i++)
        {
            t[i] = Math.Exp(Math.Clamp(d * Math.Log(Math.Max(distances[i], floor) / median), -700, 700));
        }

        double min = distances.ToArray().Min(), max = distances.ToArray().Max();
        double[] sparse = new double[n];
        for (int i = 0; i < n; i++)
        {
            sparse[i] = distances[i] > min + ((max - min) / 3) ? 1 : 0;
        }

        double p = 0.5; // the dense process's share, as Byers and Raftery start
        if (!Rates(t, sparse, k, out double dense, out double thin))
        {
            return clutter;
        }

        double previous = double.NegativeInfinity;
        for (int iteration = 0; iteration < 1000; iteration++)
        {
            double logLikelihood = 0;
            for (int i = 0; i < n; i++)
            {
                double a = Math.Log(p) + (k * Math.Log(dense)) - (dense * t[i]);
                double b = Math.Log(1 - p) + (k * Math.Log(thin)) - (thin * t[i]);
                double top = Math.Max(a, b);
                double total = top + Math.Log(Math.Exp(a - top) + Math.Exp(b - top));
                sparse[i] = Math.Exp(b - total);
                logLikelihood += total;
            }

            double mass = 0;
            foreach (double s in sparse)
            {
                mass += s;
            }

            p = 1 - (mass / n);
            if (!(p > 0 && p < 1) || !Rates(t, sparse, k, out dense, out thin))
            {
                break;
            }

            if (Math.Abs(logLikelihood - previous) <= 1e-9 * Math.Abs(logLikelihood))
            {
                break;
            }

            previous = logLikelihood;
        }

        if (!(p > 0 && p < 1))
        {
            return clutter; // one process explains every distance: no clutter
        }

        bool swapped = thin > dense; // the sparse process is the one of lower intensity
        for (int i = 0; i < n; i++)
        {
            clutter[i] = swapped ? sparse[i] < 0.5 : sparse[i] > 0.5;
        }

        return clutter;
    }

    /// <summary>The M-step of the rates: λ = k Σ z / Σ z t for each process; false when a process has no mass.</summary>
    private static bool Rates(double[] t, double[] sparse, int k, out double dense, out double thin)
    {
        double denseMass = 0, denseSum = 0, thinMass = 0, thinSum = 0;
        for (int i = 0; i < t.Length; i++)
        {
            thinMass += sparse[i];
            thinSum += sparse[i] * t[i];
            denseMass += 1 - sparse[i];
            denseSum += (1 - sparse[i]) * t[i];
        }

        dense = k * denseMass / denseSum;
        thin = k * thinMass / thinSum;
        return denseMass > 0 && thinMass > 0 && double.IsFinite(dense) && double.IsFinite(thin) && dense > 0 && thin > 0;
    }
}
