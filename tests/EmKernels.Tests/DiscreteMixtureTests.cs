using EmKernels.Mixtures;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using Xunit.Sdk;

namespace EmKernels.Tests;

/// <summary>One random discrete fitting problem.</summary>
public sealed record DiscreteCase(DiscreteDistribution Distribution, int Components, int Features, int Points, int Seed)
{
    public static Gen<DiscreteCase> Cases() =>
        from distribution in Gen.Elements(Enum.GetValues<DiscreteDistribution>())
        from k in Gen.Choose(1, 4)
        from d in Gen.Choose(1, 6)
        from n in Gen.Choose(40, 300)
        from seed in Gen.Choose(0, int.MaxValue)
        select new DiscreteCase(distribution, k, d, n, seed);

    public const int Trials = 7;
    public const int Categories = 4;

    /// <summary>Points drawn from a random mixture of the family.</summary>
    public double[] Draw()
    {
        var random = new Random(Seed);
        int[] labels = Enumerable.Range(0, Points).Select(_ => random.Next(Components)).ToArray();
        double[] centre = Enumerable.Range(0, Components * Features).Select(_ => random.NextDouble()).ToArray();
        double[] x = new double[Points * Features];
        for (int n = 0; n < Points; n++)
        {
            for (int j = 0; j < Features; j++)
            {
                double p = centre[labels[n] * Features + j];
                x[n * Features + j] = Distribution switch
                {
                    DiscreteDistribution.Bernoulli => random.NextDouble() < p ? 1 : 0,
                    DiscreteDistribution.Binomial => Enumerable.Range(0, Trials).Count(_ => random.NextDouble() < p),
                    DiscreteDistribution.Poisson => Math.Floor(10 * p * random.NextDouble() * 2),
                    _ => random.NextDouble() < p ? (int)(p * Categories) : random.Next(Categories),
                };
            }
        }

        return x;
    }

    public DiscreteMixtureModel<double> Fit(DiscreteMixtureOptions options, double[] x, int points, ReadOnlySpan<double> weights = default) => Distribution switch
    {
        DiscreteDistribution.Bernoulli => new BernoulliMixture<double>(options).Fit(x, points, Features, weights),
        DiscreteDistribution.Binomial => new BinomialMixture<double>(Trials, options).Fit(x, points, Features, weights),
        DiscreteDistribution.Poisson => new PoissonMixture<double>(options).Fit(x, points, Features, weights),
        _ => new CategoricalMixture<double>(Categories, options).Fit(x, points, Features, weights),
    };
}

/// <summary>Properties and contracts of the discrete mixtures.</summary>
public sealed class DiscreteMixtureTests
{
    private static void Check(Action<DiscreteCase> body, int count) =>
        global::FsCheck.Check.One(Config.QuickThrowOnFailure.WithMaxTest(count).WithQuietOnSuccess(true), Prop.ForAll(DiscreteCase.Cases().ToArbitrary(), body));

    [Fact]
    public void LogLikelihood_NeverDecreases()
    {
        Check(c =>
        {
            var model = c.Fit(new DiscreteMixtureOptions { Components = c.Components, Tolerance = 0, MaxIterations = 30, Seed = c.Seed }, c.Draw(), c.Points);
            Assert.Empty(model.LikelihoodDecreases);
            Assert.All(model.MeanLogLikelihoodHistory.ToArray(), l => Assert.False(double.IsNaN(l)));
            Assert.All(model.Parameters.ToArray(), p => Assert.True(double.IsFinite(p) && p >= 0));
        }, 200);
    }

    [Fact]
    public void IntegerSampleWeights_AreRepeatedRows()
    {
        Check(c =>
        {
            double[] x = c.Draw();
            var random = new Random(c.Seed ^ 77);
            double[] weights = Enumerable.Range(0, c.Points).Select(_ => (double)random.Next(0, 4)).ToArray();
            double[] repeated = Enumerable.Range(0, c.Points).SelectMany(n => Enumerable.Repeat(x.Skip(n * c.Features).Take(c.Features), (int)weights[n]).SelectMany(r => r)).ToArray();
            int points = repeated.Length / c.Features;
            if (points < c.Components || weights.Sum() == 0)
            {
                return;
            }

            // A deterministic start: the same given parameters for both fits.
            var start = c.Fit(new DiscreteMixtureOptions { Components = c.Components, MaxIterations = 1, Seed = c.Seed }, x, c.Points);
            var options = new DiscreteMixtureOptions { Components = c.Components, MaxIterations = 10, Tolerance = 0, InitialWeights = start.Weights.ToArray(), InitialParameters = start.Parameters.ToArray() };
            var a = c.Fit(options, x, c.Points, weights);
            var b = c.Fit(options, repeated, points);
            for (int i = 0; i < a.Parameters.Length; i++)
            {
                Assert.Equal(a.Parameters[i], b.Parameters[i], 9);
            }

            Assert.Equal(a.MeanLogLikelihood, b.MeanLogLikelihood, 9);
        }, 100);
    }

    [Fact]
    public void Smoothing_IsTheDocumentedMapEstimate()
    {
        // One component: the M-step is the smoothed frequency over all points, p = (Σ x + s) / (N + 2s).
        double[] x = [1, 1, 1, 0, 1, 0, 1, 1]; // 4 points × 2 features, row-major: feature 0 always 1, feature 1 = 1, 0, 0, 1
        var model = new BernoulliMixture<double>(new DiscreteMixtureOptions { Components = 1, Smoothing = 0.5, MaxIterations = 3, Tolerance = 0 }).Fit(x, 4, 2);
        Assert.Equal((4 + 0.5) / (4 + 1.0), model.Parameters[0], 14);
        Assert.Equal((2 + 0.5) / (4 + 1.0), model.Parameters[1], 14);
        var plain = new BernoulliMixture<double>(new DiscreteMixtureOptions { Components = 1, MaxIterations = 3, Tolerance = 0 }).Fit(x, 4, 2);
        Assert.Equal(1.0, plain.Parameters[0]); // maximum likelihood reaches exactly 1 and stays finite
        Assert.True(double.IsFinite(plain.MeanLogLikelihood));
    }

    [Fact]
    public void Predictions_AndSamples_AreConsistent()
    {
        Check(c =>
        {
            double[] x = c.Draw();
            var model = c.Fit(new DiscreteMixtureOptions { Components = c.Components, Seed = c.Seed }, x, c.Points);
            double[] probabilities = model.PredictProbabilities(x, c.Points);
            int[] labels = model.Predict(x, c.Points);
            for (int n = 0; n < c.Points; n++)
            {
                var row = probabilities.AsSpan(n * c.Components, c.Components);
                double sum = 0;
                int best = 0;
                for (int k = 0; k < c.Components; k++)
                {
                    sum += row[k];
                    best = row[k] > row[best] ? k : best;
                }

                Assert.Equal(1.0, sum, 12);
                Assert.Equal(best, labels[n]);
            }

            Assert.Equal(model.MeanLogLikelihood, model.Score(x, c.Points), 9);
            var (drawn, from) = model.Sample(50, c.Seed);
            Assert.Equal(50 * c.Features, drawn.Length);
            Assert.All(from, k => Assert.InRange(k, 0, c.Components - 1));
            Assert.All(model.ScoreSamples(drawn, 50), l => Assert.False(double.IsNaN(l)));
            double[] blocks = new double[50 * c.Features];
            int[] blockLabels = new int[50];
            var random = new Random(c.Seed);
            model.Sample(blocks.AsSpan(0, 13 * c.Features), blockLabels.AsSpan(0, 13), random);
            model.Sample(blocks.AsSpan(13 * c.Features), blockLabels.AsSpan(13), random);
            Assert.Equal(drawn, blocks);
            Assert.Equal(from, blockLabels);
        }, 50);
    }

    [Fact]
    public void BadValues_AreRejectedWithRowAndColumn()
    {
        var options = new DiscreteMixtureOptions { Components = 1 };
        AssertNamed(() => new BernoulliMixture<double>(options).Fit([0, 1, 1, 2], 2, 2), "row 1, column 1");
        AssertNamed(() => new BinomialMixture<double>(5, options).Fit([0, 6], 2, 1), "row 1, column 0");
        AssertNamed(() => new BinomialMixture<double>(5, options).Fit([0.5, 1], 2, 1), "row 0, column 0");
        AssertNamed(() => new PoissonMixture<double>(options).Fit([3, -1], 1, 2), "row 0, column 1");
        AssertNamed(() => new PoissonMixture<double>(options).Fit([3, double.NaN], 2, 1), "row 1, column 0");
        AssertNamed(() => new CategoricalMixture<double>(3, options).Fit([0, 1, 2, 3], 4, 1), "row 3, column 0");
        Assert.Equal("data", Assert.Throws<ArgumentException>(() => new BernoulliMixture<double>(new DiscreteMixtureOptions { Components = 3 }).Fit([0, 1], 2, 1)).ParamName);
        Assert.Equal("options.InitialParameters", Assert.Throws<ArgumentException>(() => new BernoulliMixture<double>(options with { InitialParameters = [1.5] }).Fit([0, 1], 2, 1)).ParamName);
        Assert.Equal("options.InitialParameters", Assert.Throws<ArgumentException>(() => new CategoricalMixture<double>(2, options with { InitialParameters = [0.5, 0.6] }).Fit([0, 1], 2, 1)).ParamName);
        Assert.Equal("sampleWeights", Assert.Throws<ArgumentException>(() => new BernoulliMixture<double>(options).Fit([0, 1], 2, 1, [-1, 1])).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new BinomialMixture<double>(0, options));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BernoulliMixture<double>(options with { Smoothing = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BernoulliMixture<double>(options with { Held = new HeldParameters { Components = [3] } }).Fit([0, 1], 2, 1));
    }

    private static void AssertNamed(Action fit, string where)
    {
        var error = Assert.Throws<ArgumentException>(fit);
        Assert.Equal("data", error.ParamName);
        if (!error.Message.Contains(where, StringComparison.Ordinal))
        {
            throw new XunitException($"Expected the message to name {where}: {error.Message}");
        }
    }
}
