using EmKernels.Mixtures;
using EmKernels.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace EmKernels.Tests;

/// <summary>
/// Parity with the reference fixtures (scikit-learn 1.2.1, cross-checked with mclust): one case per
/// *.json in $EMK_FIXTURES (default ../shared/fixtures). Each runs exactly FORMAT.md §6 — the given
/// start, exactly n iterations, no convergence test — and checks every expected key as §7 says.
/// Every model of the emk-fixture/1 format is supported; a fixture of any other model fails.
/// </summary>
[Trait("Category", "Parity")]
public sealed class FixtureParityTests(ITestOutputHelper output)
{
    public static TheoryData<string> AllFixtures() => new(Fixture.All());

    [Theory]
    [MemberData(nameof(AllFixtures))]
    public void Fixture_IsReproduced(string name)
    {
        var fixture = Fixture.Load(Path.Combine(Fixture.Folder(), name + ".json"));
        var comparison = new FixtureComparison(fixture);
        switch (fixture.Model)
        {
            case "gaussian-mixture":
                RunGaussian(fixture, comparison);
                break;
            case "bernoulli-mixture" or "categorical-mixture" or "binomial-mixture" or "poisson-mixture":
                RunDiscrete(fixture, comparison);
                break;
            default:
                throw new XunitException($"{fixture.Model} is not a model of the emk-fixture/1 format (FORMAT.md §2).");
        }

        output.WriteLine($"{name}: worst |diff| / allowed = {comparison.WorstRatio:F4} at {comparison.WorstWhere}");
        if (comparison.Failures.Count > 0)
        {
            throw new XunitException($"{name}: {comparison.Failures.Count} mismatches (worst |diff|/allowed {comparison.WorstRatio:E2} at {comparison.WorstWhere}):\n" + string.Join("\n", comparison.Failures.Take(20)));
        }
    }

    [Fact]
    public void FixtureFolder_HoldsFixtures() => Assert.NotEmpty(Fixture.All());

    private static void RunGaussian(Fixture fixture, FixtureComparison comparison)
    {
        var type = fixture.Root.GetProperty("covariance_type").GetString() switch
        {
            "full" => CovarianceType.Full,
            "tied" => CovarianceType.Tied,
            "diag" => CovarianceType.Diagonal,
            "spherical" => CovarianceType.Spherical,
            var other => throw new XunitException($"unknown covariance type {other}"),
        };
        var options = new GaussianMixtureOptions
        {
            Components = fixture.Components,
            CovarianceType = type,
            MaxIterations = fixture.Iterations,
            Tolerance = 0,
            RegCovar = fixture.Root.GetProperty("reg_covar").GetDouble(),
            InitialWeights = fixture.Init("weights"),
            InitialMeans = fixture.Init("means"),
            InitialCovariances = fixture.Init("covariances"),
            Seed = 0,
        };
        double[] x = fixture.Data;
        var model = new GaussianMixture<double>(options).Fit(x, fixture.Points, fixture.Features);
        Assert.Equal(fixture.Iterations, model.Iterations);
        comparison.Values("mean_log_likelihood", fixture.Expected("mean_log_likelihood"), model.MeanLogLikelihoodHistory);
        comparison.Values("weights", fixture.Expected("weights"), model.Weights);
        comparison.Values("means", fixture.Expected("means"), model.Means);
        comparison.Values("covariances", fixture.Expected("covariances"), model.Covariances);
        int head = Math.Min(fixture.Points, 10);
        comparison.Values("responsibilities_head", fixture.Expected("responsibilities_head"), model.PredictProbabilities(x.AsSpan(0, head * fixture.Features), head));
        comparison.Labels(fixture.Expected("labels"), model.Predict(x, fixture.Points));
    }

    private static void RunDiscrete(Fixture fixture, FixtureComparison comparison)
    {
        string key = fixture.Model == "poisson-mixture" ? "rates" : "probs";
        var options = new DiscreteMixtureOptions
        {
            Components = fixture.Components,
            MaxIterations = fixture.Iterations,
            Tolerance = 0,
            Smoothing = fixture.Root.GetProperty("smoothing").GetDouble(),
            InitialWeights = fixture.Init("weights"),
            InitialParameters = fixture.Init(key),
            Seed = 0,
        };
        double[] x = fixture.Data;
        int n = fixture.Points, d = fixture.Features;
        var data = fixture.Root.GetProperty("data");
        DiscreteMixtureModel<double> model = fixture.Model switch
        {
            "bernoulli-mixture" => new BernoulliMixture<double>(options).Fit(x, n, d),
            "categorical-mixture" => new CategoricalMixture<double>(data.GetProperty("categories").GetInt32(), options).Fit(x, n, d),
            "binomial-mixture" => new BinomialMixture<double>(data.GetProperty("trials").GetInt32(), options).Fit(x, n, d),
            _ => new PoissonMixture<double>(options).Fit(x, n, d),
        };
        Assert.Equal(fixture.Iterations, model.Iterations);
        comparison.Values("mean_log_likelihood", fixture.Expected("mean_log_likelihood"), model.MeanLogLikelihoodHistory);
        comparison.Values("weights", fixture.Expected("weights"), model.Weights);
        comparison.Values(key, fixture.Expected(key), model.Parameters);
        int head = Math.Min(n, 10);
        comparison.Values("responsibilities_head", fixture.Expected("responsibilities_head"), model.PredictProbabilities(x.AsSpan(0, head * d), head));
        comparison.Labels(fixture.Expected("labels"), model.Predict(x, n));
    }
}
