using System.Numerics;
using EmKernels.Engine;
using EmKernels.Mixtures;
using EmKernels.Tests.Infrastructure;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// Valid data of any finite magnitude fit without an exception, a NaN or a re-seed, for every covariance
/// type in double and float, up to the type's limits: data multiplied by 2^e (exact) fit as the unscaled data
/// do — means × 2^e, log-determinants + 2De ln 2, mean log-likelihood − De ln 2 (the Jacobian), the same labels
/// — and sample weights multiplied by any power of two change nothing, because weights are only relative.
/// The reference is the same fit of the unscaled data, through the math of scaling; reg_covar is 0 there so
/// that the scaled fit is the same problem (a fixed reg_covar would not scale with the data).
/// </summary>
public sealed class NumericRangeTests
{
    public static TheoryData<CovarianceType, int> DoubleScales()
    {
        var data = new TheoryData<CovarianceType, int>();
        foreach (CovarianceType type in Enum.GetValues<CovarianceType>())
        {
            foreach (int e in new[] { -1010, -600, -200, 200, 600, 1015 })
            {
                data.Add(type, e);
            }
        }

        return data;
    }

    public static TheoryData<CovarianceType, int> FloatScales()
    {
        var data = new TheoryData<CovarianceType, int>();
        foreach (CovarianceType type in Enum.GetValues<CovarianceType>())
        {
            foreach (int e in new[] { -118, -60, 60, 120 })
            {
                data.Add(type, e);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(DoubleScales))]
    public void DoubleData_OfAnyMagnitude_FitAsTheUnscaledData(CovarianceType type, int exponent) => AssertScaledFit<double>(type, exponent, 1e-9);

    [Theory]
    [MemberData(nameof(FloatScales))]
    public void FloatData_OfAnyMagnitude_FitAsTheUnscaledData(CovarianceType type, int exponent) => AssertScaledFit<float>(type, exponent, 1e-4);

    [Theory]
    [InlineData(-1074)]
    [InlineData(-600)]
    [InlineData(600)]
    [InlineData(1000)]
    public void SampleWeights_AreOnlyRelative(int exponent)
    {
        (double[] x, int n, int d) = TwoClusters(1);
        double[] relative = Enumerable.Range(0, n).Select(i => (double)(1 + i % 3)).ToArray();
        double[] scaled = relative.Select(w => Math.ScaleB(w, exponent)).ToArray();
        foreach (CovarianceType type in Enum.GetValues<CovarianceType>())
        {
            var options = new GaussianMixtureOptions { Components = 2, CovarianceType = type, Seed = 1 };
            var expected = new GaussianMixture<double>(options).Fit(x, n, d, relative);
            var actual = new GaussianMixture<double>(options).Fit(x, n, d, scaled);
            Assert.Empty(actual.Reseeds);
            Assert.Equal(expected.Means.ToArray(), actual.Means.ToArray());
            Assert.Equal(expected.Covariances.ToArray(), actual.Covariances.ToArray());
            Assert.Equal(expected.MeanLogLikelihood, actual.MeanLogLikelihood);
        }

        double[] binary = x.Select(v => v > 0 ? 1.0 : 0.0).ToArray();
        var discrete = new DiscreteMixtureOptions { Components = 2, Seed = 1 };
        var bernoulli = new BernoulliMixture<double>(discrete).Fit(binary, n, d, relative);
        var bernoulliScaled = new BernoulliMixture<double>(discrete).Fit(binary, n, d, scaled);
        Assert.Equal(bernoulli.Parameters.ToArray(), bernoulliScaled.Parameters.ToArray());
        Assert.Equal(bernoulli.MeanLogLikelihood, bernoulliScaled.MeanLogLikelihood);
        double[] counts = x.Select(v => Math.Floor(Math.Abs(v))).ToArray();
        var poisson = new PoissonMixture<double>(discrete).Fit(counts, n, d, relative);
        var poissonScaled = new PoissonMixture<double>(discrete).Fit(counts, n, d, scaled);
        Assert.Equal(poisson.Parameters.ToArray(), poissonScaled.Parameters.ToArray());
        Assert.True(double.IsFinite(poissonScaled.MeanLogLikelihood));
        Assert.Empty(poissonScaled.Reseeds);
    }

    [Fact]
    public void FloatWeights_NearTheEndsOfTheirRange_AreOnlyRelative()
    {
        (double[] x, int n, int d) = TwoClusters(2);
        float[] data = x.Select(v => (float)v).ToArray();
        float[] relative = Enumerable.Range(0, n).Select(i => (float)(1 + i % 3)).ToArray();
        var options = new GaussianMixtureOptions { Components = 2, Seed = 1 };
        var expected = new GaussianMixture<float>(options).Fit(data, n, d, relative);
        foreach (int exponent in new[] { -149, -140, 100, 125 })
        {
            var actual = new GaussianMixture<float>(options).Fit(data, n, d, relative.Select(w => float.ScaleB(w, exponent)).ToArray());
            Assert.Empty(actual.Reseeds);
            Assert.Equal(expected.MeanLogLikelihood, actual.MeanLogLikelihood);
            Assert.Equal(expected.Means.ToArray(), actual.Means.ToArray());
        }
    }

    [Theory]
    [InlineData(700)]
    [InlineData(-700)]
    public void DataBeyondDoublesCovarianceRange_KeepTheirScaleInTheModel_AndStreamAsInMemory(int exponent)
    {
        (double[] x, int n, int d) = TwoClusters(3);
        double[] scaled = x.Select(v => Math.ScaleB(v, exponent)).ToArray();
        var options = new GaussianMixtureOptions { Components = 2, CovarianceType = CovarianceType.Full, Seed = 1, RegCovar = 0 };
        var model = new GaussianMixture<double>(options).Fit(scaled, n, d);
        Assert.InRange(model.CovarianceScaleExponent, exponent - 3, exponent + 3); // the frame's scale: that of the data's spread

        // In the engine, in memory and streamed: the same fit, bitwise.
        var streamed = new StreamedSource<double>(scaled, n, d, chunkPoints: 64);
        var inMemory = GaussianComponents<double>.Create(CovarianceType.Full, 2, d, 0);
        var fromFile = GaussianComponents<double>.Create(CovarianceType.Full, 2, d, 0);
        var mixtureA = new FiniteMixture<double>(inMemory, MixtureInitialization.KMeans);
        var mixtureB = new FiniteMixture<double>(fromFile, MixtureInitialization.KMeans);
        var a = ExpectationMaximization.Fit(mixtureA, streamed.InMemory(), new ExpectationMaximizationOptions { Seed = 1 });
        var b = ExpectationMaximization.Fit(mixtureB, streamed, new ExpectationMaximizationOptions { Seed = 1 });
        Assert.Equal(a.ObjectiveHistory, b.ObjectiveHistory);
        Assert.Equal(inMemory.Covariances.ToArray(), fromFile.Covariances.ToArray());
        Assert.Equal(model.CovarianceScaleExponent, fromFile.CovarianceScaleExponent);

        // The model evaluates, samples and rebuilds from its parameters exactly.
        double[] scores = model.ScoreSamples(scaled, n);
        Assert.All(scores, s => Assert.True(double.IsFinite(s)));
        var rebuilt = GaussianMixtureModel<double>.FromParameters(CovarianceType.Full, d, model.Weights.ToArray(), model.Means.ToArray(), model.Covariances.ToArray(), model.CovarianceScaleExponent);
        Assert.Equal(scores, rebuilt.ScoreSamples(scaled, n));
        Assert.Equal(model.Predict(scaled, n), rebuilt.Predict(scaled, n));
        (double[] drawn, _) = model.Sample(100, 1);
        Assert.All(drawn, v => Assert.True(double.IsFinite(v) && v != 0));
        Assert.True(Math.Abs(Math.Log2(Math.Abs(drawn.Max(Math.Abs)))) > Math.Abs(exponent) - 10);
        double[] covariance = model.ComponentCovariance(0);
        Assert.All(covariance.Where((_, i) => i % (d + 1) == 0), v => Assert.True(exponent > 0 ? double.IsPositiveInfinity(v) : v == 0));
    }

    [Theory]
    [InlineData(900)]
    [InlineData(-900)]
    public void StepwiseFits_OfDataOfAnyMagnitude_AreTheUnscaledFit(int exponent)
    {
        (double[] x, int n, int d) = TwoClusters(5);
        double[] scaled = x.Select(v => Math.ScaleB(v, exponent)).ToArray();
        var options = new StepwiseOptions { BatchSize = 50, Epochs = 2, Seed = 3 };
        var plainModel = new FiniteMixture<double>(new DiagonalCovarianceComponents<double>(2, d, 0), MixtureInitialization.RandomPoints);
        var scaledModel = new FiniteMixture<double>(new DiagonalCovarianceComponents<double>(2, d, 0), MixtureInitialization.RandomPoints);
        var plain = new StepwiseExpectationMaximization<double>(plainModel, options);
        var driver = new StepwiseExpectationMaximization<double>(scaledModel, options);
        plain.Fit(new StreamedSource<double>(x, n, d).InMemory());
        driver.Fit(new StreamedSource<double>(scaled, n, d).InMemory());
        double jacobian = d * exponent * Math.Log(2);
        for (int epoch = 0; epoch < plain.EpochObjectives.Count; epoch++)
        {
            Assert.Equal(plain.EpochObjectives[epoch] - jacobian, driver.EpochObjectives[epoch], 1e-9 * Math.Abs(jacobian));
        }

        // A checkpoint keeps the frame: resuming gives the fit of not stopping.
        var straightModel = new FiniteMixture<double>(new DiagonalCovarianceComponents<double>(2, d, 0), MixtureInitialization.RandomPoints);
        var straight = new StepwiseExpectationMaximization<double>(straightModel, options with { Epochs = 3 });
        straight.Fit(new StreamedSource<double>(scaled, n, d).InMemory());
        var resumedModel = new FiniteMixture<double>(new DiagonalCovarianceComponents<double>(2, d, 0), MixtureInitialization.RandomPoints);
        var resumed = StepwiseExpectationMaximization<double>.Resume(resumedModel, driver.SaveCheckpoint(), options with { Epochs = 3 });
        resumed.Fit(new StreamedSource<double>(scaled, n, d).InMemory());
        Assert.Equal(straight.EpochObjectives, resumed.EpochObjectives);
        Assert.Equal(((DiagonalCovarianceComponents<double>)straightModel.Family).Covariances.ToArray(), ((DiagonalCovarianceComponents<double>)resumedModel.Family).Covariances.ToArray());
    }

    [Theory]
    [InlineData("<f8", 660, "")]
    [InlineData("<f8", -660, "")]
    [InlineData("<f4", 100, "--float32")]
    public void TheCommandLine_FitsScoresAndSavesDataOfAnyMagnitude(string descr, int exponent, string precision)
    {
        DirectoryInfo folder = Directory.CreateTempSubdirectory("emk-range-");
        try
        {
            (double[] x, int n, int d) = TwoClusters(9);
            string npy = Path.Combine(folder.FullName, "x.npy"), model = Path.Combine(folder.FullName, "m.json");
            DataFileTests.WriteNpy(npy, x.Select(v => Math.ScaleB(v, exponent)).ToArray(), n, d, descr, false);
            string[] args = ["fit", npy, "--reg-covar", "0", "-o", model];
            (int exit, string output, string error) = Cli(precision.Length > 0 ? [.. args, precision] : args);
            Assert.True(exit == 0, error);
            Assert.DoesNotContain("NaN", output);
            Assert.DoesNotContain("∞", output);
            var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(model)).RootElement;
            bool scaled = Math.Abs(exponent) > 512; // double covariances beyond 10^±154
            Assert.Equal(scaled ? 3 : 2, json.GetProperty("version").GetInt32());
            Assert.Equal(scaled, json.TryGetProperty("covariance_scale_exponent", out _));
            (exit, output, error) = Cli("score", model, npy);
            Assert.True(exit == 0, error);
            double score = double.Parse(output, System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(json.GetProperty("mean_log_likelihood").GetDouble(), score, 1e-6 * Math.Abs(score));
            (exit, _, error) = Cli("sample", model, "-n", "5");
            Assert.True(exit == 0, error);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static (int Exit, string Output, string Error) Cli(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = EmKernels.Cli.Emk.Run(args, output, error, interactive: false);
        return (exit, output.ToString(), error.ToString());
    }

    /// <summary>The fit of data × 2^e against the fit of the data, through the math of scaling.</summary>
    private static void AssertScaledFit<T>(CovarianceType type, int exponent, double tolerance)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        (double[] x, int n, int d) = TwoClusters(7);
        T[] plain = x.Select(T.CreateTruncating).ToArray();
        T[] scaled = x.Select(v => T.CreateTruncating(Math.ScaleB(v, exponent))).ToArray();
        var options = new GaussianMixtureOptions { Components = 2, CovarianceType = type, Seed = 1, RegCovar = 0 };
        var reference = new GaussianMixture<T>(options).Fit(plain, n, d);
        var model = new GaussianMixture<T>(options).Fit(scaled, n, d);
        Assert.Empty(model.Reseeds);
        Assert.Empty(model.LikelihoodDecreases);
        double jacobian = d * exponent * Math.Log(2);
        Assert.Equal(reference.MeanLogLikelihood - jacobian, model.MeanLogLikelihood, tolerance * Math.Max(1, Math.Abs(jacobian)));
        Assert.Equal(reference.Predict(plain, n), model.Predict(scaled, n));
        Assert.Equal(reference.Score(plain, n) - jacobian, model.Score(scaled, n), tolerance * Math.Max(1, Math.Abs(jacobian)));
        for (int i = 0; i < reference.Means.Length; i++)
        {
            double expected = Math.ScaleB(reference.Means[i], exponent);
            Assert.True(Math.Abs(model.Means[i] - expected) <= tolerance * Math.ScaleB(8.0, exponent), $"mean {i}: {model.Means[i]} vs {expected}");
        }

        for (int k = 0; k < 2; k++)
        {
            double expected = reference.LogDeterminant(k) + 2 * jacobian;
            Assert.Equal(expected, model.LogDeterminant(k), tolerance * Math.Max(1, Math.Abs(expected)));
        }
    }

    /// <summary>400 points of 3 features in two clusters at ±3 with unit spread.</summary>
    private static (double[] X, int N, int D) TwoClusters(int seed)
    {
        var random = new Random(seed);
        const int n = 400, d = 3;
        double[] x = new double[n * d];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < d; j++)
            {
                double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
                x[i * d + j] = (i % 2 == 0 ? 3 : -3) + (0.5 + 0.2 * j) * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            }
        }

        return (x, n, d);
    }
}
