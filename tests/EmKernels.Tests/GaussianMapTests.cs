using System.Text.Json;
using EmKernels.Mixtures;
using EmKernels.Numerics;
using EmKernels.Tests.Infrastructure;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// MAP estimation of Gaussian mixtures with mclust's conjugate prior (the bayes/ fixtures check the M-step and the
/// log-posterior): the default prior is mclust's defaultPrior, the log-posterior is what the model reports with the
/// log-likelihood and the log-prior, data of any magnitude give the same fit (the frame's Jacobian exact), bad priors
/// are refused; ln Γ against exact values.
/// </summary>
public sealed class GaussianMapTests
{
    [Theory]
    [InlineData("faithful-map-full-k3", CovarianceType.Full)]
    [InlineData("iris-map-diag-k3", CovarianceType.Diagonal)]
    [InlineData("wreath-map-tied-k14", CovarianceType.Tied)]
    [InlineData("digits-pca6-map-spherical-k10", CovarianceType.Spherical)]
    public void DefaultPrior_IsMclustsDefaultPrior(string name, CovarianceType type)
    {
        var fixture = Fixture.Load(Path.Combine(Fixture.Folder(), "bayes", name + ".json"));
        GaussianPrior prior = GaussianPrior.Default(type, fixture.Components, fixture.Data, fixture.Points, fixture.Features);
        JsonElement expected = fixture.Root.GetProperty("prior");
        Assert.Equal(expected.GetProperty("shrinkage").GetDouble(), prior.Shrinkage);
        Assert.Equal(expected.GetProperty("dof").GetDouble(), prior.DegreesOfFreedom);
        double[] mean = expected.GetProperty("mean").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        double[] scale = expected.GetProperty("scale").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        double spread = Math.Sqrt(scale.Max(Math.Abs));
        for (int j = 0; j < mean.Length; j++)
        {
            Assert.Equal(mean[j], prior.Mean[j], 1e-12 * (Math.Abs(mean[j]) + spread));
        }

        Assert.Equal(scale.Length, prior.Scale.Length);
        for (int i = 0; i < scale.Length; i++)
        {
            Assert.Equal(scale[i], prior.Scale[i], 1e-12 * scale.Max(Math.Abs));
        }
    }

    private static double[] Blobs(int n, double factor)
    {
        var random = new Random(5);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        return Enumerable.Range(0, n).SelectMany(i => new[] { (i % 3 * 4 + Normal()) * factor, ((i % 3) - Normal()) * factor }).ToArray();
    }

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Tied)]
    [InlineData(CovarianceType.Diagonal)]
    [InlineData(CovarianceType.Spherical)]
    public void TheLogPosterior_IsTheLikelihoodPlusThePrior_AndDataOfAnyMagnitudeGiveTheSameFit(CovarianceType type)
    {
        const int n = 600, d = 2, k = 3;
        double big = Math.ScaleB(1.0, 300);
        double[] x = Blobs(n, 1), xBig = Blobs(n, big);
        GaussianPrior prior = GaussianPrior.Default(type, k, x, n, d);
        var options = new GaussianMixtureOptions { Components = k, CovarianceType = type, Seed = 1, RegCovar = 0, Prior = prior, Tolerance = 1e-10, MaxIterations = 200 };
        GaussianMixtureModel<double> fit = new GaussianMixture<double>(options).Fit(x, n, d);
        Assert.Empty(fit.LikelihoodDecreases);
        Assert.Equal(fit.Score(x, n), fit.MeanLogLikelihood, 1e-10);
        Assert.Equal(fit.MeanLogPosterior, fit.MeanLogLikelihood + fit.LogPrior / n, 1e-12);
        Assert.True(double.IsFinite(fit.LogPrior) && fit.LogPrior != 0);

        // The same data × 2^300 with the prior scaled alike (its mean × 2^300, its scale × 2^600): the fit scales, and the
        // densities change by their Jacobians exactly: −D·300·ln 2 per point, −300·ln 2 · (mean coordinates + 2 · covariance entries) for the prior.
        var scaledPrior = new GaussianPrior(prior.Shrinkage, prior.Mean.Select(v => v * big).ToArray(), prior.DegreesOfFreedom, prior.Scale.Select(v => v * big * big).ToArray());
        GaussianMixtureModel<double> fitBig = new GaussianMixture<double>(options with { Prior = scaledPrior }).Fit(xBig, n, d);
        for (int i = 0; i < fit.Means.Length; i++)
        {
            Assert.Equal(fit.Means[i], fitBig.Means[i] / big, 1e-9 * (1 + Math.Abs(fit.Means[i])));
        }

        double ln2 = Math.Log(2);
        int entries = type switch { CovarianceType.Full => k * d * (d + 1) / 2, CovarianceType.Tied => d * (d + 1) / 2, CovarianceType.Diagonal => k * d, _ => k };
        Assert.Equal(fit.MeanLogLikelihood - (d * 300 * ln2), fitBig.MeanLogLikelihood, 1e-9 * Math.Abs(fitBig.MeanLogLikelihood));
        Assert.Equal(fit.LogPrior - (300 * ln2 * ((k * d) + (2 * entries))), fitBig.LogPrior, 1e-9 * Math.Abs(fitBig.LogPrior));
    }

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Tied)]
    [InlineData(CovarianceType.Diagonal)]
    [InlineData(CovarianceType.Spherical)]
    public void AWeightOfW_CountsAsWCopiesAgainstThePrior(CovarianceType type)
    {
        // The fit normalizes weights by a power of two; the prior is weighted alike, so weights of 3 (normalized by 4)
        // or of 1e-3 give the fit of the points repeated that often, not of the points once.
        const int n = 90, d = 2, k = 2;
        double[] x = Blobs(n, 1);
        GaussianPrior prior = GaussianPrior.Default(type, k, x, n, d);
        var options = new GaussianMixtureOptions { Components = k, CovarianceType = type, Seed = 1, RegCovar = 0, Prior = prior, Tolerance = 0, MaxIterations = 30, Initialization = GaussianMixtureInitialization.RandomPoints };
        double[] thrice = Enumerable.Range(0, 3).SelectMany(_ => x).ToArray();
        GaussianMixtureModel<double> copies = new GaussianMixture<double>(options with
        {
            InitialWeights = [0.5, 0.5], InitialMeans = [0, 0, 4, 1], InitialCovariances = null,
        }).Fit(thrice, 3 * n, d);
        GaussianMixtureModel<double> weighted = new GaussianMixture<double>(options with
        {
            InitialWeights = [0.5, 0.5], InitialMeans = [0, 0, 4, 1], InitialCovariances = null,
        }).Fit(x, n, d, Enumerable.Repeat(3.0, n).ToArray());
        for (int i = 0; i < copies.Means.Length; i++)
        {
            Assert.Equal(copies.Means[i], weighted.Means[i], 1e-9);
        }

        for (int i = 0; i < copies.Covariances.Length; i++)
        {
            Assert.Equal(copies.Covariances[i], weighted.Covariances[i], 1e-9);
        }

        Assert.Equal(copies.MeanLogLikelihood, weighted.MeanLogLikelihood, 1e-9);
        Assert.Equal(copies.MeanLogPosterior, weighted.MeanLogPosterior, 1e-9);
        Assert.Equal(weighted.Score(x, n), weighted.MeanLogLikelihood, 1e-9);
    }

    [Fact]
    public void InvalidPriors_AreRefusedNamingTheOption()
    {
        double[] x = Blobs(30, 1);
        var options = new GaussianMixtureOptions { Components = 2, CovarianceType = CovarianceType.Full };
        Assert.Equal("options.Prior", Assert.Throws<ArgumentException>(() => new GaussianMixture<double>(options with { Prior = new GaussianPrior(0.01, [0, 0, 0], 4, [1, 0, 0, 1]) }).Fit(x, 30, 2)).ParamName);
        Assert.Equal("options.Prior", Assert.Throws<ArgumentException>(() => new GaussianMixture<double>(options with { Prior = new GaussianPrior(0, [0, 0], 4, [1, 0, 0, 1]) }).Fit(x, 30, 2)).ParamName);
        Assert.Equal("options.Prior", Assert.Throws<ArgumentException>(() => new GaussianMixture<double>(options with { Prior = new GaussianPrior(0.01, [0, 0], 0.5, [1, 0, 0, 1]) }).Fit(x, 30, 2)).ParamName);
        Assert.Equal("options.Prior", Assert.Throws<ArgumentException>(() => new GaussianMixture<double>(options with { Prior = new GaussianPrior(0.01, [0, 0], 4, [1, 2, 2, 1]) }).Fit(x, 30, 2)).ParamName);
        Assert.Equal("options.Prior", Assert.Throws<ArgumentException>(() => new GaussianMixture<double>(options with { CovarianceType = CovarianceType.Diagonal, Prior = new GaussianPrior(0.01, [0, 0], 4, [1, 0, 0, 1]) }).Fit(x, 30, 2)).ParamName);
    }

    [Fact]
    public void LogGamma_MatchesExactValues()
    {
        Assert.Equal(0.5 * Math.Log(Math.PI), SpecialFunctions.LogGamma(0.5), 1e-14);
        Assert.Equal(0.0, SpecialFunctions.LogGamma(1), 1e-14);
        Assert.Equal(0.0, SpecialFunctions.LogGamma(2), 1e-14);
        Assert.Equal(Math.Log(362880), SpecialFunctions.LogGamma(10), 1e-13);
        Assert.Equal(Math.Log(0.75 * Math.Sqrt(Math.PI)), SpecialFunctions.LogGamma(2.5), 1e-14);
        double factorial = 0;
        for (int i = 2; i < 171; i++)
        {
            factorial += Math.Log(i - 1);
            Assert.Equal(factorial, SpecialFunctions.LogGamma(i), 1e-13 * Math.Max(1, factorial));
        }

        // Γ_2(a) = √π Γ(a) Γ(a − ½).
        Assert.Equal((0.5 * Math.Log(Math.PI)) + SpecialFunctions.LogGamma(3) + SpecialFunctions.LogGamma(2.5), SpecialFunctions.LogMultivariateGamma(2, 3), 1e-13);
    }

    [Theory]
    [InlineData(CovarianceType.Full, 1.0)]
    [InlineData(CovarianceType.Diagonal, 3.0)]
    public void ADirichletPriorOnTheWeights_GivesTheirMapUpdate_AndItsLogDensity(CovarianceType type, double sampleWeight)
    {
        // At convergence w_k = (N_k + α − 1) / (Σ N + K(α − 1)), N_k the responsibilities' sums × the sample weight (a weight
        // of 3 is three copies of the point, against one prior), and the log-prior gains ln Γ(Kα) − K ln Γ(α) + (α − 1) Σ ln w_k.
        const int n = 300, d = 2, k = 3;
        const double alpha = 40;
        double[] x = Blobs(n, 1);
        GaussianPrior prior = GaussianPrior.Default(type, k, x, n, d) with { WeightConcentration = alpha };
        var options = new GaussianMixtureOptions { Components = k, CovarianceType = type, Seed = 1, RegCovar = 0, Prior = prior, Tolerance = 1e-13, MaxIterations = 2000 };
        double[] weights = Enumerable.Repeat(sampleWeight, n).ToArray();
        GaussianMixtureModel<double> fit = new GaussianMixture<double>(options).Fit(x, n, d, sampleWeight == 1 ? default : weights);
        Assert.Empty(fit.LikelihoodDecreases);
        double[] r = fit.PredictProbabilities(x, n);
        double total = sampleWeight * n;
        double logDirichlet = SpecialFunctions.LogGamma(k * alpha) - (k * SpecialFunctions.LogGamma(alpha));
        for (int j = 0; j < k; j++)
        {
            double mass = 0;
            for (int i = 0; i < n; i++)
            {
                mass += sampleWeight * r[i * k + j];
            }

            Assert.Equal((mass + alpha - 1) / (total + (k * (alpha - 1))), fit.Weights[j], 1e-6); // EM converges linearly: 1e-13 in the objective leaves ~1e-7 here
            logDirichlet += (alpha - 1) * Math.Log(fit.Weights[j]);
        }

        FiniteMixture<double> same = fit.ToFiniteMixture();
        ((GaussianComponents<double>)same.Family).Prior = prior;
        Assert.Equal(same.ObjectiveCorrection() + logDirichlet, fit.LogPrior, 1e-9 * Math.Abs(fit.LogPrior));
        Assert.Equal("options.Prior", Assert.Throws<ArgumentException>(() => new GaussianMixture<double>(options with { Prior = prior with { WeightConcentration = 0.5 } }).Fit(x, n, d)).ParamName);
    }

    [Fact]
    public void AVanishingPrior_GivesTheEmFit_WithinWhatItsDivisorAdds()
    {
        // κ → 0, Λ → 0, ν at its least: the MAP covariance is W_k / (n_k + ν + D + 2) where EM's is W_k / n_k, the
        // mean (n ȳ + κ μ_P)/(n + κ) is ȳ; so from the same start the fits agree to about (ν + D + 2) / n_k.
        const int n = 30_000, d = 2, k = 3;
        double[] x = Blobs(n, 1);
        var options = new GaussianMixtureOptions { Components = k, CovarianceType = CovarianceType.Full, Seed = 2, RegCovar = 0, Tolerance = 1e-12, MaxIterations = 500 };
        GaussianMixtureModel<double> em = new GaussianMixture<double>(options).Fit(x, n, d);
        GaussianMixtureModel<double> map = new GaussianMixture<double>(options with { Prior = new GaussianPrior(1e-12, [0, 0], d - 1 + 1e-9, [1e-12, 0, 0, 1e-12]) }).Fit(x, n, d);
        double allowed = 3 * (d + 1 + d + 2) / (n / (double)k);
        for (int i = 0; i < em.Means.Length; i++)
        {
            Assert.Equal(em.Means[i], map.Means[i], 1e-3);
        }

        for (int i = 0; i < em.Covariances.Length; i++)
        {
            Assert.True(Math.Abs(em.Covariances[i] - map.Covariances[i]) <= allowed * (Math.Abs(em.Covariances[i]) + 0.1), $"covariance {i}: EM {em.Covariances[i]}, MAP {map.Covariances[i]}");
        }

        Assert.Equal(em.MeanLogLikelihood, map.MeanLogLikelihood, 1e-3);
    }

    [Fact]
    public void TheCommandLinePrior_IsTheLibrarysDefaultPriorFit()
    {
        var fixture = Fixture.Load(Path.Combine(Fixture.Folder(), "bayes", "faithful-map-full-k3.json"));
        int n = fixture.Points, d = fixture.Features;
        string folder = Directory.CreateTempSubdirectory("emk-map-").FullName;
        try
        {
            string csv = Path.Combine(folder, "x.csv"), model = Path.Combine(folder, "m.json");
            File.WriteAllLines(csv, ["a,b", .. Enumerable.Range(0, n).Select(i => string.Join(",", fixture.Data.Skip(i * d).Take(d).Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))))]);
            var output = new StringWriter();
            var error = new StringWriter();
            Assert.Equal(0, Cli.Emk.Run(["fit", csv, "--prior", "-k", "3", "--covariance", "full", "--reg-covar", "0", "--seed", "0", "-o", model], output, error, interactive: false));
            GaussianMixtureModel<double> expected = new GaussianMixture<double>(new GaussianMixtureOptions
            {
                Components = 3, CovarianceType = CovarianceType.Full, RegCovar = 0, Seed = 0, Prior = GaussianPrior.Default(CovarianceType.Full, 3, fixture.Data, n, d),
            }).Fit(fixture.Data, n, d);
            JsonElement root = JsonDocument.Parse(File.ReadAllText(model)).RootElement;
            Assert.Equal(expected.MeanLogLikelihood, root.GetProperty("mean_log_likelihood").GetDouble(), 1e-12);
            Assert.Equal(expected.Means.ToArray(), root.GetProperty("means").EnumerateArray().Select(e => e.GetDouble()).ToArray(), new Relative(1e-12));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private sealed class Relative(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance * (1 + Math.Abs(x));

        public int GetHashCode(double obj) => 0;
    }
}
