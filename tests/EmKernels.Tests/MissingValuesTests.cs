using EmKernels.Mixtures;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// Missing values marginalised (issue 17 §1), beyond the fixtures: without a missing value the fit is bitwise the ordinary
/// one (complete rows take the same kernels); with them every covariance type fits monotonely from the default k-means
/// start, bitwise the same for any thread count; Impute gives the closed-form conditional mean and variance of a bivariate
/// Gaussian; a row without an observed value and an infinite value are refused by name, and NaN stays an error by default.
/// </summary>
public sealed class MissingValuesTests
{
    private static double Normal(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static double[] Clusters(int n, int seed, double missing)
    {
        var random = new Random(seed);
        double[] x = new double[n * 3];
        for (int i = 0; i < n; i++)
        {
            int k = i % 3;
            double z = Normal(random);
            x[3 * i] = (4 * k) + z;
            x[(3 * i) + 1] = (k == 1 ? 5 : 0) + (0.6 * z) + (0.8 * Normal(random));
            x[(3 * i) + 2] = (2 * k) + Normal(random);
            int hidden = random.NextDouble() < missing ? random.Next(3) : -1;
            if (hidden >= 0)
            {
                x[(3 * i) + hidden] = double.NaN;
                if (random.NextDouble() < 0.3)
                {
                    x[(3 * i) + ((hidden + 1) % 3)] = double.NaN; // one observed value left
                }
            }
        }

        return x;
    }

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Tied)]
    [InlineData(CovarianceType.Diagonal)]
    [InlineData(CovarianceType.Spherical)]
    public void WithoutMissingValues_TheFitIsBitwiseTheOrdinaryOne(CovarianceType type)
    {
        double[] x = Clusters(3000, 1, 0);
        GaussianMixtureModel<double> Fit(MissingValues missing) => new GaussianMixture<double>(new GaussianMixtureOptions
        {
            Components = 3, CovarianceType = type, Seed = 2, MissingValues = missing,
        }).Fit(x, 3000, 3);
        var ordinary = Fit(MissingValues.Reject);
        var marginal = Fit(MissingValues.Marginalize);
        Assert.Equal(ordinary.Means.ToArray(), marginal.Means.ToArray());
        Assert.Equal(ordinary.Covariances.ToArray(), marginal.Covariances.ToArray());
        Assert.Equal(ordinary.MeanLogLikelihoodHistory.ToArray(), marginal.MeanLogLikelihoodHistory.ToArray());
    }

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Tied)]
    [InlineData(CovarianceType.Diagonal)]
    [InlineData(CovarianceType.Spherical)]
    public void WithMissingValues_EveryTypeFitsMonotonely_AndTheSameForAnyThreadCount(CovarianceType type)
    {
        double[] x = Clusters(6000, 2, 0.3);
        GaussianMixtureModel<double> Fit(int threads) => new GaussianMixture<double>(new GaussianMixtureOptions
        {
            Components = 3, CovarianceType = type, Seed = 3, MissingValues = MissingValues.Marginalize, Tolerance = 1e-8, MaxIterations = 300, MaxDegreeOfParallelism = threads,
        }).Fit(x, 6000, 3);
        var one = Fit(1);
        Assert.Empty(one.LikelihoodDecreases);
        Assert.All(one.Means.ToArray(), m => Assert.True(double.IsFinite(m)));
        var two = Fit(2);
        Assert.Equal(one.Means.ToArray(), two.Means.ToArray());
        Assert.Equal(one.MeanLogLikelihoodHistory.ToArray(), two.MeanLogLikelihoodHistory.ToArray());

        // The clusters are found: a mean near each true centre (first feature 0, 4, 8).
        double[] firsts = [.. Enumerable.Range(0, 3).Select(k => one.Means[3 * k]).Order()];
        Assert.Equal([0.0, 4.0, 8.0], firsts, (a, b) => Math.Abs(a - b) < 0.3);
    }

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Tied)]
    [InlineData(CovarianceType.Diagonal)]
    [InlineData(CovarianceType.Spherical)]
    public void TheGaussianKernels_PropagateAMissingValueOfAnyFeature(CovarianceType type)
    {
        // The marginalising family clears a tile when its first component's Gaussian log-densities are finite: every kernel
        // must turn a NaN of any feature, at any position of a tile, into a NaN log-density (on every instruction set).
        const int d = 5, points = 37;
        var family = GaussianComponents<double>.Create(type, 3, d);
        family.PrepareExpectation([-1.1, -1.1, -1.1], reshift: true);
        double[] values = new double[d * points];
        var random = new Random(6);
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = Normal(random);
        }

        double[] logDensities = new double[3 * points];
        for (int f = 0; f < d; f++)
        {
            foreach (int row in new[] { 0, 7, 16, 36 })
            {
                double[] tile = (double[])values.Clone();
                tile[(f * points) + row] = double.NaN;
                family.LogProbabilities(new EmKernels.Engine.DataTile<double>(tile, d, points, points, 0), logDensities, new double[Math.Max(family.WorkspaceLength(points), 1)]);
                Assert.True(double.IsNaN(logDensities[row]), $"feature {f}, row {row}");
                Assert.True(double.IsFinite(logDensities[row == 0 ? 1 : 0]));
            }
        }
    }

    [Fact]
    public void WhatAFamilyRemembersOfATile_IsNotTakenForAnotherFamilysTile()
    {
        // Two families on one thread, each in its first pass (the same generation), at the same tile start: the first's
        // complete tile must not make the second treat its incomplete one as complete (NaN in its statistics).
        const int d = 2, points = 8;
        var first = new MarginalGaussianComponents<double>(GaussianComponents<double>.Create(CovarianceType.Full, 2, d));
        var second = new MarginalGaussianComponents<double>(GaussianComponents<double>.Create(CovarianceType.Full, 2, d));
        first.PrepareExpectation([-0.7, -0.7], reshift: true);
        second.PrepareExpectation([-0.7, -0.7], reshift: true);
        double[] complete = [.. Enumerable.Range(0, d * points).Select(i => 0.1 * i)];
        double[] incomplete = (double[])complete.Clone();
        incomplete[3] = double.NaN;
        double[] workspace = new double[Math.Max(first.WorkspaceLength(points), 1)];
        first.LogProbabilities(new EmKernels.Engine.DataTile<double>(complete, d, points, points, 0), new double[2 * points], workspace);
        var statistics = new EmKernels.Engine.SufficientStatistics(second.StatisticsLayout);
        double[] r = [.. Enumerable.Repeat(0.5, 2 * points)];
        second.Accumulate(new EmKernels.Engine.DataTile<double>(incomplete, d, points, points, 0), r, statistics);
        Assert.All(statistics.Sums.ToArray(), v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public void StepwiseEm_WithMissingValues_ComesNearTheBatchFit()
    {
        int n = 60_000;
        double[] x = Clusters(n, 9, 0.3);
        var batch = new GaussianMixture<double>(new GaussianMixtureOptions
        {
            Components = 3, Seed = 1, MissingValues = MissingValues.Marginalize, Tolerance = 1e-8, MaxIterations = 500,
        }).Fit(x, n, 3);
        var family = new MarginalGaussianComponents<double>(GaussianComponents<double>.Create(CovarianceType.Full, 3, 3));
        var driver = new EmKernels.Engine.StepwiseExpectationMaximization<double>(new FiniteMixture<double>(family), new EmKernels.Engine.StepwiseOptions { BatchSize = 1000, Epochs = 4, Seed = 3 });
        driver.Fit(new EmKernels.Engine.InMemoryDataSource<double>(x, n, 3));
        Assert.All(family.Means.ToArray(), m => Assert.True(double.IsFinite(m)));
        Assert.Equal(batch.MeanLogLikelihood, driver.EpochObjectives[^1], 2e-3);
    }

    [Fact]
    public void Impute_GivesTheBivariateConditionalMeanAndVariance()
    {
        // One component: E[x₂ | x₁] = μ₂ + (σ₁₂ / σ₁₁)(x₁ − μ₁), Var = σ₂₂ − σ₁₂² / σ₁₁.
        double[] mean = [1, -2], covariance = [4, 1.2, 1.2, 1];
        var model = GaussianMixtureModel<double>.FromParameters(CovarianceType.Full, 2, [1.0], mean, covariance);
        double[] rows = [3, double.NaN, double.NaN, 0.5, 2, 2];
        (double[] values, double[] variances) = model.Impute(rows, 3);
        Assert.Equal(-2 + (1.2 / 4 * (3 - 1)), values[1], 1e-14);
        Assert.Equal(1 - (1.2 * 1.2 / 4), variances[1], 1e-14);
        Assert.Equal(1 + (1.2 / 1 * (0.5 + 2)), values[2], 1e-14);
        Assert.Equal(4 - (1.2 * 1.2 / 1), variances[2], 1e-14);
        Assert.Equal([3.0, 0.5, 2, 2], new[] { values[0], values[3], values[4], values[5] });
        Assert.Equal([0.0, 0, 0, 0], new[] { variances[0], variances[3], variances[4], variances[5] });
    }

    [Fact]
    public void BadRows_AreRefusedByName_AndNaNStaysAnErrorByDefault()
    {
        double[] x = Clusters(300, 4, 0.2);
        x[3 * 17] = x[(3 * 17) + 1] = x[(3 * 17) + 2] = double.NaN;
        var marginal = new GaussianMixture<double>(new GaussianMixtureOptions { Components = 2, MissingValues = MissingValues.Marginalize });
        Assert.Contains("Row 17 has no observed value", Assert.Throws<ArgumentException>(() => marginal.Fit(x, 300, 3)).Message);
        x[3 * 17] = double.PositiveInfinity;
        Assert.Contains("row 17, column 0", Assert.Throws<ArgumentException>(() => marginal.Fit(x, 300, 3)).Message);
        double[] y = Clusters(300, 5, 0.2);
        Assert.Contains("must be finite", Assert.Throws<ArgumentException>(() => new GaussianMixture<double>(new GaussianMixtureOptions { Components = 2 }).Fit(y, 300, 3)).Message);
    }
}
