using EmKernels.Engine;
using EmKernels.Mixtures;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// Mixtures of multivariate t distributions by ECM (issue 17 §3), checked without a fixture: with ν fixed very large the fit
/// is the Gaussian mixture's; on data with 5 % gross outliers the t mixture recovers the clusters' means where the Gaussian
/// mixture does not; parameters (ν included) are recovered from samples of a t mixture; the log-likelihood never decreases,
/// for every covariance structure; the ν equation's root is its root.
/// </summary>
public sealed class StudentTMixtureTests
{
    private static double Normal(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    /// <summary>n points of a t mixture in 2-D: component k with location (6k, 0), scale diag(1, s_k), ν_k (integers: χ² as a sum of squares).</summary>
    private static double[] TMixture(int n, int[] nus, int seed, out int[] labels)
    {
        var random = new Random(seed);
        double[] x = new double[n * 2];
        labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            int k = random.Next(nus.Length);
            labels[i] = k;
            double chi = 0;
            for (int j = 0; j < nus[k]; j++)
            {
                double z = Normal(random);
                chi += z * z;
            }

            double scale = Math.Sqrt(nus[k] / chi);
            x[2 * i] = (6 * k) + (Normal(random) * scale);
            x[(2 * i) + 1] = Normal(random) * scale * (1 + k);
        }

        return x;
    }

    private static (FiniteMixture<double> Mixture, ExpectationMaximizationResult Result) Fit(
        ComponentFamily<double> family, double[] x, int n, int d, MixtureInitialization initialization = MixtureInitialization.KMeans, int restarts = 1)
    {
        var mixture = new FiniteMixture<double>(family, initialization);
        var result = ExpectationMaximization.Fit(mixture, new InMemoryDataSource<double>(x, n, d), new ExpectationMaximizationOptions { Seed = 3, MaxIterations = 500, Tolerance = 1e-10, Restarts = restarts });
        return (mixture, result);
    }

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Diagonal)]
    [InlineData(CovarianceType.Spherical)]
    [InlineData(CovarianceType.Tied)]
    public void WithNuFixedVeryLarge_TheFitIsTheGaussianMixtures(CovarianceType type)
    {
        double[] x = TMixture(3000, [30, 30], 1, out _);
        var (gaussian, g) = Fit(GaussianComponents<double>.Create(type, 2, 2), x, 3000, 2);
        var t = new StudentTComponents<double>(type, 2, 2, degreesOfFreedom: 1e7, DegreesOfFreedomEstimate.Fixed);
        var (_, r) = Fit(t, x, 3000, 2);
        var family = (GaussianComponents<double>)gaussian.Family;
        for (int i = 0; i < family.Means.Length; i++)
        {
            Assert.Equal(family.Means[i], t.Means[i], 1e-4);
        }

        for (int i = 0; i < family.Covariances.Length; i++)
        {
            Assert.Equal(family.Covariances[i], t.Scales[i], 1e-4);
        }

        Assert.Equal(g.Objective, r.Objective, 1e-4);
        Assert.Empty(r.Decreases);
    }

    [Fact]
    public void WithGrossOutliers_TheTMixtureRecoversTheMeans_AndTheGaussianDoesNot()
    {
        var random = new Random(7);
        int clean = 1900, outliers = 100, n = clean + outliers;
        double[] x = new double[n * 2];
        for (int i = 0; i < clean; i++)
        {
            x[2 * i] = (i % 2 == 0 ? 0 : 6) + Normal(random);
            x[(2 * i) + 1] = Normal(random);
        }

        for (int i = clean; i < n; i++)
        {
            x[2 * i] = (random.NextDouble() * 200) - 100;
            x[(2 * i) + 1] = (random.NextDouble() * 200) - 100;
        }

        double Error(ReadOnlySpan<double> means)
        {
            // The worst distance of a true mean to the nearest fitted one.
            double worst = 0;
            foreach ((double a, double b) in new[] { (0.0, 0.0), (6.0, 0.0) })
            {
                double best = double.PositiveInfinity;
                for (int k = 0; k < means.Length / 2; k++)
                {
                    best = Math.Min(best, Math.Sqrt(((means[2 * k] - a) * (means[2 * k] - a)) + ((means[(2 * k) + 1] - b) * (means[(2 * k) + 1] - b))));
                }

                worst = Math.Max(worst, best);
            }

            return worst;
        }

        // k-means puts a centre on the outliers; the best of 5 random-point starts is kept, for either model.
        var t = new StudentTComponents<double>(CovarianceType.Full, 2, 2);
        var (_, tResult) = Fit(t, x, n, 2, MixtureInitialization.RandomPoints, restarts: 5);
        var (gaussian, _) = Fit(GaussianComponents<double>.Create(CovarianceType.Full, 2, 2), x, n, 2, MixtureInitialization.RandomPoints, restarts: 5);
        Assert.True(Error(t.Means) < 0.15, $"t mixture's means are {Error(t.Means)} from the truth");
        Assert.True(Error(((GaussianComponents<double>)gaussian.Family).Means) > 1, $"the Gaussian mixture's means are only {Error(((GaussianComponents<double>)gaussian.Family).Means)} from the truth");
        Assert.Empty(tResult.Decreases);
        Assert.True(Math.Min(t.DegreesOfFreedom[0], t.DegreesOfFreedom[1]) < 3, "the component that takes the outliers has heavy tails");
    }

    [Theory]
    [InlineData(DegreesOfFreedomEstimate.PerComponent)]
    [InlineData(DegreesOfFreedomEstimate.Shared)]
    public void ParametersOfATMixture_AreRecoveredFromItsSamples(DegreesOfFreedomEstimate estimate)
    {
        int[] nus = estimate == DegreesOfFreedomEstimate.Shared ? [5, 5] : [3, 10];
        double[] x = TMixture(40_000, nus, 11, out _);
        var t = new StudentTComponents<double>(CovarianceType.Diagonal, 2, 2, estimate: estimate);
        var (mixture, result) = Fit(t, x, 40_000, 2);
        Assert.True(result.Converged);
        Assert.Empty(result.Decreases);
        int first = t.Means[0] < t.Means[2] ? 0 : 1;
        for (int j = 0; j < 2; j++)
        {
            int k = j == 0 ? first : 1 - first;
            Assert.Equal(6.0 * j, t.Means[2 * k], 0.05);
            Assert.Equal(0.0, t.Means[(2 * k) + 1], 0.05);
            Assert.Equal(1.0, t.Scales[2 * k], 0.06);
            Assert.Equal((1.0 + j) * (1.0 + j), t.Scales[(2 * k) + 1], 0.06 * (1 + j) * (1 + j));
            Assert.Equal(nus[j], t.DegreesOfFreedom[k], 0.2 * nus[j]);
            Assert.Equal(0.5, mixture.Weights[k], 0.02);
        }
    }

    [Fact]
    public void TheEstimator_RecoversAModelFromItsOwnSamples_AndScoresWithTheTDensity()
    {
        double[] weights = [0.3, 0.7], means = [0, 0, 5, 1], scales = [1, 0.3, 0.3, 0.5, 2, -0.5, -0.5, 1], nus = [4, 12];
        var truth = StudentTMixtureModel<double>.FromParameters(CovarianceType.Full, 2, weights, means, scales, nus);
        (double[] x, _) = truth.Sample(60_000, seed: 9);
        StudentTMixtureModel<double> fitted = new StudentTMixture<double>(new StudentTMixtureOptions { Components = 2, Seed = 1, Tolerance = 1e-8, MaxIterations = 1000 }).Fit(x, 60_000, 2);
        Assert.True(fitted.Converged);
        int first = fitted.Means[0] < fitted.Means[2] ? 0 : 1;
        for (int j = 0; j < 2; j++)
        {
            int k = j == 0 ? first : 1 - first;
            Assert.Equal(weights[j], fitted.Weights[k], 0.01);
            Assert.Equal(means[2 * j], fitted.Means[2 * k], 0.04);
            Assert.Equal(means[(2 * j) + 1], fitted.Means[(2 * k) + 1], 0.04);
            for (int e = 0; e < 4; e++)
            {
                Assert.Equal(scales[(4 * j) + e], fitted.Scales[(4 * k) + e], 0.08 * Math.Max(1, Math.Abs(scales[(4 * j) + e])));
            }

            Assert.Equal(nus[j], fitted.DegreesOfFreedom[k], 0.25 * nus[j]);
        }

        Assert.Equal(2 * 5 + 1 + 2, fitted.ParameterCount);

        // In two dimensions Γ((ν + 2)/2) / Γ(ν/2) = ν/2, so the density is (1 + Q/ν)^(−ν/2 − 1) / (2π |Σ|^½): no ln Γ needed.
        double[] probe = [0.3, -0.2, 4.0, 2.5, 30, -40];
        double[] scores = truth.ScoreSamples(probe, 3);
        for (int i = 0; i < 3; i++)
        {
            double density = 0;
            for (int k = 0; k < 2; k++)
            {
                double a = scales[4 * k], b = scales[(4 * k) + 1], c = scales[(4 * k) + 3], det = (a * c) - (b * b);
                double dx = probe[2 * i] - means[2 * k], dy = probe[(2 * i) + 1] - means[(2 * k) + 1];
                double q = ((c * dx * dx) - (2 * b * dx * dy) + (a * dy * dy)) / det;
                density += weights[k] * Math.Pow(1 + (q / nus[k]), (-nus[k] / 2) - 1) / (2 * Math.PI * Math.Sqrt(det));
            }

            Assert.Equal(Math.Log(density), scores[i], 1e-12 * Math.Max(1, Math.Abs(scores[i])));
        }
    }

    [Fact]
    public void InvalidArguments_AreNamed()
    {
        Assert.Equal("degreesOfFreedom", Assert.Throws<ArgumentOutOfRangeException>(() => new StudentTComponents<double>(CovarianceType.Full, 2, 2, degreesOfFreedom: 0)).ParamName);
        Assert.Equal("degreesOfFreedom", Assert.Throws<ArgumentOutOfRangeException>(() => new StudentTComponents<double>(CovarianceType.Full, 2, 2, double.PositiveInfinity)).ParamName);
        Assert.Equal("estimate", Assert.Throws<ArgumentOutOfRangeException>(() => new StudentTComponents<double>(CovarianceType.Full, 2, 2, 5, (DegreesOfFreedomEstimate)7)).ParamName);
        Assert.Equal("options.DegreesOfFreedom", Assert.Throws<ArgumentException>(() => new StudentTMixture<double>(new StudentTMixtureOptions { DegreesOfFreedom = -1 }).Fit(new double[20], 10, 2)).ParamName);
        Assert.Throws<ArgumentException>(() => StudentTMixtureModel<double>.FromParameters(CovarianceType.Diagonal, 1, [1.0], [0.0], [1.0], [0.0]));
    }

    [Fact]
    public void TheDegreesOfFreedomEquation_IsSolvedToItsRoot()
    {
        foreach (double nu in new[] { 0.5, 2.0, 7.5, 40.0, 900.0 })
        {
            // The constant for which ν solves −ψ(ν/2) + ln(ν/2) + c = 0.
            double c = EmKernels.Numerics.SpecialFunctions.Digamma(nu / 2) - Math.Log(nu / 2);
            Assert.Equal(nu, StudentTComponents<double>.SolveDegreesOfFreedom(c), nu * 1e-9);
        }

        Assert.Equal(StudentTComponents<double>.MaximumDegreesOfFreedom, StudentTComponents<double>.SolveDegreesOfFreedom(0.1));
    }

    [Fact]
    public void Float_IsWithin1e4OfDouble()
    {
        double[] x = TMixture(5000, [4, 4], 5, out _);
        var td = new StudentTComponents<double>(CovarianceType.Full, 2, 2);
        Fit(td, x, 5000, 2);
        var tf = new StudentTComponents<float>(CovarianceType.Full, 2, 2);
        var mixture = new FiniteMixture<float>(tf);
        ExpectationMaximization.Fit(mixture, new InMemoryDataSource<float>(x.Select(v => (float)v).ToArray(), 5000, 2), new ExpectationMaximizationOptions { Seed = 3, MaxIterations = 500, Tolerance = 1e-10 });
        for (int i = 0; i < td.Parameters.Length; i++)
        {
            Assert.Equal(td.Parameters[i], tf.Parameters[i], 2e-3 * Math.Max(1, Math.Abs(td.Parameters[i])));
        }
    }
}
