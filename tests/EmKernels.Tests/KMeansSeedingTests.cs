using EmKernels.Mixtures;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// The k-means start (greedy k-means++ and Lloyd) on clusters far enough apart that one centre per cluster is the only
/// sensible answer: the start must find every cluster in nearly every seed. Plain k-means++ (one candidate per centre)
/// merges clusters in a large share of seeds here; the greedy version's best of 2 + ⌊ln K⌋ candidates almost never does.
/// </summary>
public sealed class KMeansSeedingTests
{
    [Fact]
    public void WellSeparatedClusters_AreAllFound_InNearlyEverySeed()
    {
        // 20 clusters in 5 dimensions, centres 14 apart or more (about six standard deviations of a cluster), unit spread,
        // uneven sizes. Measured: greedy k-means++ finds every cluster in 28 of these 30 seeds, plain k-means++ in 15.
        const int k = 20, d = 5;
        var random = new Random(7);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var centres = new List<double[]>();
        while (centres.Count < k)
        {
            double[] c = Enumerable.Range(0, d).Select(_ => random.NextDouble() * 60).ToArray();
            if (centres.All(o => Math.Sqrt(o.Zip(c, (a, b) => (a - b) * (a - b)).Sum()) > 14))
            {
                centres.Add(c);
            }
        }

        var points = new List<double>();
        for (int c = 0; c < k; c++)
        {
            int size = 50 + 25 * (c % 4);
            for (int p = 0; p < size; p++)
            {
                points.AddRange(centres[c].Select(v => v + Normal()));
            }
        }

        double[] x = points.ToArray();
        int n = x.Length / d;
        int found = 0;
        const int seeds = 30;
        for (int seed = 0; seed < seeds; seed++)
        {
            var model = new GaussianMixture<double>(new GaussianMixtureOptions
            {
                Components = k, CovarianceType = CovarianceType.Spherical, Seed = seed, MaxIterations = 1, Tolerance = 0, Initialization = GaussianMixtureInitialization.KMeans,
            }).Fit(x, n, d);
            ReadOnlySpan<double> means = model.Means;
            bool all = true;
            for (int c = 0; c < k && all; c++)
            {
                double nearest = double.PositiveInfinity;
                for (int j = 0; j < k; j++)
                {
                    double distance = 0;
                    for (int f = 0; f < d; f++)
                    {
                        distance += (means[j * d + f] - centres[c][f]) * (means[j * d + f] - centres[c][f]);
                    }

                    nearest = Math.Min(nearest, distance);
                }

                all = nearest < 1;
            }

            found += all ? 1 : 0;
        }

        Assert.True(found >= 25, $"every cluster found in {found} of {seeds} seeds");
    }
}
