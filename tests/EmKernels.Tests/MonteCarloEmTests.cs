using EmKernels.Engine;
using EmKernels.Mixtures;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// Monte-Carlo EM (issue 17 §4): with the draws per point growing, MCEM on a Gaussian mixture ends at the exact EM fit, its
/// reported Monte-Carlo error shrinks as S grows, and it is reproducible (the same seed gives bitwise the same fit, for any
/// thread count); on the t mixture, whose ν step then uses drawn scales u instead of E[ln u] in closed form, MCEM ends at the
/// exact ECM fit.
/// </summary>
public sealed class MonteCarloEmTests
{
    private static double Normal(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static double[] Data(int n, int seed, bool heavy = false)
    {
        var random = new Random(seed);
        double[] x = new double[n * 2];
        for (int i = 0; i < n; i++)
        {
            int k = i % 3;
            double scale = 1;
            if (heavy)
            {
                double chi = 0;
                for (int j = 0; j < 4; j++)
                {
                    double z = Normal(random);
                    chi += z * z;
                }

                scale = Math.Sqrt(4 / chi);
            }

            x[2 * i] = (3 * k) + (scale * Normal(random));
            x[(2 * i) + 1] = (k == 1 ? 2 : 0) + (scale * Normal(random) * (1 + (0.5 * k)));
        }

        return x;
    }

    private static ExpectationMaximizationResult Fit(FiniteMixture<double> mixture, double[] x, int n, MonteCarloSchedule? schedule, int iterations, int? threads = null) =>
        ExpectationMaximization.Fit(mixture, new InMemoryDataSource<double>(x, n, 2), new ExpectationMaximizationOptions
        {
            Seed = 5, MaxIterations = iterations, Tolerance = schedule is null ? 1e-12 : 0, MonteCarlo = schedule, MaxDegreeOfParallelism = threads,
        });

    [Fact]
    public void OnAGaussianMixture_McemEndsAtTheExactEmFit_WithAShrinkingError()
    {
        int n = 1500;
        double[] x = Data(n, 1);
        var exact = new FiniteMixture<double>(GaussianComponents<double>.Create(CovarianceType.Full, 3, 2));
        ExpectationMaximizationResult exactResult = Fit(exact, x, n, null, 2000);
        Assert.True(exactResult.Converged);

        var schedule = new MonteCarloSchedule { InitialSamples = 5, Growth = 1.3, MaxSamples = 3000 };
        var mc = new FiniteMixture<double>(GaussianComponents<double>.Create(CovarianceType.Full, 3, 2));
        ExpectationMaximizationResult result = Fit(mc, x, n, schedule, 50);
        Assert.Equal(50, result.MonteCarloSamples.Length);
        Assert.Equal(5, result.MonteCarloSamples[0]);
        Assert.Equal(3000, result.MonteCarloSamples[^1]);
        // The error falls as 1/√S (S from 5 to 3000: by about √600 ≈ 24.5).
        double ratio = result.MonteCarloErrors[0] / result.MonteCarloErrors[^1];
        Assert.True(ratio > 24.5 / 2 && ratio < 24.5 * 2, $"error {result.MonteCarloErrors[0]} → {result.MonteCarloErrors[^1]}");
        Assert.Empty(result.Decreases);

        var e = (GaussianComponents<double>)exact.Family;
        var m = (GaussianComponents<double>)mc.Family;
        for (int i = 0; i < e.Means.Length; i++)
        {
            Assert.Equal(e.Means[i], m.Means[i], 5e-3);
        }

        for (int i = 0; i < e.Covariances.Length; i++)
        {
            Assert.Equal(e.Covariances[i], m.Covariances[i], 1e-2);
        }

        Assert.Equal(exactResult.Objective, result.Objective, 1e-5);

        // Early on, with few draws, the fit is visibly noisier than at the end.
        Assert.True(result.MonteCarloErrors[0] > 1e-3);
    }

    [Fact]
    public void McemIsReproducible_ForAnyThreadCount()
    {
        int n = 5000;
        double[] x = Data(n, 2);
        var schedule = new MonteCarloSchedule { InitialSamples = 3, Growth = 1.5, MaxSamples = 200 };
        double[] Parameters(int threads)
        {
            var mixture = new FiniteMixture<double>(GaussianComponents<double>.Create(CovarianceType.Diagonal, 3, 2));
            ExpectationMaximizationResult result = Fit(mixture, x, n, schedule, 12, threads);
            double[] parameters = new double[mixture.ParameterLength];
            mixture.WriteParameters(parameters);
            return [.. parameters, .. result.ObjectiveHistory, .. result.MonteCarloErrors];
        }

        double[] one = Parameters(1);
        Assert.Equal(one, Parameters(1));
        Assert.Equal(one, Parameters(2));
    }

    [Fact]
    public void OnATMixture_McemWithDrawnScales_FollowsTheExactEcmPath()
    {
        // The same start and the same 25 iterations, exact (E[u], E[ln u] in closed form) and by 400 draws of z and u per point:
        // the Monte-Carlo path stays on the exact one.
        int n = 2000;
        double[] x = Data(n, 3, heavy: true);
        var exactFamily = new StudentTComponents<double>(CovarianceType.Diagonal, 3, 2);
        ExpectationMaximizationResult exact = ExpectationMaximization.Fit(new FiniteMixture<double>(exactFamily), new InMemoryDataSource<double>(x, n, 2),
            new ExpectationMaximizationOptions { Seed = 5, MaxIterations = 25, Tolerance = 0 });
        var mcFamily = new StudentTComponents<double>(CovarianceType.Diagonal, 3, 2);
        ExpectationMaximizationResult result = Fit(new FiniteMixture<double>(mcFamily), x, n, new MonteCarloSchedule { InitialSamples = 400, Growth = 1, MaxSamples = 400 }, 25);
        for (int i = 0; i < exactFamily.Means.Length; i++)
        {
            Assert.Equal(exactFamily.Means[i], mcFamily.Means[i], 0.03);
        }

        for (int k = 0; k < 3; k++)
        {
            Assert.Equal(exactFamily.DegreesOfFreedom[k], mcFamily.DegreesOfFreedom[k], 0.08 * exactFamily.DegreesOfFreedom[k]);
        }

        Assert.Equal(exact.Objective, result.Objective, 2e-3);
    }

    [Fact]
    public void AModelWithoutAMonteCarloEStep_IsRefused_AndABadScheduleIsNamed()
    {
        var fa = new EmKernels.Latent.FactorAnalyzer<double>(2, 1);
        var e = Assert.Throws<ArgumentException>(() => ExpectationMaximization.Fit(fa, new InMemoryDataSource<double>(Data(100, 4), 100, 2), new ExpectationMaximizationOptions { MonteCarlo = new MonteCarloSchedule() }));
        Assert.Contains("Monte-Carlo", e.Message);
        var bad = Assert.Throws<ArgumentOutOfRangeException>(() => ExpectationMaximization.Fit(
            new FiniteMixture<double>(GaussianComponents<double>.Create(CovarianceType.Full, 2, 2)), new InMemoryDataSource<double>(Data(100, 4), 100, 2),
            new ExpectationMaximizationOptions { MonteCarlo = new MonteCarloSchedule { Growth = 0.5 } }));
        Assert.Contains("Growth", bad.ParamName);
    }
}
