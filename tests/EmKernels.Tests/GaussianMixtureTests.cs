using EmKernels.Mixtures;
using EmKernels.Tests.Infrastructure;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using Xunit.Sdk;

namespace EmKernels.Tests;

/// <summary>One random fitting problem: a known mixture, a sample of it, and a covariance type.</summary>
public sealed record MixtureCase(int Components, int Features, int Points, CovarianceType Type, int Seed)
{
    /// <summary>Well-posed problems: at least 30 points per component and feature, so no component is near singular.</summary>
    public static Gen<MixtureCase> Cases(int maxComponents = 4, int maxFeatures = 4, int minPoints = 60, int maxPoints = 400) =>
        from k in Gen.Choose(1, maxComponents)
        from d in Gen.Choose(1, maxFeatures)
        from n in Gen.Choose(minPoints, maxPoints)
        from type in Gen.Elements(Enum.GetValues<CovarianceType>())
        from seed in Gen.Choose(0, int.MaxValue)
        select new MixtureCase(k, d, Math.Max(n, 30 * k * d), type, seed);

    public (double[] X, SyntheticMixture Truth) Draw(double separation = 6)
    {
        var random = new Random(Seed);
        var truth = SyntheticMixture.Create(random, Components, Features, separation);
        return (truth.Sample(random, Points).Points, truth);
    }
}

/// <summary>Properties of the fitted Gaussian mixture (issue: Gaussian mixture EM, §3 and §5).</summary>
public sealed class GaussianMixtureTests
{
    private static void Check(Gen<MixtureCase> cases, Action<MixtureCase> body, int count) =>
        global::FsCheck.Check.One(Config.QuickThrowOnFailure.WithMaxTest(count).WithQuietOnSuccess(true), Prop.ForAll(cases.ToArbitrary(), body));

    /// <summary>
    /// Runs a property that holds for well-posed fits only. A fit that had to re-seed a component ran into a
    /// (near-)singular covariance, where finite precision breaks EM's guarantees (the library then records the
    /// decrease, as it should), so its assertion is skipped; but at least 80 % of the cases must really be checked.
    /// </summary>
    private static void CheckWellPosed(Gen<MixtureCase> cases, Func<MixtureCase, bool> body, int count)
    {
        int checkedCases = 0;
        Check(cases, c =>
        {
            if (body(c))
            {
                checkedCases++;
            }
        }, count);
        Assert.True(checkedCases >= 0.8 * count, $"Only {checkedCases} of {count} cases were well-posed enough to check.");
    }

    [Fact]
    public void Evaluate_GivesTheSameResultsOnOneThreadAsOnEvery()
    {
        var random = new Random(3);
        int n = 5000, d = 3;
        double[] x = Enumerable.Range(0, n * d).Select(i => (i / d % 2 * 4.0) + random.NextDouble()).ToArray();
        GaussianMixtureModel<double> model = new GaussianMixture<double>(new GaussianMixtureOptions { Components = 2, Seed = 1 }).Fit(x, n, d);
        double[] ell1 = new double[n], ellAll = new double[n];
        double[] r1 = new double[n * 2], rAll = new double[n * 2];
        int[] l1 = new int[n], lAll = new int[n];
        model.Evaluate(x, n, ell1, r1, l1, maxDegreeOfParallelism: 1);
        model.Evaluate(x, n, ellAll, rAll, lAll);
        Assert.Equal(ellAll, ell1);
        Assert.Equal(rAll, r1);
        Assert.Equal(lAll, l1);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Evaluate(x, n, ell1, null, null, maxDegreeOfParallelism: 0));
    }

    [Fact]
    public void LogLikelihood_NeverDecreases_WithoutRegularisation()
    {
        CheckWellPosed(MixtureCase.Cases(), c =>
        {
            var (x, _) = c.Draw();
            var model = new GaussianMixture<double>(new GaussianMixtureOptions
            {
                Components = c.Components, CovarianceType = c.Type, RegCovar = 0, Tolerance = 0, MaxIterations = 40,
                Initialization = GaussianMixtureInitialization.RandomResponsibilities, Seed = c.Seed,
            }).Fit(x, c.Points, c.Features);
            if (model.Reseeds.Count > 0)
            {
                return false;
            }

            Assert.Empty(model.LikelihoodDecreases);
            ReadOnlySpan<double> history = model.MeanLogLikelihoodHistory;
            for (int i = 1; i < history.Length; i++)
            {
                bool reseeded = model.Reseeds.Any(r => r.Iteration == i || r.Iteration == i - 1);
                if (!reseeded && history[i] < history[i - 1] - 1e-12 * (1 + Math.Abs(history[i - 1])))
                {
                    throw new XunitException($"{c}: L fell from {history[i - 1]:R} to {history[i]:R} at iteration {i}.");
                }
            }

            return true;
        }, 200);
    }

    [Fact]
    public void PermutingTheRows_ChangesTheFitOnlyWithinRounding()
    {
        CheckWellPosed(MixtureCase.Cases(), c =>
        {
            var (x, truth) = c.Draw();
            var random = new Random(c.Seed);
            int[] order = Enumerable.Range(0, c.Points).ToArray();
            random.Shuffle(order);
            double[] permuted = new double[x.Length];
            for (int n = 0; n < c.Points; n++)
            {
                Array.Copy(x, order[n] * c.Features, permuted, n * c.Features, c.Features);
            }

            var options = GivenStart(c, truth) with { MaxIterations = 15 };
            var a = new GaussianMixture<double>(options).Fit(x, c.Points, c.Features);
            var b = new GaussianMixture<double>(options).Fit(permuted, c.Points, c.Features);
            if (a.Reseeds.Count + b.Reseeds.Count > 0)
            {
                return false;
            }

            AssertSameModel(a, b, 1e-8, c.ToString());
            return true;
        }, 100);
    }

    [Fact]
    public void IntegerSampleWeights_AreRepeatedRows_AndZeroWeightsAreRemovedRows()
    {
        CheckWellPosed(MixtureCase.Cases(), c =>
        {
            var (x, truth) = c.Draw();
            var random = new Random(c.Seed ^ 0x5eed);
            double[] weights = new double[c.Points];
            var expanded = new List<double>();
            for (int n = 0; n < c.Points; n++)
            {
                weights[n] = random.Next(0, 4); // 0 removes the row, 1..3 repeats it
                for (int r = 0; r < weights[n]; r++)
                {
                    expanded.AddRange(x.AsSpan(n * c.Features, c.Features).ToArray());
                }
            }

            int points = expanded.Count / c.Features;
            var options = GivenStart(c, truth) with { MaxIterations = 15 };
            var weighted = new GaussianMixture<double>(options).Fit(x, c.Points, c.Features, weights);
            var repeated = new GaussianMixture<double>(options).Fit(expanded.ToArray(), points, c.Features);
            if (weighted.Reseeds.Count + repeated.Reseeds.Count > 0)
            {
                return false;
            }

            AssertSameModel(weighted, repeated, 1e-8, c.ToString());
            return true;
        }, 100);
    }

    [Fact]
    public void WellSeparatedMixtures_AreRecovered()
    {
        Check(MixtureCase.Cases(minPoints: 4000, maxPoints: 6000), c =>
        {
            // Best of 5 restarts: with 2, about one run in six met a case (K = 4, D = 4, 5,592 points, seed 687070378)
            // where both k-means++ starts merged two true clusters (mean log-likelihood −8.40 against −6.76 found with 5).
            var (x, truth) = c.Draw(separation: 10);
            var model = new GaussianMixture<double>(new GaussianMixtureOptions { Components = c.Components, CovarianceType = CovarianceType.Diagonal, Seed = c.Seed, Restarts = 5 })
                .Fit(x, c.Points, c.Features);
            for (int k = 0; k < c.Components; k++)
            {
                // Match each true component to the fitted one with the nearest mean.
                int match = Enumerable.Range(0, c.Components).MinBy(j => Distance(model.Means.Slice(j * c.Features, c.Features), truth.Means.AsSpan(k * c.Features, c.Features)));
                Assert.InRange(model.Weights[match], truth.Weights[k] - 0.04, truth.Weights[k] + 0.04);
                for (int d = 0; d < c.Features; d++)
                {
                    double sd = truth.Deviations[k * c.Features + d];
                    Assert.InRange(model.Means[match * c.Features + d], truth.Means[k * c.Features + d] - 0.2 * sd, truth.Means[k * c.Features + d] + 0.2 * sd);
                    Assert.InRange(Math.Sqrt(model.Covariances[match * c.Features + d]), 0.85 * sd, 1.15 * sd);
                }
            }
        }, 30);
    }

    [Fact]
    public void SingleAndDoublePrecisionFits_AgreeToOnePartIn10000()
    {
        CheckWellPosed(MixtureCase.Cases(), c =>
        {
            var (x, truth) = c.Draw(separation: 8);
            var options = GivenStart(c, truth) with { MaxIterations = 10 };
            var fitDouble = new GaussianMixture<double>(options).Fit(x, c.Points, c.Features);
            var fitSingle = new GaussianMixture<float>(options).Fit(x.Select(v => (float)v).ToArray(), c.Points, c.Features);
            if (fitDouble.Reseeds.Count + fitSingle.Reseeds.Count > 0)
            {
                return false;
            }

            Close(fitDouble.Weights, fitSingle.Weights, 1e-4, 1, "weights", c);
            // A mean's float error is relative to the data's scale (|μ| + σ), not to |μ|, which can be near 0.
            Close(fitDouble.Means, fitSingle.Means, 1e-4, Scale(fitDouble.Means) + Math.Sqrt(Scale(fitDouble.Covariances)), "means", c);
            Close(fitDouble.Covariances, fitSingle.Covariances, 1e-4, Scale(fitDouble.Covariances), "covariances", c);
            Close([fitDouble.MeanLogLikelihood], [fitSingle.MeanLogLikelihood], 1e-4, 1 + Math.Abs(fitDouble.MeanLogLikelihood), "mean log-likelihood", c);
            return true;
        }, 100);
    }

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Tied)]
    [InlineData(CovarianceType.Diagonal)]
    [InlineData(CovarianceType.Spherical)]
    public void SameSeed_GivesBitwiseTheSameFit_WhateverTheThreadCount(CovarianceType type)
    {
        // 20,000 points make 5 segments, so 1, 2 and 4 threads really split the work differently.
        var c = new MixtureCase(3, 3, 20_000, type, 42);
        var (x, _) = c.Draw();
        GaussianMixtureModel<double> Fit(int threads) => new GaussianMixture<double>(new GaussianMixtureOptions
        {
            Components = 3, CovarianceType = type, Seed = 7, Restarts = 2, MaxIterations = 20, MaxDegreeOfParallelism = threads,
        }).Fit(x, c.Points, c.Features);
        var one = Fit(1);
        foreach (int threads in new[] { 1, 2, 4 })
        {
            var other = Fit(threads);
            Assert.Equal(one.Weights.ToArray(), other.Weights.ToArray());
            Assert.Equal(one.Means.ToArray(), other.Means.ToArray());
            Assert.Equal(one.Covariances.ToArray(), other.Covariances.ToArray());
            Assert.Equal(one.MeanLogLikelihoodHistory.ToArray(), other.MeanLogLikelihoodHistory.ToArray());
        }
    }

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Diagonal)]
    [InlineData(CovarianceType.Spherical)]
    [InlineData(CovarianceType.Tied)]
    public void Float32DataFarFromTheOrigin_KeepTheirVariance(CovarianceType type)
    {
        // scikit-learn's issue #30382: data at 1e4 with unit spread gave negative variances in float32.
        var random = new Random(3);
        int n = 5000;
        float[] x = new float[n * 2];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)(1e4 + (i % 2 == 0 ? 1 : 3) * SyntheticMixture.Normal(random));
        }

        var model = new GaussianMixture<float>(new GaussianMixtureOptions { Components = 1, CovarianceType = type, Seed = 1 }).Fit(x, n, 2);
        double[] variances = type switch
        {
            CovarianceType.Full or CovarianceType.Tied => [model.Covariances[0], model.Covariances[3]],
            CovarianceType.Diagonal => model.Covariances.ToArray(),
            _ => [model.Covariances[0], model.Covariances[0]],
        };
        double[] expected = type == CovarianceType.Spherical ? [5, 5] : [1, 9];
        for (int d = 0; d < 2; d++)
        {
            Assert.InRange(variances[d], 0.9 * expected[d], 1.1 * expected[d]);
        }

        Assert.InRange(model.Means[0], 1e4 - 0.1, 1e4 + 0.1);
    }

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Tied)]
    [InlineData(CovarianceType.Diagonal)]
    [InlineData(CovarianceType.Spherical)]
    public void CollapsingComponents_AreReseeded_NeverNaN(CovarianceType type)
    {
        // Five distinct points (each repeated) for six components and no regularisation: components must collapse.
        double[] distinct = [0, 0, 1, 1, 2, 0, 0, 3, 5, 5];
        double[] x = Enumerable.Range(0, 40).SelectMany(i => distinct.Skip(2 * (i % 5)).Take(2)).ToArray();
        var model = new GaussianMixture<double>(new GaussianMixtureOptions
        {
            Components = 6, CovarianceType = type, RegCovar = 0, MaxIterations = 30, Seed = 5,
            Initialization = GaussianMixtureInitialization.RandomResponsibilities,
        }).Fit(x, 40, 2);
        if (type != CovarianceType.Tied)
        {
            // Per-component covariances of one repeated point are singular: those components must have been re-seeded.
            // (Tied pools all five points, which are not collinear, so its covariance stays positive definite.)
            Assert.NotEmpty(model.Reseeds);
        }

        Assert.All(model.Weights.ToArray(), w => Assert.True(double.IsFinite(w) && w >= 0));
        Assert.All(model.Means.ToArray(), m => Assert.True(double.IsFinite(m)));
        Assert.All(model.Covariances.ToArray(), v => Assert.True(double.IsFinite(v)));
        Assert.All(model.MeanLogLikelihoodHistory.ToArray(), l => Assert.False(double.IsNaN(l)));
        Assert.Equal(1.0, model.Weights.ToArray().Sum(), 12);
    }

    [Fact]
    public void Predictions_AreConsistentWithEachOther()
    {
        var c = new MixtureCase(3, 2, 500, CovarianceType.Full, 11);
        var (x, _) = c.Draw();
        var model = new GaussianMixture<double>(new GaussianMixtureOptions { Components = 3, Seed = 1 }).Fit(x, c.Points, c.Features);
        int[] labels = model.Predict(x, c.Points);
        double[] probabilities = model.PredictProbabilities(x, c.Points);
        double[] scores = model.ScoreSamples(x, c.Points);
        for (int n = 0; n < c.Points; n++)
        {
            var row = probabilities.AsSpan(n * 3, 3);
            Assert.Equal(1.0, row[0] + row[1] + row[2], 12);
            Assert.Equal(labels[n], row.IndexOf(Max(row)));
        }

        Assert.Equal(scores.Average(), model.Score(x, c.Points), 12);
        Assert.Equal(model.MeanLogLikelihood, model.Score(x, c.Points), 9);
        int p = 3 * 2 + 3 * 3 + 2; // means, full covariances, weights
        Assert.Equal(p, model.ParameterCount);
        Assert.Equal(-2 * c.Points * model.Score(x, c.Points) + p * Math.Log(c.Points), model.Bic(x, c.Points), 9);
        Assert.Equal(-2 * c.Points * model.Score(x, c.Points) + 2 * p, model.Aic(x, c.Points), 9);
    }

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Diagonal)]
    public void Samples_DrawnInBlocksAreOneDraw(CovarianceType type)
    {
        var c = new MixtureCase(3, 4, 2000, type, 5);
        var (x, _) = c.Draw();
        var model = new GaussianMixture<float>(new GaussianMixtureOptions { Components = 3, CovarianceType = type, Seed = 1 })
            .Fit(x.Select(v => (float)v).ToArray(), c.Points, c.Features);
        var (points, labels) = model.Sample(1000, seed: 9);
        float[] blocks = new float[1000 * 4];
        int[] blockLabels = new int[1000];
        var random = new Random(9);
        foreach ((int start, int count) in new[] { (0, 1), (1, 7), (8, 500), (508, 0), (508, 492) })
        {
            model.Sample(blocks.AsSpan(start * 4, count * 4), blockLabels.AsSpan(start, count), random);
        }

        Assert.Equal(points, blocks);
        Assert.Equal(labels, blockLabels);
        Assert.Equal("count", Assert.Throws<ArgumentOutOfRangeException>(() => model.Sample(int.MaxValue / 2, seed: 1)).ParamName);
        Assert.Equal("count", Assert.Throws<ArgumentOutOfRangeException>(() => model.Sample(-1, seed: 1)).ParamName);
        Assert.Equal("points", Assert.Throws<ArgumentException>(() => model.Sample(new float[7], new int[2], random)).ParamName);
        Assert.Equal("random", Assert.Throws<ArgumentNullException>(() => model.Sample(new float[8], new int[2], null!)).ParamName);
    }

    [Fact]
    public void Samples_FollowTheModel()
    {
        var c = new MixtureCase(2, 2, 3000, CovarianceType.Full, 12);
        var (x, _) = c.Draw(separation: 10);
        var model = new GaussianMixture<double>(new GaussianMixtureOptions { Components = 2, Seed = 1 }).Fit(x, c.Points, c.Features);
        var (points, labels) = model.Sample(20_000, seed: 3);
        Assert.Equal(points, model.Sample(20_000, seed: 3).Points);
        for (int k = 0; k < 2; k++)
        {
            var mine = Enumerable.Range(0, labels.Length).Where(i => labels[i] == k).ToArray();
            Assert.InRange(mine.Length / 20_000.0, model.Weights[k] - 0.02, model.Weights[k] + 0.02);
            for (int d = 0; d < 2; d++)
            {
                double mean = mine.Average(i => points[i * 2 + d]);
                double sd = Math.Sqrt(model.Covariances[k * 4 + d * 3]);
                Assert.InRange(mean, model.Means[k * 2 + d] - 0.1 * sd, model.Means[k * 2 + d] + 0.1 * sd);
            }
        }
    }

    [Fact]
    public void WarmStart_ContinuesFromTheGivenModel()
    {
        var c = new MixtureCase(2, 2, 400, CovarianceType.Diagonal, 13);
        var (x, _) = c.Draw();
        var options = new GaussianMixtureOptions { Components = 2, CovarianceType = CovarianceType.Diagonal, Seed = 1, Tolerance = 0, MaxIterations = 5 };
        var first = new GaussianMixture<double>(options).Fit(x, c.Points, c.Features);
        var continued = new GaussianMixture<double>(options).Fit(x, c.Points, c.Features, warmStart: first);
        var straight = new GaussianMixture<double>(options with { MaxIterations = 10 }).Fit(x, c.Points, c.Features);
        Assert.Equal(first.MeanLogLikelihood, continued.MeanLogLikelihoodHistory[0], 9);
        AssertSameModel(straight, continued, 1e-9, "5 + 5 iterations vs 10");
    }

    [Fact]
    public void BadInput_IsRejectedWithAClearMessage()
    {
        double[] x = [0, 0, 1, 1, 2, 2, 3, 3];
        var two = new GaussianMixture<double>(new GaussianMixtureOptions { Components = 2, Seed = 1 });

        var nan = Assert.Throws<ArgumentException>(() => two.Fit([0, 0, 1, double.NaN, 2, 2], 3, 2));
        Assert.Equal("data", nan.ParamName);
        Assert.Contains("row 1, column 1", nan.Message);
        Assert.Contains("row 2, column 0", Assert.Throws<ArgumentException>(() => two.Fit([0, 0, 1, 1, double.PositiveInfinity, 2], 3, 2)).Message);
        Assert.Equal("data", Assert.Throws<ArgumentException>(() => new GaussianMixture<double>(new GaussianMixtureOptions { Components = 5 }).Fit(x, 4, 2)).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new GaussianMixture<double>(new GaussianMixtureOptions { Components = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GaussianMixture<double>(new GaussianMixtureOptions { RegCovar = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GaussianMixture<double>(new GaussianMixtureOptions { MaxIterations = 0 }));
        Assert.Equal("sampleWeights", Assert.Throws<ArgumentException>(() => two.Fit(x, 4, 2, [1, -1, 1, 1])).ParamName);
        Assert.Equal("sampleWeights", Assert.Throws<ArgumentException>(() => two.Fit(x, 4, 2, [0, 0, 0, 0])).ParamName);
        Assert.Equal("sampleWeights", Assert.Throws<ArgumentException>(() => two.Fit(x, 4, 2, [1, 1, 1])).ParamName);
        Assert.Equal("options.InitialWeights", Assert.Throws<ArgumentException>(() => Given(weights: [0.5, 0.6]).Fit(x, 4, 2)).ParamName);
        Assert.Equal("options.InitialWeights", Assert.Throws<ArgumentException>(() => Given(weights: [1.5, -0.5]).Fit(x, 4, 2)).ParamName);
        Assert.Equal("options.InitialCovariances", Assert.Throws<ArgumentException>(() => Given(covariances: [1, 0.5, 0.4, 1, 1, 0, 0, 1]).Fit(x, 4, 2)).ParamName);
        Assert.Equal("options.InitialCovariances", Assert.Throws<ArgumentException>(() => Given(covariances: [1, 2, 2, 1, 1, 0, 0, 1]).Fit(x, 4, 2)).ParamName);
        Assert.Equal("options.InitialPrecisions", Assert.Throws<ArgumentException>(() => Given(precisions: [1, 0, 0, -1, 1, 0, 0, 1]).Fit(x, 4, 2)).ParamName);
        Assert.Equal("options.InitialMeans", Assert.Throws<ArgumentException>(() => Given(means: [0, 0, 1]).Fit(x, 4, 2)).ParamName);

        var model = two.Fit(x, 4, 2);
        Assert.Equal("data", Assert.Throws<ArgumentException>(() => model.Predict([1, 2, 3], 1)).ParamName);
        Assert.Equal("data", Assert.Throws<ArgumentException>(() => model.ScoreSamples([1, double.NaN], 1)).ParamName);
    }

    [Fact]
    public void TheCallersArrays_AreNeverModified()
    {
        var c = new MixtureCase(2, 2, 200, CovarianceType.Full, 14);
        var (x, truth) = c.Draw();
        double[] weights = Enumerable.Repeat(2.0, c.Points).ToArray();
        var options = GivenStart(c, truth);
        double[] xCopy = (double[])x.Clone();
        double[] meansCopy = (double[])options.InitialMeans!.Clone();
        double[] covariancesCopy = (double[])options.InitialCovariances!.Clone();
        var model = new GaussianMixture<double>(options).Fit(x, c.Points, c.Features, weights);
        model.Predict(x, c.Points);
        Assert.Equal(xCopy, x);
        Assert.Equal(meansCopy, options.InitialMeans);
        Assert.Equal(covariancesCopy, options.InitialCovariances);
        Assert.All(weights, w => Assert.Equal(2.0, w));
    }

    [Fact]
    public void Progress_IsReportedEveryIteration()
    {
        var c = new MixtureCase(2, 2, 300, CovarianceType.Full, 15);
        var (x, _) = c.Draw();
        var reports = new List<FitProgress>();
        var model = new GaussianMixture<double>(new GaussianMixtureOptions { Components = 2, Seed = 1, Progress = new Synchronous(reports.Add) }).Fit(x, c.Points, c.Features);
        Assert.Equal(model.Iterations, reports.Count);
        Assert.Equal(Enumerable.Range(1, model.Iterations), reports.Select(r => r.Iteration));
        Assert.Equal(model.MeanLogLikelihoodHistory[..^1].ToArray(), reports.Select(r => r.MeanLogLikelihood).ToArray());
    }

    private sealed class Synchronous(Action<FitProgress> report) : IProgress<FitProgress>
    {
        public void Report(FitProgress value) => report(value);
    }

    private static GaussianMixture<double> Given(double[]? weights = null, double[]? means = null, double[]? covariances = null, double[]? precisions = null) =>
        new(new GaussianMixtureOptions { Components = 2, InitialWeights = weights, InitialMeans = means, InitialCovariances = covariances, InitialPrecisions = precisions });

    /// <summary>A deterministic start at the true parameters (in the type's covariance layout), tolerance 0.</summary>
    private static GaussianMixtureOptions GivenStart(MixtureCase c, SyntheticMixture truth)
    {
        int k = c.Components, d = c.Features;
        double[] covariances = c.Type switch
        {
            CovarianceType.Full => Enumerable.Range(0, k).SelectMany(j => Diagonal(truth, j, d)).ToArray(),
            CovarianceType.Tied => Diagonal(truth, 0, d),
            CovarianceType.Diagonal => truth.Deviations.Select(s => s * s).ToArray(),
            _ => Enumerable.Range(0, k).Select(j => truth.Deviations.Skip(j * d).Take(d).Average(s => s * s)).ToArray(),
        };
        return new GaussianMixtureOptions
        {
            Components = k, CovarianceType = c.Type, Tolerance = 0, RegCovar = 1e-6,
            InitialWeights = truth.Weights, InitialMeans = truth.Means, InitialCovariances = covariances,
        };
    }

    private static double[] Diagonal(SyntheticMixture truth, int k, int d)
    {
        double[] m = new double[d * d];
        for (int a = 0; a < d; a++)
        {
            m[a * d + a] = truth.Deviations[k * d + a] * truth.Deviations[k * d + a];
        }

        return m;
    }

    private static void AssertSameModel(GaussianMixtureModel<double> a, GaussianMixtureModel<double> b, double relative, string what)
    {
        Close(a.Weights, b.Weights, relative, 1, "weights", what);
        Close(a.Means, b.Means, relative, Scale(a.Means), "means", what);
        Close(a.Covariances, b.Covariances, relative, Scale(a.Covariances), "covariances", what);
        Close([a.MeanLogLikelihood], [b.MeanLogLikelihood], relative, 1 + Math.Abs(a.MeanLogLikelihood), "mean log-likelihood", what);
    }

    private static void Close(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, double relative, double scale, string name, object what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (!(Math.Abs(expected[i] - actual[i]) <= relative * Math.Max(scale, Math.Abs(expected[i]))))
            {
                throw new XunitException($"{name}[{i}]: {expected[i]:R} vs {actual[i]:R} (allowed {relative * Math.Max(scale, Math.Abs(expected[i])):E2}) in {what}");
            }
        }
    }

    private static double Scale(ReadOnlySpan<double> values)
    {
        double max = 0;
        foreach (double v in values)
        {
            max = Math.Max(max, Math.Abs(v));
        }

        return max;
    }

    private static double Distance(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += (a[i] - b[i]) * (a[i] - b[i]);
        }

        return sum;
    }

    private static double Max(ReadOnlySpan<double> values)
    {
        double max = double.NegativeInfinity;
        foreach (double v in values)
        {
            max = Math.Max(max, v);
        }

        return max;
    }
}
