using EmKernels.Engine;
using EmKernels.Latent;
using EmKernels.Mixtures;
using EmKernels.Tests.Infrastructure;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// The mixture of factor analyzers (FactorAnalyzerComponents under FiniteMixture): with K = 1 it is factor analysis (the
/// latent/ fixtures, to their tolerances); on data drawn from one it recovers each component's subspace; EM stays
/// monotone; float is within 1e-4 of double; its log-density is the full-covariance Gaussian of W Wᵀ + Ψ.
/// </summary>
public sealed class MixtureOfFactorAnalyzersTests
{
    [Theory]
    [InlineData("synth-d6-fa-q2")]
    [InlineData("wine-std-fa-q3")]
    [InlineData("wine-std-ppca-q2")]
    public void OneComponent_ReproducesTheFactorAnalysisFixtures(string name)
    {
        var fixture = Fixture.Load(Path.Combine(Fixture.Folder(), "latent", name + ".json"));
        bool ppca = fixture.Model == "ppca";
        int n = fixture.Points, d = fixture.Features, q = fixture.Root.GetProperty("latent_dim").GetInt32();
        double[] x = fixture.Data;
        var family = new FactorAnalyzerComponents<double>(1, d, q, ppca ? FactorNoise.Isotropic : FactorNoise.Diagonal, regularization: 0);
        var mixture = new FiniteMixture<double>(family, MixtureInitialization.Current);
        fixture.Init("W").CopyTo(family.Loadings);
        (ppca ? Enumerable.Repeat(fixture.Init("sigma2")[0], d).ToArray() : fixture.Init("psi")).CopyTo(family.NoiseVariances);
        fixture.Expected("mean").CopyTo(family.Means); // μ is the sample mean throughout (FORMAT.md §4)
        ExpectationMaximizationResult result = ExpectationMaximization.Fit(mixture, new InMemoryDataSource<double>(x, n, d), new ExpectationMaximizationOptions { MaxIterations = fixture.Iterations, Tolerance = 0 });
        var comparison = new FixtureComparison(fixture);
        comparison.Values("mean_log_likelihood", fixture.Expected("mean_log_likelihood"), result.ObjectiveHistory);
        comparison.Values("W", fixture.Expected("W"), family.Loadings);
        comparison.Values(ppca ? "sigma2" : "psi", fixture.Expected(ppca ? "sigma2" : "psi"), ppca ? family.NoiseVariances[..1] : family.NoiseVariances);
        Assert.True(comparison.Failures.Count == 0, string.Join("\n", comparison.Failures.Take(10)));
        Assert.Empty(result.Decreases);
    }

    /// <summary>K clusters, each x = μ_k + A_k z + noise with A_k a random D × q basis, well apart.</summary>
    private static (double[] X, double[][] Bases, double[][] Means) Subspaces(int n, int d, int q, int k, int seed, double noise)
    {
        var random = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        double[][] bases = new double[k][];
        double[][] means = new double[k][];
        for (int c = 0; c < k; c++)
        {
            bases[c] = Enumerable.Range(0, d * q).Select(_ => Normal() * 2).ToArray();
            means[c] = Enumerable.Range(0, d).Select(_ => Normal() * 12).ToArray();
        }

        double[] x = new double[n * d];
        for (int p = 0; p < n; p++)
        {
            int c = p % k;
            double[] z = Enumerable.Range(0, q).Select(_ => Normal()).ToArray();
            for (int j = 0; j < d; j++)
            {
                double v = means[c][j] + noise * Normal();
                for (int l = 0; l < q; l++)
                {
                    v += bases[c][j * q + l] * z[l];
                }

                x[p * d + j] = v;
            }
        }

        return (x, bases, means);
    }

    /// <summary>The largest principal angle (radians) between the column spaces of two D × q matrices.</summary>
    private static double LargestPrincipalAngle(double[] a, double[] b, int d, int q)
    {
        double[] qa = Orthonormal(a, d, q), qb = Orthonormal(b, d, q);
        double[] m = new double[q * q];
        for (int i = 0; i < q; i++)
        {
            for (int j = 0; j < q; j++)
            {
                for (int r = 0; r < d; r++)
                {
                    m[i * q + j] += qa[r * q + i] * qb[r * q + j];
                }
            }
        }

        // Singular values of M are the cosines: eigenvalues of Mᵀ M.
        double[] mtm = new double[q * q];
        for (int i = 0; i < q; i++)
        {
            for (int j = 0; j < q; j++)
            {
                for (int r = 0; r < q; r++)
                {
                    mtm[i * q + j] += m[r * q + i] * m[r * q + j];
                }
            }
        }

        (double[] values, _) = DenseReference.Eigen(mtm, q);
        return Math.Acos(Math.Min(1, Math.Sqrt(Math.Max(0, values.Min()))));
    }

    private static double[] Orthonormal(double[] a, int d, int q)
    {
        double[] o = (double[])a.Clone();
        for (int l = 0; l < q; l++)
        {
            for (int p = 0; p < l; p++)
            {
                double dot = 0;
                for (int r = 0; r < d; r++)
                {
                    dot += o[r * q + l] * o[r * q + p];
                }

                for (int r = 0; r < d; r++)
                {
                    o[r * q + l] -= dot * o[r * q + p];
                }
            }

            double norm = Math.Sqrt(Enumerable.Range(0, d).Sum(r => o[r * q + l] * o[r * q + l]));
            for (int r = 0; r < d; r++)
            {
                o[r * q + l] /= norm;
            }
        }

        return o;
    }

    [Fact]
    public void DataDrawnFromAMixture_TheSubspacesAreRecovered()
    {
        const int n = 6000, d = 12, q = 2, k = 3;
        (double[] x, double[][] bases, double[][] means) = Subspaces(n, d, q, k, seed: 5, noise: 0.2);
        var family = new FactorAnalyzerComponents<double>(k, d, q);
        var mixture = new FiniteMixture<double>(family);
        ExpectationMaximizationResult result = ExpectationMaximization.Fit(mixture, new InMemoryDataSource<double>(x, n, d), new ExpectationMaximizationOptions { Seed = 2, Restarts = 2, Tolerance = 1e-8, MaxIterations = 500 });
        Assert.Empty(result.Decreases);
        for (int c = 0; c < k; c++)
        {
            // The fitted component nearest to the true mean.
            int fitted = Enumerable.Range(0, k).MinBy(f => Enumerable.Range(0, d).Sum(j => Math.Pow(family.Means[f * d + j] - means[c][j], 2)));
            double angle = LargestPrincipalAngle(bases[c], family.Loadings.Slice(fitted * d * q, d * q).ToArray(), d, q);
            Assert.True(angle < 0.05, $"component {c}: largest principal angle {angle} rad");
            Assert.Equal(1.0 / k, mixture.Weights[fitted], 0.01);
            for (int j = 0; j < d; j++)
            {
                Assert.Equal(0.04, family.NoiseVariances[fitted * d + j], 0.015); // noise sd 0.2
            }
        }
    }

    [Theory]
    [InlineData(FactorNoise.Diagonal)]
    [InlineData(FactorNoise.Isotropic)]
    public void Float_IsWithin1e4OfDouble_AndEmIsMonotone(FactorNoise noise)
    {
        const int n = 3000, d = 8, q = 2, k = 2;
        (double[] x, _, _) = Subspaces(n, d, q, k, seed: 9, noise: 0.5);
        var options = new ExpectationMaximizationOptions { Seed = 1, Tolerance = 0, MaxIterations = 60 };
        var inDouble = new FiniteMixture<double>(new FactorAnalyzerComponents<double>(k, d, q, noise));
        var inFloat = new FiniteMixture<float>(new FactorAnalyzerComponents<float>(k, d, q, noise));
        var fitDouble = ExpectationMaximization.Fit(inDouble, new InMemoryDataSource<double>(x, n, d), options);
        var fitFloat = ExpectationMaximization.Fit(inFloat, new InMemoryDataSource<float>(x.Select(v => (float)v).ToArray(), n, d), options);
        Assert.Empty(fitDouble.Decreases);
        Assert.Empty(fitFloat.Decreases);
        Assert.True(Math.Abs(fitDouble.Objective - fitFloat.Objective) < 1e-4, $"float {fitFloat.Objective}, double {fitDouble.Objective}");
    }

    [Fact]
    public void TheDensity_IsTheGaussianOfWWtPlusPsi()
    {
        const int n = 400, d = 5, q = 2, k = 2;
        (double[] x, _, _) = Subspaces(n, d, q, k, seed: 13, noise: 0.4);
        var family = new FactorAnalyzerComponents<double>(k, d, q);
        var mixture = new FiniteMixture<double>(family);
        var data = new InMemoryDataSource<double>(x, n, d);
        ExpectationMaximization.Fit(mixture, data, new ExpectationMaximizationOptions { Seed = 3, MaxIterations = 20 });
        double[] scores = new double[n];
        ExpectationMaximization.Evaluate(mixture, data, scores, null, null);
        for (int p = 0; p < n; p += 37)
        {
            double total = 0;
            for (int c = 0; c < k; c++)
            {
                double[] cov = new double[d * d];
                for (int a = 0; a < d; a++)
                {
                    for (int b = 0; b < d; b++)
                    {
                        cov[a * d + b] = (a == b ? family.NoiseVariances[c * d + a] : 0)
                            + Enumerable.Range(0, q).Sum(l => family.Loadings[(c * d + a) * q + l] * family.Loadings[(c * d + b) * q + l]);
                    }
                }

                (double[] inverse, double logDet) = DenseReference.Invert(cov, d);
                double quadratic = 0;
                for (int a = 0; a < d; a++)
                {
                    for (int b = 0; b < d; b++)
                    {
                        quadratic += (x[p * d + a] - family.Means[c * d + a]) * inverse[a * d + b] * (x[p * d + b] - family.Means[c * d + b]);
                    }
                }

                total += mixture.Weights[c] * Math.Exp(-0.5 * (d * Math.Log(2 * Math.PI) + logDet + quadratic));
            }

            Assert.Equal(Math.Log(total), scores[p], 1e-9 * (1 + Math.Abs(scores[p])));
        }
    }

    [Fact]
    public void TheEstimator_ClustersPredictsScoresAndSamples()
    {
        const int n = 3000, d = 10, q = 2, k = 3;
        (double[] x, _, double[][] means) = Subspaces(n, d, q, k, seed: 17, noise: 0.3);
        var model = new MixtureOfFactorAnalyzers<double>(new MixtureOfFactorAnalyzersOptions { Components = k, LatentDimensions = q, Seed = 4, Restarts = 2 }).Fit(x, n, d);
        Assert.Empty(model.LikelihoodDecreases);
        int[] labels = model.Predict(x, n);

        // Points were drawn round-robin from the components: each true cluster maps to one fitted label.
        for (int c = 0; c < k; c++)
        {
            int[] mine = Enumerable.Range(0, n).Where(p => p % k == c).Select(p => labels[p]).ToArray();
            Assert.True(mine.Count(l => l == mine[0]) >= mine.Length - 1, $"cluster {c} split over labels");
        }

        Assert.Equal(model.MeanLogLikelihood, model.Score(x, n), 1e-9 * Math.Abs(model.MeanLogLikelihood));
        Assert.Equal(k * (d * q - 1 + d + d) + k - 1, model.ParameterCount);
        (double[] drawn, int[] from) = model.Sample(20_000, seed: 1);
        Assert.True(Math.Abs(model.Score(drawn, 20_000) - model.MeanLogLikelihood) < 0.1, "samples of the model score like its training data");
        Assert.Equal(20_000, from.Length);

        Assert.Equal("options.LatentDimensions", Assert.Throws<ArgumentOutOfRangeException>(() =>
            new MixtureOfFactorAnalyzers<double>(new MixtureOfFactorAnalyzersOptions { Components = 2, LatentDimensions = 11 }).Fit(x, n, d)).ParamName);
        Assert.Equal("options.RegCovar", Assert.Throws<ArgumentOutOfRangeException>(() =>
            new MixtureOfFactorAnalyzers<double>(new MixtureOfFactorAnalyzersOptions { RegCovar = -1 }).Fit(x, n, d)).ParamName);
        Assert.Equal("data", Assert.Throws<ArgumentException>(() =>
            new MixtureOfFactorAnalyzers<double>(new MixtureOfFactorAnalyzersOptions { Components = 4 }).Fit(x.AsSpan(0, 3 * d), 3, d)).ParamName);
    }

    [Theory]
    [InlineData(FactorNoise.Diagonal)]
    [InlineData(FactorNoise.Isotropic)]
    public void ImpliedStatistics_AreAFixedPointOfTheMStep(FactorNoise noise)
    {
        // What a component's parameters imply for its expected statistics (mass w_k, E[y eᵀ] = W, E[e eᵀ] + G = I, ...),
        // maximized, gives those parameters back: the M-step is EM's, and the statistics are its expectations.
        const int d = 5, q = 2, k = 2;
        var random = new Random(11);
        var family = new FactorAnalyzerComponents<double>(k, d, q, noise, regularization: 0);
        var mixture = new FiniteMixture<double>(family, MixtureInitialization.Current);
        for (int i = 0; i < family.Means.Length; i++)
        {
            family.Means[i] = 3 * random.NextDouble() - 1;
        }

        for (int i = 0; i < family.Loadings.Length; i++)
        {
            family.Loadings[i] = 2 * random.NextDouble() - 1;
        }

        for (int c = 0; c < k; c++)
        {
            double shared = 0.3 + random.NextDouble();
            for (int j = 0; j < d; j++)
            {
                family.NoiseVariances[c * d + j] = noise == FactorNoise.Isotropic ? shared : 0.2 + random.NextDouble();
            }
        }

        double[] means = family.Means.ToArray(), loadings = family.Loadings.ToArray(), noiseVariances = family.NoiseVariances.ToArray();
        mixture.PrepareExpectation(reshift: false); // the shift stays at zero: the statistics carry μ − shift
        var statistics = new SufficientStatistics(mixture.StatisticsLayout);
        Assert.True(mixture.TryWriteImpliedStatistics(statistics));
        family.Maximize(statistics, new bool[k], new bool[k]);
        for (int i = 0; i < means.Length; i++)
        {
            Assert.Equal(means[i], family.Means[i], 1e-12);
        }

        for (int i = 0; i < loadings.Length; i++)
        {
            Assert.Equal(loadings[i], family.Loadings[i], 1e-12);
        }

        for (int i = 0; i < noiseVariances.Length; i++)
        {
            Assert.Equal(noiseVariances[i], family.NoiseVariances[i], 1e-12);
        }
    }

    [Fact]
    public void AComponentWithoutFactors_StartsFromThePrincipalSubspaceOfItsScatter()
    {
        // Data on an exact q-dimensional subspace: the probes' Nyström approximation holds the whole rank-q scatter, so the
        // start is the probabilistic PCA solution of the scatter (computed here directly).
        const int n = 4000, d = 7, q = 2;
        (double[] x, double[][] bases, _) = Subspaces(n, d, q, 1, seed: 21, noise: 0.0);
        var family = new FactorAnalyzerComponents<double>(1, d, q, FactorNoise.Isotropic, regularization: 0);
        var mixture = new FiniteMixture<double>(family, MixtureInitialization.Current);
        family.Means.Clear();
        family.Loadings.Clear(); // no factors: the next M-step starts it
        family.NoiseVariances.Fill(1);
        var data = new InMemoryDataSource<double>(x, n, d);

        // The first M-step probes the scatter at random and leaves a diagonal Gaussian (isotropic here: the mean variance).
        ExpectationMaximization.Fit(mixture, data, new ExpectationMaximizationOptions { MaxIterations = 1, Tolerance = 0 });
        Assert.False(family.Loadings.ContainsAnyExcept(0.0));
        double meanVariance = Enumerable.Range(0, d).Average(j => Enumerable.Range(0, n).Select(p => x[p * d + j]).Select(v => v * v).Average() - Math.Pow(Enumerable.Range(0, n).Average(p => x[p * d + j]), 2));
        Assert.Equal(meanVariance, family.NoiseVariances[0], 1e-9 * meanVariance);

        // The second, from the directions that probe found, starts the factors.
        ExpectationMaximization.Fit(mixture, data, new ExpectationMaximizationOptions { MaxIterations = 1, Tolerance = 0 });
        double angle = LargestPrincipalAngle(bases[0], family.Loadings.ToArray(), d, q);
        Assert.True(angle < 1e-6, $"largest principal angle {angle} rad");
        double[] mean = Enumerable.Range(0, d).Select(j => Enumerable.Range(0, n).Average(p => x[p * d + j])).ToArray();
        for (int j = 0; j < d; j++)
        {
            Assert.Equal(mean[j], family.Means[j], 1e-9);
        }

        // W Wᵀ + σ² I equals the scatter (rank q, σ² at the floor): compare one diagonal entry and one off-diagonal one.
        double Scatter(int a, int b) => Enumerable.Range(0, n).Average(p => (x[p * d + a] - mean[a]) * (x[p * d + b] - mean[b]));
        double Model(int a, int b) => Enumerable.Range(0, q).Sum(l => family.Loadings[a * q + l] * family.Loadings[b * q + l]);
        Assert.Equal(Scatter(0, 0), Model(0, 0), 1e-6 * Scatter(0, 0));
        Assert.Equal(Scatter(1, 3), Model(1, 3), 1e-6 * Scatter(0, 0));
    }

    [Fact]
    public void StepwiseEm_ReachesTheBatchFit()
    {
        // The statistics are expectations of complete-data statistics, so stepwise EM may interpolate them.
        const int n = 12_000, d = 8, q = 2, k = 2;
        (double[] x, _, _) = Subspaces(n, d, q, k, seed: 31, noise: 0.3);
        var data = new InMemoryDataSource<double>(x, n, d);
        var batchMixture = new FiniteMixture<double>(new FactorAnalyzerComponents<double>(k, d, q));
        ExpectationMaximizationResult batch = ExpectationMaximization.Fit(batchMixture, data, new ExpectationMaximizationOptions { Seed = 2, Restarts = 2, Tolerance = 1e-10, MaxIterations = 300 });
        var online = new FiniteMixture<double>(new FactorAnalyzerComponents<double>(k, d, q));
        new StepwiseExpectationMaximization<double>(online, new StepwiseOptions { BatchSize = 400, Epochs = 15, Kappa = 0.6, Seed = 2 }).Fit(data);
        double[] scores = new double[n];
        ExpectationMaximization.Evaluate(online, data, scores, null, null);
        Assert.True(batch.Objective - scores.Average() < 2e-3, $"stepwise {scores.Average()}, batch {batch.Objective}");
    }
}
