using EmKernels.Mixtures;
using EmKernels.Tests.Infrastructure;
using Xunit;

namespace EmKernels.Tests;

/// <summary>Models built from parameters evaluate exactly as the fitted models they came from, and reject invalid parameters by name.</summary>
public sealed class ModelFromParametersTests
{
    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Tied)]
    [InlineData(CovarianceType.Diagonal)]
    [InlineData(CovarianceType.Spherical)]
    public void AGaussianModelRebuiltFromItsParametersEvaluatesIdentically(CovarianceType type)
    {
        var fixture = Fixture.Load(Path.Combine(Fixture.Folder(), "iris-full-k3.json"));
        double[] data = fixture.Data;
        var fitted = new GaussianMixture<double>(new GaussianMixtureOptions { Components = 3, CovarianceType = type, Seed = 1 }).Fit(data, 150, 4);
        var rebuilt = GaussianMixtureModel<double>.FromParameters(type, 4, fitted.Weights.ToArray(), fitted.Means.ToArray(), fitted.Covariances.ToArray());
        Assert.Equal(fitted.ScoreSamples(data, 150), rebuilt.ScoreSamples(data, 150));
        Assert.Equal(fitted.PredictProbabilities(data, 150), rebuilt.PredictProbabilities(data, 150));
        Assert.Equal(fitted.PrecisionsCholesky.ToArray(), rebuilt.PrecisionsCholesky.ToArray());
        Assert.Equal(fitted.Sample(20, 4).Points, rebuilt.Sample(20, 4).Points);
        Assert.Equal(fitted.ParameterCount, rebuilt.ParameterCount);
        Assert.Equal(0, rebuilt.Iterations);
        Assert.False(rebuilt.Converged);
        Assert.Equal(0, rebuilt.MeanLogLikelihoodHistory.Length);
        Assert.Throws<InvalidOperationException>(() => rebuilt.MeanLogLikelihood);
    }

    [Fact]
    public void ADiscreteModelRebuiltFromItsParametersEvaluatesIdentically()
    {
        var fixture = Fixture.Load(Path.Combine(Fixture.Folder(), "categorical-d4-c5-k3.json"));
        double[] data = fixture.Data;
        var fitted = new CategoricalMixture<double>(5, new DiscreteMixtureOptions { Components = 3, Seed = 2 }).Fit(data, fixture.Points, 4);
        var rebuilt = DiscreteMixtureModel<double>.FromParameters(DiscreteDistribution.Categorical, 4, fitted.Weights.ToArray(), fitted.Parameters.ToArray(), categories: 5);
        Assert.Equal(fitted.ScoreSamples(data, fixture.Points), rebuilt.ScoreSamples(data, fixture.Points));
        Assert.Equal(fitted.Predict(data, fixture.Points), rebuilt.Predict(data, fixture.Points));
        Assert.Equal(fitted.Sample(20, 4).Points, rebuilt.Sample(20, 4).Points);
    }

    [Fact]
    public void InvalidGaussianParametersAreRejectedByName()
    {
        double[] w = [0.5, 0.5], m = [0, 0, 1, 1], c = [1, 0, 0, 1, 1, 0, 0, 1];
        Assert.Equal("weights", Assert.Throws<ArgumentException>(() => GaussianMixtureModel<double>.FromParameters(CovarianceType.Full, 2, [0.5, 0.6], m, c)).ParamName);
        Assert.Equal("means", Assert.Throws<ArgumentException>(() => GaussianMixtureModel<double>.FromParameters(CovarianceType.Full, 2, w, [0, 0, 1], c)).ParamName);
        Assert.Equal("means", Assert.Throws<ArgumentException>(() => GaussianMixtureModel<double>.FromParameters(CovarianceType.Full, 2, w, [0, 0, 1, double.NaN], c)).ParamName);
        Assert.Equal("covariances", Assert.Throws<ArgumentException>(() => GaussianMixtureModel<double>.FromParameters(CovarianceType.Full, 2, w, m, [1, 2, 2, 1, 1, 0, 0, 1])).ParamName);
        Assert.Equal("covariances", Assert.Throws<ArgumentException>(() => GaussianMixtureModel<double>.FromParameters(CovarianceType.Full, 2, w, m, [1, 0.5, 0, 1, 1, 0, 0, 1])).ParamName);
        Assert.Equal("covariances", Assert.Throws<ArgumentException>(() => GaussianMixtureModel<double>.FromParameters(CovarianceType.Spherical, 2, w, m, [1, 0])).ParamName);
        Assert.Equal("weights", Assert.Throws<ArgumentOutOfRangeException>(() => GaussianMixtureModel<double>.FromParameters(CovarianceType.Full, 2, [], [], [])).ParamName);
        Assert.Equal("features", Assert.Throws<ArgumentOutOfRangeException>(() => GaussianMixtureModel<double>.FromParameters(CovarianceType.Full, 0, w, m, c)).ParamName);
        Assert.Throws<ArgumentNullException>(() => GaussianMixtureModel<double>.FromParameters(CovarianceType.Full, 2, w, null!, c));
    }

    [Fact]
    public void InvalidDiscreteParametersAreRejectedByName()
    {
        Assert.Equal("parameters", Assert.Throws<ArgumentException>(() => DiscreteMixtureModel<double>.FromParameters(DiscreteDistribution.Bernoulli, 2, [1], [0.5, 1.5])).ParamName);
        Assert.Equal("parameters", Assert.Throws<ArgumentException>(() => DiscreteMixtureModel<double>.FromParameters(DiscreteDistribution.Poisson, 2, [1], [1])).ParamName);
        Assert.Equal("parameters", Assert.Throws<ArgumentException>(() => DiscreteMixtureModel<double>.FromParameters(DiscreteDistribution.Categorical, 1, [1], [0.5, 0.6], categories: 2)).ParamName);
        Assert.Equal("weights", Assert.Throws<ArgumentException>(() => DiscreteMixtureModel<double>.FromParameters(DiscreteDistribution.Poisson, 1, [0.3, 0.3], [1, 2])).ParamName);
        Assert.Equal("trials", Assert.Throws<ArgumentOutOfRangeException>(() => DiscreteMixtureModel<double>.FromParameters(DiscreteDistribution.Binomial, 1, [1], [0.5], trials: 0)).ParamName);
    }
}
