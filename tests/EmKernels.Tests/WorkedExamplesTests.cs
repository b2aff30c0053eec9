using EmKernels.Mixtures;
using EmKernels.Tests.Infrastructure;
using Xunit;

namespace EmKernels.Tests;

/// <summary>The lecture notes' worked examples, run as the README shows them.</summary>
public sealed class WorkedExamplesTests
{
    /// <summary>Observed: HHH, HTH, HHT, HTT (three tosses of the coin chosen by coin 0).</summary>
    private static readonly string[] Observations = ["HHH", "HTH", "HHT", "HTT"];

    [Fact]
    public void ThreeCoins_AsABinomialMixture_FollowsTheReferenceIterates()
    {
        // x = heads out of 3 tosses; component 0 = coin 1 (chosen with probability λ), component 1 = coin 2.
        double[] heads = Observations.Select(o => (double)o.Count(c => c == 'H')).ToArray();
        var fixture = Fixture.Load(Path.Combine(Fixture.Folder(), "three-coins-binomial.json"));
        Assert.Equal(fixture.Data, heads);
        var model = new BinomialMixture<double>(trials: 3, new DiscreteMixtureOptions
        {
            Components = 2, MaxIterations = fixture.Iterations, Tolerance = 0,
            InitialWeights = fixture.Init("weights"), InitialParameters = fixture.Init("probs"),
        }).Fit(heads, points: 4, features: 1);
        var comparison = new FixtureComparison(fixture);
        comparison.Values("mean_log_likelihood", fixture.Expected("mean_log_likelihood"), model.MeanLogLikelihoodHistory);
        comparison.Values("weights (λ, 1 − λ)", fixture.Expected("weights"), model.Weights);
        comparison.Values("probs (ρ, θ)", fixture.Expected("probs"), model.Parameters);
        Assert.Empty(comparison.Failures);
    }

    [Fact]
    public void ThreeCoins_AsABernoulliMixture_FollowsTheReferenceIterates()
    {
        // One feature per toss position: a different model after the first M-step (its own p per position).
        double[] tosses = Observations.SelectMany(o => o.Select(c => c == 'H' ? 1.0 : 0.0)).ToArray();
        var fixture = Fixture.Load(Path.Combine(Fixture.Folder(), "three-coins-bernoulli.json"));
        Assert.Equal(fixture.Data, tosses);
        var model = new BernoulliMixture<double>(new DiscreteMixtureOptions
        {
            Components = 2, MaxIterations = fixture.Iterations, Tolerance = 0,
            InitialWeights = fixture.Init("weights"), InitialParameters = fixture.Init("probs"),
        }).Fit(tosses, points: 4, features: 3);
        var comparison = new FixtureComparison(fixture);
        comparison.Values("mean_log_likelihood", fixture.Expected("mean_log_likelihood"), model.MeanLogLikelihoodHistory);
        comparison.Values("weights", fixture.Expected("weights"), model.Weights);
        comparison.Values("probs", fixture.Expected("probs"), model.Parameters);
        Assert.Empty(comparison.Failures);
    }

    [Theory]
    [InlineData(0.3, 2.5, 0.5)]
    [InlineData(0.6, -1.5, 3.0)]
    public void FixedProportion_AndFixedStandardNormal_LearnOnlyTheOtherMean(double pi, double trueMean, double start)
    {
        // o_i ~ π N(0, 1) + (1 − π) N(λ, 1), with π and component 0 fixed: each M-step is λ' = Σ o_i r_i / Σ r_i.
        var random = new Random(17);
        double[] o = Enumerable.Range(0, 300).Select(_ => (random.NextDouble() < pi ? 0 : trueMean) + SyntheticMixture.Normal(random)).ToArray();
        double lambda = start;
        for (int iteration = 1; iteration <= 6; iteration++)
        {
            // The update written out from the definition.
            double numerator = 0, denominator = 0;
            foreach (double x in o)
            {
                double a = pi * Math.Exp(-0.5 * x * x);
                double b = (1 - pi) * Math.Exp(-0.5 * (x - lambda) * (x - lambda));
                double r = b / (a + b);
                numerator += x * r;
                denominator += r;
            }

            lambda = numerator / denominator;
            var model = new GaussianMixture<double>(new GaussianMixtureOptions
            {
                Components = 2, CovarianceType = CovarianceType.Spherical, MaxIterations = iteration, Tolerance = 0, RegCovar = 0,
                InitialWeights = [pi, 1 - pi], InitialMeans = [0, start], InitialCovariances = [1, 1],
                Held = new HeldParameters { Weights = true, Components = [0], Covariances = true },
            }).Fit(o, o.Length, 1);
            Assert.Equal(lambda, model.Means[1], 12);
            Assert.Equal(0, model.Means[0]);
            Assert.Equal(pi, model.Weights[0], 15);
            Assert.Equal(1 - pi, model.Weights[1], 15);
            Assert.Equal([1.0, 1.0], model.Covariances.ToArray());
        }
    }
}
