using EmKernels.Engine;
using EmKernels.Latent;
using EmKernels.Mixtures;
using EmKernels.Tests.Infrastructure;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// Factor analysis and probabilistic PCA against the mathematics: the closed-form PPCA solution, the diagonal Gaussian
/// (q = 0), direct D × D formulas for the posterior and the density, monotone EM, float against double, streamed
/// against in memory, and data of extreme magnitude. The fixtures (latent/) are run by <see cref="FixtureParityTests"/>.
/// </summary>
public sealed class FactorAnalysisTests
{
    /// <summary>N points of x = W z + μ + ε with a random W (D × q) and per-feature noise.</summary>
    private static double[] Synthetic(int n, int d, int q, int seed, double noiseScale = 0.3)
    {
        var random = new Random(seed);
        double[] w = new double[d * q];
        for (int i = 0; i < w.Length; i++)
        {
            w[i] = Normal(random) * 2;
        }

        double[] x = new double[n * d];
        double[] z = new double[q];
        for (int p = 0; p < n; p++)
        {
            for (int l = 0; l < q; l++)
            {
                z[l] = Normal(random);
            }

            for (int j = 0; j < d; j++)
            {
                double v = 5 + j + noiseScale * (1 + j % 3) * Normal(random);
                for (int l = 0; l < q; l++)
                {
                    v += w[j * q + l] * z[l];
                }

                x[p * d + j] = v;
            }
        }

        return x;
    }

    private static double Normal(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    /// <summary>log N(x; μ, C) written out with the test's own inverse.</summary>
    private static double LogDensity(ReadOnlySpan<double> x, double[] mean, double[] covariance, int d)
    {
        (double[] inverse, double logDeterminant) = DenseReference.Invert(covariance, d);
        double quadratic = 0;
        for (int a = 0; a < d; a++)
        {
            for (int b = 0; b < d; b++)
            {
                quadratic += (x[a] - mean[a]) * inverse[a * d + b] * (x[b] - mean[b]);
            }
        }

        return -0.5 * (d * Math.Log(2 * Math.PI) + logDeterminant + quadratic);
    }

    [Fact]
    public void ConvergedPpca_IsTheClosedFormSolution()
    {
        // Tipping & Bishop 1999: σ² = the mean of the D − q smallest eigenvalues of S; W Wᵀ = U_q (Λ_q − σ² I) U_qᵀ.
        const int n = 2000, d = 6, q = 2;
        double[] x = Synthetic(n, d, q, seed: 3);
        var model = new FactorAnalysis<double>(new FactorAnalysisOptions { LatentDimensions = q, Noise = FactorNoise.Isotropic, Tolerance = 0, MaxIterations = 3000, Seed = 1 })
            .Fit(x, n, d);
        (double[] mean, double[] s) = DenseReference.Moments(x, n, d);
        (double[] values, double[] vectors) = DenseReference.Eigen(s, d);
        double sigma2 = values.Skip(q).Average();
        Assert.Equal(sigma2, model.NoiseVariances[0], sigma2 * 1e-8);
        double[] covariance = model.Covariance();
        for (int a = 0; a < d; a++)
        {
            for (int b = 0; b < d; b++)
            {
                double expected = a == b ? sigma2 : 0;
                for (int l = 0; l < q; l++)
                {
                    expected += vectors[a * d + l] * (values[l] - sigma2) * vectors[b * d + l];
                }

                Assert.True(Math.Abs(expected - covariance[a * d + b]) <= 1e-7 * values[0], $"C[{a},{b}] = {covariance[a * d + b]}, closed form {expected}");
            }
        }

        for (int j = 0; j < d; j++)
        {
            Assert.Equal(mean[j], model.Mean[j], 1e-12 * (1 + Math.Abs(mean[j])));
        }

        Assert.Empty(model.LikelihoodDecreases);
    }

    [Fact]
    public void TheDefaultStart_IsThePrincipalSubspaceSolution()
    {
        // The batch driver gives the model the data's statistics before it starts: probabilistic PCA starts at its
        // closed-form optimum (so EM has nothing left to do) and factor analysis starts there too.
        const int n = 3000, d = 8, q = 2;
        double[] x = Synthetic(n, d, q, seed: 41);
        var converged = new FactorAnalysis<double>(new FactorAnalysisOptions { LatentDimensions = q, Noise = FactorNoise.Isotropic, Tolerance = 0, MaxIterations = 2000, InitialLoadings = new double[d * q].Select((_, i) => 0.1 * (i % 5 - 2)).ToArray(), InitialNoiseVariances = Enumerable.Repeat(1.0, d).ToArray() })
            .Fit(x, n, d);
        var started = new FactorAnalysis<double>(new FactorAnalysisOptions { LatentDimensions = q, Noise = FactorNoise.Isotropic }).Fit(x, n, d);
        Assert.True(Math.Abs(started.MeanLogLikelihoodHistory[0] - converged.MeanLogLikelihood) < 1e-9, $"start {started.MeanLogLikelihoodHistory[0]}, optimum {converged.MeanLogLikelihood}");
        Assert.True(started.Iterations <= 2, $"{started.Iterations} iterations");
        var factors = new FactorAnalysis<double>(new FactorAnalysisOptions { LatentDimensions = q }).Fit(x, n, d);
        Assert.Equal(started.MeanLogLikelihoodHistory[0], factors.MeanLogLikelihoodHistory[0], 1e-12 * Math.Abs(started.MeanLogLikelihoodHistory[0]));
        Assert.True(factors.MeanLogLikelihood >= started.MeanLogLikelihood);
    }

    [Fact]
    public void NoFactors_IsTheDiagonalGaussian()
    {
        const int n = 500, d = 4;
        double[] x = Synthetic(n, d, 2, seed: 5);
        var model = new FactorAnalysis<double>(new FactorAnalysisOptions { LatentDimensions = 0 }).Fit(x, n, d);
        (double[] mean, double[] s) = DenseReference.Moments(x, n, d);
        double expected = 0;
        for (int p = 0; p < n; p++)
        {
            for (int j = 0; j < d; j++)
            {
                double r = x[p * d + j] - mean[j];
                expected += -0.5 * (Math.Log(2 * Math.PI * s[j * d + j]) + r * r / s[j * d + j]) / n;
            }
        }

        for (int j = 0; j < d; j++)
        {
            Assert.Equal(s[j * d + j], model.NoiseVariances[j], 1e-12 * s[j * d + j]);
        }

        Assert.Equal(expected, model.MeanLogLikelihood, 1e-11 * Math.Abs(expected));
        var gaussian = new GaussianMixture<double>(new GaussianMixtureOptions { Components = 1, CovarianceType = CovarianceType.Diagonal, RegCovar = 0 }).Fit(x, n, d);
        Assert.Equal(gaussian.MeanLogLikelihood, model.MeanLogLikelihood, 1e-11 * Math.Abs(expected));
    }

    [Fact]
    public void PosteriorAndDensity_MatchTheDirectFormulas()
    {
        const int n = 300, d = 5, q = 2;
        double[] x = Synthetic(n, d, q, seed: 7);
        var model = new FactorAnalysis<double>(new FactorAnalysisOptions { LatentDimensions = q, Seed = 2, MaxIterations = 50 }).Fit(x, n, d);
        double[] c = model.Covariance();
        (double[] inverse, _) = DenseReference.Invert(c, d);
        double[] z = model.Transform(x, n);
        double[] scores = model.ScoreSamples(x, n);
        double[] w = model.Loadings.ToArray(), mean = model.Mean.ToArray();
        for (int p = 0; p < n; p++)
        {
            // E[z | x] = Wᵀ C⁻¹ (x − μ).
            for (int l = 0; l < q; l++)
            {
                double expected = 0;
                for (int a = 0; a < d; a++)
                {
                    for (int b = 0; b < d; b++)
                    {
                        expected += w[a * q + l] * inverse[a * d + b] * (x[p * d + b] - mean[b]);
                    }
                }

                Assert.Equal(expected, z[p * q + l], 1e-10 * (1 + Math.Abs(expected)));
            }

            double density = LogDensity(x.AsSpan(p * d, d), mean, c, d);
            Assert.Equal(density, scores[p], 1e-10 * (1 + Math.Abs(density)));
        }

        // Cov[z | x] = I − Wᵀ C⁻¹ W.
        double[] g = model.PosteriorCovariance();
        for (int l = 0; l < q; l++)
        {
            for (int m = 0; m < q; m++)
            {
                double expected = l == m ? 1 : 0;
                for (int a = 0; a < d; a++)
                {
                    for (int b = 0; b < d; b++)
                    {
                        expected -= w[a * q + l] * inverse[a * d + b] * w[b * q + m];
                    }
                }

                Assert.Equal(expected, g[l * q + m], 1e-10);
            }
        }

        Assert.Equal(scores.Average(), model.MeanLogLikelihood, 1e-10 * Math.Abs(model.MeanLogLikelihood));
    }

    [Theory]
    [InlineData(FactorNoise.Diagonal, 8, 3, 11)]
    [InlineData(FactorNoise.Isotropic, 8, 3, 12)]
    [InlineData(FactorNoise.Diagonal, 12, 1, 13)]
    [InlineData(FactorNoise.Diagonal, 5, 5, 14)]
    public void LogLikelihood_NeverDecreases(FactorNoise noise, int d, int q, int seed)
    {
        const int n = 400;
        double[] x = Synthetic(n, d, Math.Max(1, q - 1), seed);
        var model = new FactorAnalysis<double>(new FactorAnalysisOptions { LatentDimensions = q, Noise = noise, Tolerance = 0, MaxIterations = 300, Seed = seed })
            .Fit(x, n, d);
        Assert.Equal(301, model.MeanLogLikelihoodHistory.Length);
        Assert.Empty(model.LikelihoodDecreases);
        ReadOnlySpan<double> history = model.MeanLogLikelihoodHistory;
        for (int i = 1; i < history.Length; i++)
        {
            Assert.True(history[i] >= history[i - 1] - 1e-12 * Math.Abs(history[i - 1]), $"ℓ fell from {history[i - 1]} to {history[i]} at iteration {i}");
        }
    }

    [Fact]
    public void Float_IsWithin1e4OfDouble()
    {
        const int n = 5000, d = 10, q = 3;
        double[] x = Synthetic(n, d, q, seed: 17);
        var options = new FactorAnalysisOptions { LatentDimensions = q, Seed = 4, Tolerance = 0, MaxIterations = 200 };
        var inDouble = new FactorAnalysis<double>(options).Fit(x, n, d);
        var inFloat = new FactorAnalysis<float>(options).Fit(x.Select(v => (float)v).ToArray(), n, d);
        Assert.True(Math.Abs(inDouble.MeanLogLikelihood - inFloat.MeanLogLikelihood) < 1e-4, $"float {inFloat.MeanLogLikelihood}, double {inDouble.MeanLogLikelihood}");
    }

    [Fact]
    public void Streamed_IsBitwiseTheInMemoryFit()
    {
        const int n = 3001, d = 7, q = 2;
        double[] x = Synthetic(n, d, q, seed: 19);
        var estimator = new FactorAnalysis<double>(new FactorAnalysisOptions { LatentDimensions = q, Seed = 8, MaxIterations = 40 });
        var inMemory = estimator.Fit(x, n, d);
        var streamed = estimator.Fit(new StreamedSource<double>(x, n, d, chunkPoints: 333));
        Assert.Equal(inMemory.MeanLogLikelihoodHistory.ToArray(), streamed.MeanLogLikelihoodHistory.ToArray());
        Assert.Equal(inMemory.Loadings.ToArray(), streamed.Loadings.ToArray());
        Assert.Equal(inMemory.NoiseVariances.ToArray(), streamed.NoiseVariances.ToArray());
    }

    [Fact]
    public void RowMajorInPlace_IsBitwiseTheFeatureMajorCopy()
    {
        const int n = 2500, d = 5, q = 2;
        double[] x = Synthetic(n, d, q, seed: 21);
        double[] weights = Enumerable.Range(0, n).Select(i => 0.5 + i % 3).ToArray();
        var estimator = new FactorAnalysis<double>(new FactorAnalysisOptions { LatentDimensions = q, Seed = 9, MaxIterations = 25 });
        var inPlace = estimator.Fit(x, n, d, weights);
        var copied = estimator.Fit(new InMemoryDataSource<double>(x, n, d, weights));
        Assert.Equal(copied.MeanLogLikelihoodHistory.ToArray(), inPlace.MeanLogLikelihoodHistory.ToArray());
        Assert.Equal(copied.Loadings.ToArray(), inPlace.Loadings.ToArray());
        Assert.Equal(copied.Mean.ToArray(), inPlace.Mean.ToArray());
        Assert.Equal("sampleWeights", Assert.Throws<ArgumentException>(() => new RowMajorDataSource<double>(x, n, d, weights.Select(w => -w).ToArray())).ParamName);
        Assert.Equal("data", Assert.Throws<ArgumentException>(() => new RowMajorDataSource<double>(x, n + 1, d)).ParamName);
    }

    [Theory]
    [InlineData(200)]
    [InlineData(-200)]
    public void DataOfAnyFiniteMagnitude_FitAsTheUnscaledData(int exponent)
    {
        // Multiplying the data by 2^e multiplies W by 2^e and Ψ by 2^2e and moves ℓ by −D e ln 2, exactly in exact arithmetic.
        const int n = 500, d = 4, q = 1;
        double[] x = Synthetic(n, d, q, seed: 23);
        double[] scaled = x.Select(v => Math.ScaleB(v, exponent)).ToArray();
        var options = new FactorAnalysisOptions { LatentDimensions = q, Seed = 5, Tolerance = 0, MaxIterations = 30 };
        var plain = new FactorAnalysis<double>(options).Fit(x, n, d);
        var big = new FactorAnalysis<double>(options).Fit(scaled, n, d);
        Assert.Equal(plain.MeanLogLikelihood - d * exponent * Math.Log(2), big.MeanLogLikelihood, 1e-9 * Math.Abs(plain.MeanLogLikelihood) + 1e-9 * d * Math.Abs(exponent));
        for (int j = 0; j < d; j++)
        {
            Assert.Equal(1.0, Math.ScaleB(big.NoiseVariances[j], -2 * exponent) / plain.NoiseVariances[j], 1e-8);
            Assert.True(double.IsFinite(big.Loadings[j]));
        }
    }

    [Fact]
    public void Samples_HaveTheModelsCovariance()
    {
        const int d = 3, q = 1;
        double[] x = Synthetic(1000, d, q, seed: 29);
        var model = new FactorAnalysis<double>(new FactorAnalysisOptions { LatentDimensions = q, Seed = 1 }).Fit(x, 1000, d);
        const int draws = 400_000;
        double[] sample = model.Sample(draws, seed: 3);
        (double[] mean, double[] s) = DenseReference.Moments(sample, draws, d);
        double[] c = model.Covariance();
        for (int a = 0; a < d; a++)
        {
            // Standard errors: √(C_aa / N) for a mean, about √(2/N) C for a covariance; 6 of them.
            Assert.Equal(model.Mean[a], mean[a], 6 * Math.Sqrt(c[a * d + a] / draws));
            for (int b = 0; b < d; b++)
            {
                Assert.Equal(c[a * d + b], s[a * d + b], 6 * Math.Sqrt(2.0 / draws) * Math.Sqrt(c[a * d + a] * c[b * d + b]));
            }
        }
    }

    [Fact]
    public void InvalidInput_IsRefusedNamingTheArgument()
    {
        double[] x = Synthetic(50, 3, 1, seed: 31);
        Assert.Equal("options.LatentDimensions", Assert.Throws<ArgumentOutOfRangeException>(() => new FactorAnalysis<double>(new FactorAnalysisOptions { LatentDimensions = 4 }).Fit(x, 50, 3)).ParamName);
        double[] withNaN = (double[])x.Clone();
        withNaN[7] = double.NaN;
        var e = Assert.Throws<ArgumentException>(() => new FactorAnalysis<double>(new FactorAnalysisOptions()).Fit(withNaN, 50, 3));
        Assert.Equal("data", e.ParamName);
        Assert.Contains("row 2, column 1", e.Message);
        e = Assert.Throws<ArgumentException>(() => new FactorAnalysis<double>(new FactorAnalysisOptions { InitialLoadings = [1, 1, 1], InitialNoiseVariances = [1, -1, 1] }).Fit(x, 50, 3));
        Assert.Equal("options", e.ParamName);
        Assert.Contains("InitialNoiseVariances", e.Message);
        e = Assert.Throws<ArgumentException>(() => new FactorAnalysis<double>(new FactorAnalysisOptions { Noise = FactorNoise.Isotropic, InitialLoadings = [1, 1, 1], InitialNoiseVariances = [1, 2, 1] }).Fit(x, 50, 3));
        Assert.Contains("one σ²", e.Message);
        Assert.Throws<ArgumentException>(() => new FactorAnalysis<double>(new FactorAnalysisOptions { InitialLoadings = [1, 1, 1] }).Fit(x, 50, 3));
    }

    [Fact]
    public void StepwiseEm_ReachesTheBatchOptimum()
    {
        // The engine's other driver runs the same model: minibatch statistics interpolated, an M-step from them.
        const int n = 20_000, d = 6, q = 2;
        double[] x = Synthetic(n, d, q, seed: 37);
        var batch = new FactorAnalysis<double>(new FactorAnalysisOptions { LatentDimensions = q, Seed = 3, Tolerance = 0, MaxIterations = 500 }).Fit(x, n, d);
        var analyzer = new FactorAnalyzer<double>(d, q);
        var data = new InMemoryDataSource<double>(x, n, d);
        var reports = new List<FitProgress>();
        var driver = new StepwiseExpectationMaximization<double>(analyzer, new StepwiseOptions { BatchSize = 500, Epochs = 20, Kappa = 0.6, Seed = 3, Progress = new Collect(reports) });
        driver.Fit(data);

        // Each step reports its minibatch's mean log-likelihood, taken from the minibatch's statistics.
        Assert.Equal(20 * n / 500, reports.Count);
        Assert.All(reports, r => Assert.True(double.IsFinite(r.MeanLogLikelihood) && r.MeanLogLikelihood < 0 && r.MeanLogLikelihood > -30, $"{r.MeanLogLikelihood}"));
        double[] scores = new double[n];
        ExpectationMaximization.Evaluate(analyzer, data, scores, null, null);
        Assert.True(batch.MeanLogLikelihood - scores.Average() < 1e-3, $"stepwise {scores.Average()}, batch {batch.MeanLogLikelihood}");
    }

    private sealed class Collect(List<FitProgress> reports) : IProgress<FitProgress>
    {
        public void Report(FitProgress value) => reports.Add(value);
    }
}
