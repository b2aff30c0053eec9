using System.Text.Json;
using EmKernels.Engine;
using EmKernels.Mixtures;
using EmKernels.Numerics;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// mclust's noise component through the public estimator: every (model, G) BIC, the best model's parameters and its
/// classification against mclust 6.0's own fits (Reference/mclust/noise-faithful.R); the fitted model's evaluation against a
/// scalar reference of the density; the default start (nearest-neighbour clutter) on data whose clutter is known.
/// </summary>
public sealed class NoiseComponentTests
{
    private static readonly JsonElement Reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Reference", "mclust", "noise-faithful.json"))).RootElement;

    private static double[] Doubles(string name) => Reference.GetProperty(name).EnumerateArray().Select(e => e.GetDouble()).ToArray();

    private static (double[] X, int N, bool[] Flags) Faithful() =>
        (Doubles("data"), Reference.GetProperty("points").GetInt32(), Reference.GetProperty("initial_noise").EnumerateArray().Select(e => e.GetBoolean()).ToArray());

    /// <summary>mclust's settings: its agglomeration, no regularization, its relative stopping rule, me()'s warm inner iterations.</summary>
    private static GaussianMixtureModel<double> FitAsMclust(ParsimoniousModel model, int g, bool[]? flags, double[] x, int n) =>
        new GaussianMixture<double>(new GaussianMixtureOptions
        {
            Components = g,
            Parameterization = model,
            Noise = new NoiseComponentOptions { InitialNoise = flags },
            Initialization = GaussianMixtureInitialization.Hierarchical,
            RegCovar = 0,
            Tolerance = 1e-5,
            StoppingRule = StoppingRule.RelativeChange,
            MaxIterations = 5000,
        }).Fit(x, n, 2);

    /// <summary>
    /// mclust's BIC (its sign, 2ℓ − p ln N) of the log-likelihood me() reports: the E-step's, under the parameters one M-step
    /// before the last (FORMAT §8 of the mclust fixtures).
    /// </summary>
    private static double MclustBic(GaussianMixtureModel<double> fit, int n) =>
        (2 * n * fit.MeanLogLikelihoodHistory[^2]) - (fit.ParameterCount * Math.Log(n));

    [Fact]
    public void EveryBicOfTheTable_IsMclusts()
    {
        (double[] x, int n, bool[] flags) = Faithful();
        string[] models = Reference.GetProperty("models").EnumerateArray().Select(e => e.GetString()!).ToArray();
        int[] gs = Reference.GetProperty("G").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        double[] expected = Doubles("bic");
        var failures = new List<string>();
        for (int gi = 0; gi < gs.Length; gi++)
        {
            for (int m = 0; m < models.Length; m++)
            {
                GaussianMixtureModel<double> fit = FitAsMclust(Enum.Parse<ParsimoniousModel>(models[m]), gs[gi], flags, x, n);
                double bic = MclustBic(fit, n);
                double want = expected[gi * models.Length + m];
                if (!(Math.Abs(bic - want) <= 1e-6 * Math.Abs(want)))
                {
                    failures.Add($"{models[m]},{gs[gi]}: {bic:R} vs mclust {want:R}");
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join("; ", failures));
    }

    [Fact]
    public void TheBestModel_HasMclustsParametersAndClassification()
    {
        (double[] x, int n, bool[] flags) = Faithful();
        var model = Enum.Parse<ParsimoniousModel>(Reference.GetProperty("best_model").GetString()!);
        int g = Reference.GetProperty("best_G").GetInt32();
        GaussianMixtureModel<double> fit = FitAsMclust(model, g, flags, x, n);
        Assert.True(fit.HasNoise);
        Assert.Equal(g + 1, fit.Components);
        Assert.Equal(g, fit.Gaussians);
        Assert.Equal(-Reference.GetProperty("log_hypervolume").GetDouble(), fit.LogNoiseDensity!.Value, 1e-12);
        Assert.Equal(Reference.GetProperty("best_loglik").GetDouble(), fit.MeanLogLikelihoodHistory[^2] * n, 1e-7 * n);

        // mclust returns the parameters whose E-step gave its last log-likelihood; the model, those of one more M-step (the
        // engine's pass evaluates one set of parameters while it gathers the next's statistics): mclust's estep and mstep once
        // more from its fit ("next" in the reference) give them.
        Assert.Equal(Reference.GetProperty("best_next_loglik").GetDouble(), fit.MeanLogLikelihood * n, 1e-9 * n);
        double[] weights = Doubles("best_next_weights");
        for (int k = 0; k <= g; k++)
        {
            Assert.Equal(weights[k], fit.Weights[k], 1e-9);
        }

        double[] means = Doubles("best_next_means"); // mclust's D × G, column k the mean of component k
        for (int k = 0; k < g; k++)
        {
            for (int a = 0; a < 2; a++)
            {
                Assert.Equal(means[k * 2 + a], fit.Means[k * 2 + a], 1e-8);
            }
        }

        // mclust labels the noise 0 and the Gaussians 1 … G; the model labels them G and 0 … G − 1.
        int[] expected = Reference.GetProperty("best_next_classification").EnumerateArray().Select(e => e.GetInt32() == 0 ? g : e.GetInt32() - 1).ToArray();
        Assert.Equal(expected, fit.Predict(x, n));
    }

    [Fact]
    public void TheModelsDensity_IsTheMixtureOfItsGaussiansAndTheUniform()
    {
        (double[] x, int n, bool[] flags) = Faithful();
        GaussianMixtureModel<double> fit = FitAsMclust(ParsimoniousModel.VVV, 2, flags, x, n);
        double[] scores = fit.ScoreSamples(x, n);
        double[] probabilities = fit.PredictProbabilities(x, n);
        Assert.Equal(n * 3, probabilities.Length);
        for (int i = 0; i < n; i++)
        {
            double[] terms = new double[3];
            for (int k = 0; k < 2; k++)
            {
                double[] s = fit.ComponentCovariance(k);
                double det = (s[0] * s[3]) - (s[1] * s[2]);
                double u = x[i * 2] - fit.Means[k * 2], v = x[i * 2 + 1] - fit.Means[k * 2 + 1];
                double q = ((s[3] * u * u) - (2 * s[1] * u * v) + (s[0] * v * v)) / det;
                terms[k] = fit.Weights[k] * Math.Exp(-0.5 * q) / (2 * Math.PI * Math.Sqrt(det));
            }

            terms[2] = fit.Weights[2] * Math.Exp(fit.LogNoiseDensity!.Value);
            double total = terms.Sum();
            Assert.Equal(Math.Log(total), scores[i], 1e-10);
            for (int k = 0; k < 3; k++)
            {
                Assert.Equal(terms[k] / total, probabilities[i * 3 + k], 1e-10);
            }
        }

        // The same model from its parameters evaluates the same.
        GaussianMixtureModel<double> rebuilt = GaussianMixtureModel<double>.FromNoiseParameters(
            ParsimoniousModel.VVV, fit.LogNoiseDensity!.Value, 2, fit.Weights.ToArray(), fit.Means.ToArray(), fit.Covariances.ToArray(), fit.CovarianceScaleExponent);
        double[] again = rebuilt.ScoreSamples(x, n);
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(scores[i], again[i], 1e-12);
        }

        Assert.Equal(fit.ParameterCount, rebuilt.ParameterCount);
        Assert.Equal(6 + 4 + 2 + 1, fit.ParameterCount); // VVV G = 2: 6 covariance entries, 4 means, 2 weights, the hypervolume
        Assert.Throws<ArgumentOutOfRangeException>(() => fit.ComponentCovariance(2));
        Assert.Throws<NotSupportedException>(() => fit.Sample(5, 1));
    }

    [Fact]
    public void NearestNeighborClutter_FindsTheUniformPointsAmongDenseClusters()
    {
        var random = new Random(7);
        int clustered = 1000, uniform = 150, n = clustered + uniform;
        double[] x = new double[n * 2];
        for (int i = 0; i < n; i++)
        {
            for (int a = 0; a < 2; a++)
            {
                x[i * 2 + a] = i < clustered ? (i % 2 == 0 ? 3 : 7) + (0.4 * StandardNormal.Next(random)) : random.NextDouble() * 10;
            }
        }

        bool[] clutter = NoiseDetection.NearestNeighborClutter(x, n, 2, 10);
        int found = clutter.Skip(clustered).Count(c => c), wrong = clutter.Take(clustered).Count(c => c);
        Assert.True(found >= 0.85 * uniform, $"{found} of {uniform} uniform points flagged ({wrong} clustered)");
        Assert.True(wrong <= 0.06 * clustered, $"{wrong} of {clustered} clustered points flagged");
    }

    [Fact]
    public void TheDefaultStart_FitsTheClustersWithoutTheOutliers()
    {
        // Three clusters and 10 % far outliers: with a noise component (its start found by nearest-neighbour clutter, the
        // Gaussians started by k-means of the rest), the means are the clusters' and the noise takes the outliers.
        var random = new Random(11);
        int n = 1500;
        double[] x = new double[n * 2];
        bool[] outlier = new bool[n];
        double[][] centres = [[0, 0], [8, 0], [0, 8]];
        for (int i = 0; i < n; i++)
        {
            outlier[i] = random.NextDouble() < 0.1;
            for (int a = 0; a < 2; a++)
            {
                x[i * 2 + a] = outlier[i] ? (random.NextDouble() * 60) - 30 : centres[i % 3][a] + StandardNormal.Next(random);
            }
        }

        GaussianMixtureModel<double> fit = new GaussianMixture<double>(new GaussianMixtureOptions
        {
            Components = 3,
            Noise = new NoiseComponentOptions(),
            Seed = 3,
        }).Fit(x, n, 2);
        Assert.Equal(ParsimoniousModel.VVV, fit.Parameterization);
        for (int c = 0; c < 3; c++)
        {
            double nearest = Enumerable.Range(0, 3).Min(k => Math.Sqrt(Math.Pow(fit.Means[k * 2] - centres[c][0], 2) + Math.Pow(fit.Means[k * 2 + 1] - centres[c][1], 2)));
            Assert.True(nearest < 0.3, $"cluster {c}: nearest mean {nearest} away");
        }

        Assert.InRange(fit.Weights[3], 0.07, 0.13);
        int[] labels = fit.Predict(x, n);
        int caught = Enumerable.Range(0, n).Count(i => outlier[i] && labels[i] == 3), outliers = outlier.Count(o => o);
        Assert.True(caught >= 0.85 * outliers, $"{caught} of {outliers} outliers labelled noise");
    }

    [Fact]
    public void BadNoiseOptions_AreRefusedNamingTheOption()
    {
        (double[] x, int n, bool[] flags) = Faithful();
        GaussianMixtureModel<double> Fit(NoiseComponentOptions noise, GaussianMixtureOptions? options = null) =>
            new GaussianMixture<double>((options ?? new GaussianMixtureOptions { Components = 2 }) with { Noise = noise }).Fit(x, n, 2);
        Assert.Equal("options.Noise", Assert.Throws<ArgumentException>(() => Fit(new NoiseComponentOptions { InitialNoise = flags[..10] })).ParamName);
        Assert.Equal("options.Noise", Assert.Throws<ArgumentException>(() => Fit(new NoiseComponentOptions { LogDensity = double.NaN })).ParamName);
        Assert.Equal("options.Noise", Assert.Throws<ArgumentException>(() => Fit(new NoiseComponentOptions { Neighbors = 0 })).ParamName);
        Assert.Equal("options.Noise", Assert.Throws<ArgumentException>(() => Fit(new NoiseComponentOptions(), new GaussianMixtureOptions { Components = 2, Prior = GaussianPrior.Default(CovarianceType.Full, 2, x, n, 2) })).ParamName);
        Assert.Throws<ArgumentException>(() => Fit(new NoiseComponentOptions { InitialNoise = Enumerable.Repeat(true, n).ToArray() }));
        Assert.Throws<ArgumentOutOfRangeException>(() => NoiseDetection.NearestNeighborClutter(x, n, 2, n));
        Assert.Throws<ArgumentException>(() => NoiseDetection.NearestNeighborClutter(x.Append(double.NaN).Append(1).ToArray(), n + 1, 2));
    }
}
