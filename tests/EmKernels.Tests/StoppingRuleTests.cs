using EmKernels.Engine;
using EmKernels.Mixtures;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// The stopping rules on slow EM: a Poisson mixture of R's <c>discoveries</c> (K = 2), where the absolute change of the mean
/// log-likelihood falls below 1e-3 long before the optimum (issue 18's example: −2.1140 after 8 iterations, the optimum
/// −2.1022); mclust's relative rule and Aitken's limit estimate stop near it, and "converged" means the chosen rule held.
/// </summary>
public sealed class StoppingRuleTests
{
    /// <summary>R's <c>datasets::discoveries</c>: great inventions and discoveries per year, 1860–1959.</summary>
    private static readonly double[] Discoveries =
    [
        5, 3, 0, 2, 0, 3, 2, 3, 6, 1, 2, 1, 2, 1, 3, 3, 3, 5, 2, 4, 4, 0, 2, 3, 7, 12, 3, 10, 9, 2, 3, 7, 7, 2, 3, 3, 6, 2, 4, 3, 5, 2, 2, 4, 0, 4, 2, 5, 2, 3,
        3, 6, 5, 8, 3, 6, 6, 0, 5, 2, 2, 2, 6, 3, 4, 4, 2, 2, 4, 7, 5, 3, 3, 0, 2, 2, 2, 1, 3, 4, 2, 2, 1, 1, 1, 2, 1, 4, 4, 3, 2, 1, 4, 1, 1, 1, 0, 0, 2, 0,
    ];

    private static DiscreteMixtureModel<double> Fit(StoppingRule rule, double tolerance, int seed) =>
        new PoissonMixture<double>(new DiscreteMixtureOptions { Components = 2, Seed = seed, Tolerance = tolerance, StoppingRule = rule, MaxIterations = 5000 }).Fit(Discoveries, 100, 1);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void TheRelativeAndAitkenRules_StopNearTheOptimum_WhereTheAbsoluteOneStopsEarly(int seed)
    {
        double optimum = Fit(StoppingRule.AbsoluteChange, 0, seed).MeanLogLikelihood;
        DiscreteMixtureModel<double> absolute = Fit(StoppingRule.AbsoluteChange, 1e-3, seed);
        DiscreteMixtureModel<double> relative = Fit(StoppingRule.RelativeChange, 1e-5, seed);
        DiscreteMixtureModel<double> aitken = Fit(StoppingRule.Aitken, 1e-5, seed);
        Assert.True(absolute.Converged && relative.Converged && aitken.Converged);
        Assert.True(absolute.MeanLogLikelihood < optimum - 0.008, $"absolute: {absolute.MeanLogLikelihood} against {optimum}");
        Assert.Equal(optimum, relative.MeanLogLikelihood, 5e-4);
        Assert.Equal(optimum, aitken.MeanLogLikelihood, 5e-5);
        Assert.True(aitken.Iterations > absolute.Iterations && relative.Iterations > absolute.Iterations);
        Assert.Equal(0.846, aitken.Weights.ToArray().Max(), 0.01);
    }

    [Fact]
    public void TheRelativeRule_IsOnTheSumOverTheData()
    {
        // The same data repeated ten times from the same start: the same trajectory of the mean log-likelihood, the sum ten
        // times larger, so mclust's rule (|ΔΣ| / (1 + |Σ|), nearly scale-free) stops at about the same iteration, as the
        // absolute rule on the mean does.
        double[] tenfold = Enumerable.Range(0, 10).SelectMany(_ => Discoveries).ToArray();
        foreach (StoppingRule rule in new[] { StoppingRule.RelativeChange, StoppingRule.AbsoluteChange })
        {
            var options = new DiscreteMixtureOptions
            {
                Components = 2, Tolerance = rule == StoppingRule.RelativeChange ? 1e-5 : 1e-4, StoppingRule = rule, MaxIterations = 5000,
                InitialWeights = [0.5, 0.5], InitialParameters = [2, 4],
            };
            DiscreteMixtureModel<double> once = new PoissonMixture<double>(options).Fit(Discoveries, 100, 1);
            DiscreteMixtureModel<double> repeated = new PoissonMixture<double>(options).Fit(tenfold, 1000, 1);
            Assert.Equal(once.MeanLogLikelihoodHistory[1], repeated.MeanLogLikelihoodHistory[1], 1e-12);
            Assert.True(Math.Abs(once.Iterations - repeated.Iterations) <= 1, $"{rule}: {once.Iterations} and {repeated.Iterations} iterations");
        }
    }

    [Fact]
    public void AnUnknownRule_IsRefused() =>
        Assert.Equal("options.StoppingRule", Assert.Throws<ArgumentOutOfRangeException>(() => ExpectationMaximization.Fit(
            new FiniteMixture<double>(DiscreteComponents<double>.Create(DiscreteDistribution.Poisson, 2, 1, 1, 1, 0)), new InMemoryDataSource<double>(Discoveries, 100, 1),
            new ExpectationMaximizationOptions { StoppingRule = (StoppingRule)7 })).ParamName);
}
