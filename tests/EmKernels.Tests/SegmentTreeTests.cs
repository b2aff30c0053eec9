using EmKernels.Engine;
using EmKernels.Mixtures;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// The fixed reduction tree of a pass: any split of the segments into contiguous ranges, reduced range by range and
/// then combined in order, gives bitwise the sum of the recursive definition (which rounding would betray: the
/// leaves' values span 40 binary orders of magnitude); a fit of more than 2^20 points (several waves) is the same for
/// any thread count.
/// </summary>
public sealed class SegmentTreeTests
{
    private static double Normal(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static readonly StatisticsLayout Layout = new("test", new StatisticsBlock("sums", 3));

    private static double[] Leaves(int segments, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, segments * 3).Select(_ => Math.ScaleB(random.NextDouble() - 0.3, random.Next(-20, 20))).ToArray();
    }

    /// <summary>The tree's sum by its definition: [lo, hi) = [lo, m) + [m, hi), m = lo + the largest power of two below hi − lo.</summary>
    private static double Reference(double[] leaves, int lo, int hi, int f)
    {
        if (hi - lo == 1)
        {
            return leaves[lo * 3 + f];
        }

        int m = lo + 1;
        while (2 * (m - lo) < hi - lo)
        {
            m = lo + 2 * (m - lo);
        }

        return Reference(leaves, lo, m, f) + Reference(leaves, m, hi, f);
    }

    private static ReductionStack Reduce(double[] leaves, int segments, int lo, int hi)
    {
        var stack = new ReductionStack(Layout, 1) { Segments = segments, Statistics = true };
        for (int s = lo; s < hi; s++)
        {
            ReductionNode leaf = stack.Rent();
            leaf.StartLeaf(s, [], true);
            leaves.AsSpan(s * 3, 3).CopyTo(leaf.Statistics.Sums);
            leaf.Objective = leaves[s * 3];
            leaf.SetLeafCandidate(leaves[s * 3 + 1], [s]);
            stack.Push(leaf);
        }

        return stack;
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(5, 3)]
    [InlineData(16, 4)]
    [InlineData(17, 5)]
    [InlineData(100, 7)]
    [InlineData(1000, 13)]
    public void AnySplitIntoRanges_GivesTheTreesSum(int segments, int parts)
    {
        double[] leaves = Leaves(segments, segments);
        var random = new Random(parts);
        for (int trial = 0; trial < 20; trial++)
        {
            // Cut points anywhere (empty ranges too), as processes holding contiguous ranges of segments.
            int[] cuts = [0, .. Enumerable.Range(0, parts - 1).Select(_ => random.Next(segments + 1)).Order(), segments];
            var combined = new ReductionStack(Layout, 1) { Segments = segments, Statistics = true };
            for (int p = 0; p + 1 < cuts.Length; p++)
            {
                ReductionStack part = Reduce(leaves, segments, cuts[p], cuts[p + 1]);
                Assert.True(part.Count <= 2 * (Math.Log2(segments) + 1), $"{part.Count} nodes for a range");
                double[] packed = new double[part.MaximumPackedLength()];
                part.Pack(packed);
                combined.PushPacked(packed);
            }

            Assert.Equal(1, combined.Count);
            ReductionNode root = combined[0];
            Assert.Equal((0, segments), (root.First, root.End));
            for (int f = 0; f < 3; f++)
            {
                Assert.Equal(Reference(leaves, 0, segments, f), root.Statistics.Sums[f]);
            }

            Assert.Equal(Reference(leaves, 0, segments, 0), root.Objective);

            // The candidates: the 16 smallest values (ties to the lower segment), in order.
            int[] expected = Enumerable.Range(0, segments).OrderBy(s => leaves[s * 3 + 1]).ThenBy(s => s).Take(ReductionNode.MaximumCandidates).ToArray();
            Assert.Equal(expected.Length, root.CandidateCount);
            for (int c = 0; c < expected.Length; c++)
            {
                Assert.Equal(expected[c], root.Candidate(c)[0]);
            }
        }
    }

    [Fact]
    public void SegmentCount_GrowsWithN_BeyondTheFirstWave()
    {
        Assert.Equal(1, PassEngine<double>.SegmentCount(1));
        Assert.Equal(16, PassEngine<double>.SegmentCount(1 << 20));
        Assert.Equal(17, PassEngine<double>.SegmentCount((1 << 20) + 1));
        Assert.Equal(152_588, PassEngine<double>.SegmentCount(10_000_000_000));
    }

    [Fact]
    public void AFitOverSeveralWaves_IsBitwiseTheSameForAnyThreadCount()
    {
        // 1.2 million points: 19 segments, two waves, and a tree that is not a power of two.
        int n = 1_200_000;
        var random = new Random(5);
        double[] x = new double[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = (i % 3 == 0 ? 4 : 0) + Normal(random);
        }

        GaussianMixtureModel<double> Fit(int threads) => new GaussianMixture<double>(new GaussianMixtureOptions
        {
            Components = 2, CovarianceType = CovarianceType.Diagonal, Seed = 3, MaxIterations = 10, MaxDegreeOfParallelism = threads,
        }).Fit(x, n, 1);
        var one = Fit(1);
        var two = Fit(2);
        Assert.Equal(one.Means.ToArray(), two.Means.ToArray());
        Assert.Equal(one.Covariances.ToArray(), two.Covariances.ToArray());
        Assert.Equal(one.MeanLogLikelihoodHistory.ToArray(), two.MeanLogLikelihoodHistory.ToArray());
        Assert.True(Math.Abs(one.Means[0] - one.Means[1]) > 3);
    }
}
