using EmKernels.Engine;
using EmKernels.Mixtures;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// Ill-conditioned covariances: data of lower rank than D (regularized by reg_covar alone) and fewer points
/// than features. A float fit reaches the double fit's mean log-likelihood within 1e-3 per point (its second
/// moments go to double when float sums cannot tell the small eigenvalues), and no fit reports a decrease of the
/// log-likelihood that rounding under the covariances' conditioning explains — while a real decrease is still reported.
/// </summary>
public sealed class ConditioningTests
{
    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Tied)]
    public void FloatFits_OfRankDeficientData_ReachTheDoubleFit(CovarianceType type)
    {
        (double[] x, int n, int d) = RankTwo(2000, 50, new Random(1));
        var options = new GaussianMixtureOptions { Components = 3, CovarianceType = type, Seed = 0 };
        var reference = new GaussianMixture<double>(options).Fit(x, n, d);
        float[] single = x.Select(v => (float)v).ToArray();
        var model = new GaussianMixture<float>(options).Fit(single, n, d);
        Assert.Empty(model.Reseeds);
        Assert.Empty(model.LikelihoodDecreases);
        Assert.Empty(reference.LikelihoodDecreases);
        Assert.Equal(reference.MeanLogLikelihood, model.MeanLogLikelihood, 1e-3);
        Assert.Equal(3, model.Predict(single, n).Distinct().Count());
    }

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Tied)]
    public void FewerPointsThanFeatures_FitWithoutReportedDecreases_InDoubleAndFloat(CovarianceType type)
    {
        var random = new Random(2);
        const int n = 5, d = 300;
        for (int seed = 0; seed < 10; seed++)
        {
            double[] x = Enumerable.Range(0, n * d).Select(_ => Normal(random)).ToArray();
            var options = new GaussianMixtureOptions { Components = 3, CovarianceType = type, Seed = seed };
            var reference = new GaussianMixture<double>(options).Fit(x, n, d);
            var model = new GaussianMixture<float>(options).Fit(x.Select(v => (float)v).ToArray(), n, d);
            Assert.Empty(reference.LikelihoodDecreases);
            Assert.Empty(model.LikelihoodDecreases);
            Assert.Empty(model.Reseeds);
            Assert.Equal(reference.MeanLogLikelihood, model.MeanLogLikelihood, 1e-3);
        }
    }

    [Fact]
    public void OnePointPerComponent_TiedFits_DoNotDecrease()
    {
        // K = N: each k-means cluster is one point, whose scatter about its own centre is exactly zero.
        var random = new Random(3);
        for (int seed = 0; seed < 40; seed++)
        {
            double[] x = Enumerable.Range(0, 20).Select(_ => Normal(random)).ToArray();
            var model = new GaussianMixture<double>(new GaussianMixtureOptions { Components = 10, CovarianceType = CovarianceType.Tied, Seed = seed }).Fit(x, 10, 2);
            Assert.Empty(model.LikelihoodDecreases);
        }
    }

    [Fact]
    public void ARealDecrease_IsStillReported()
    {
        // A model whose M-step moves its mean away from the data: the objective falls by far more than rounding.
        var mixture = new FiniteMixture<double>(new DiagonalCovarianceComponents<double>(1, 2), MixtureInitialization.Current);
        var worsening = new Worsening(mixture);
        double[] x = Enumerable.Range(0, 400).Select(i => Math.Sin(i)).ToArray();
        ExpectationMaximizationResult result = ExpectationMaximization.Fit(worsening, new InMemoryDataSource<double>(x, 200, 2), new ExpectationMaximizationOptions { MaxIterations = 3, Tolerance = 0 });
        Assert.NotEmpty(result.Decreases);
    }

    private static (double[] X, int N, int D) RankTwo(int n, int d, Random random)
    {
        double[] basis = Enumerable.Range(0, 2 * d).Select(_ => Normal(random)).ToArray();
        double[] x = new double[n * d];
        for (int i = 0; i < n; i++)
        {
            int c = i % 3;
            double z0 = (c - 1) * 5 + Normal(random), z1 = (c == 1 ? 4 : -2) + Normal(random);
            for (int j = 0; j < d; j++)
            {
                x[i * d + j] = z0 * basis[j] + z1 * basis[d + j];
            }
        }

        return (x, n, d);
    }

    private static double Normal(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    /// <summary>A mixture whose M-step is followed by moving every mean by 1: not EM, so its objective decreases.</summary>
    private sealed class Worsening(FiniteMixture<double> inner) : IExpectationMaximizationModel<double>
    {
        public int Features => inner.Features;

        public int FreeParameterCount => inner.FreeParameterCount;

        public StatisticsLayout StatisticsLayout => inner.StatisticsLayout;

        public int ParameterLength => inner.ParameterLength;

        public bool SupportsTranslation => inner.SupportsTranslation;

        public void Translate(ReadOnlySpan<double> offset) => inner.Translate(offset);

        public void WriteParameters(Span<double> destination) => inner.WriteParameters(destination);

        public void ReadParameters(ReadOnlySpan<double> source) => inner.ReadParameters(source);

        public int WorkspaceLength(int tilePoints) => inner.WorkspaceLength(tilePoints);

        public void Validate(in DataTile<double> tile) => inner.Validate(tile);

        public bool Initialize(ModelInitialization<double> context) => inner.Initialize(context);

        public void PrepareExpectation(bool reshift) => inner.PrepareExpectation(reshift);

        public void AdoptShift(SufficientStatistics statistics) => inner.AdoptShift(statistics);

        public void ResetStatistics(SufficientStatistics statistics) => inner.ResetStatistics(statistics);

        public bool TryWriteImpliedStatistics(SufficientStatistics statistics) => inner.TryWriteImpliedStatistics(statistics);

        public double Expectation(in DataTile<double> tile, SufficientStatistics? statistics, Span<double> workspace, Span<double> pointObjectives) =>
            inner.Expectation(tile, statistics, workspace, pointObjectives);

        public bool Maximize(SufficientStatistics statistics, MaximizationContext context)
        {
            bool reseeded = inner.Maximize(statistics, context);
            inner.Translate([1.0, 1.0]);
            return reseeded;
        }

        public double ObjectiveCorrection() => inner.ObjectiveCorrection();

        public double ObjectiveRoundingError() => inner.ObjectiveRoundingError();
    }
}
