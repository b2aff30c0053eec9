using EmKernels.Engine;
using EmKernels.Mixtures;
using EmKernels.Numerics;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// mclust's parameterizations beside the mclust/ fixtures: the four that are scikit-learn's types fit as those types do; every
/// model's log-likelihood never decreases and its covariances have the structure its name says; the free parameters are
/// mclust's table; the noise component takes the outliers; the hypervolume is the box's where the data are a box.
/// </summary>
public sealed class ParsimoniousTests
{
    private static double[] Clusters(int n, int seed, double outliers = 0)
    {
        var random = new Random(seed);
        double[] x = new double[n * 3];
        double[][] centres = [[0, 0, 0], [6, 1, -2], [-3, 5, 4]];
        double[][] spreads = [[1, 0.5, 0.3], [0.6, 1.4, 0.8], [0.9, 0.9, 2]];
        for (int i = 0; i < n; i++)
        {
            int c = i % 3;
            bool outlier = random.NextDouble() < outliers;
            for (int a = 0; a < 3; a++)
            {
                x[i * 3 + a] = outlier ? (random.NextDouble() * 40) - 20 : centres[c][a] + (spreads[c][a] * StandardNormal.Next(random)) + (a == 1 ? 0.4 * x[i * 3] : 0);
            }
        }

        return x;
    }

    [Theory]
    [InlineData(ParsimoniousModel.VVV, CovarianceType.Full)]
    [InlineData(ParsimoniousModel.EEE, CovarianceType.Tied)]
    [InlineData(ParsimoniousModel.VVI, CovarianceType.Diagonal)]
    [InlineData(ParsimoniousModel.VII, CovarianceType.Spherical)]
    public void TheFourSharedModels_FitAsTheirCovarianceTypes(ParsimoniousModel model, CovarianceType type)
    {
        const int n = 600, d = 3;
        double[] x = Clusters(n, 4);
        var options = new GaussianMixtureOptions { Components = 3, Seed = 2, Tolerance = 0, MaxIterations = 30, RegCovar = 0 };
        GaussianMixtureModel<double> parsimonious = new GaussianMixture<double>(options with { Parameterization = model }).Fit(x, n, d);
        GaussianMixtureModel<double> typed = new GaussianMixture<double>(options with { CovarianceType = type }).Fit(x, n, d);
        Assert.Equal(typed.MeanLogLikelihood, parsimonious.MeanLogLikelihood, 1e-10);
        for (int i = 0; i < typed.Means.Length; i++)
        {
            Assert.Equal(typed.Means[i], parsimonious.Means[i], 1e-9);
        }

        for (int k = 0; k < 3; k++)
        {
            double[] expected = typed.ComponentCovariance(k), actual = parsimonious.ComponentCovariance(k);
            for (int i = 0; i < d * d; i++)
            {
                Assert.Equal(expected[i], actual[i], 1e-9);
            }
        }

        Assert.Equal(typed.ParameterCount, parsimonious.ParameterCount);
    }

    public static TheoryData<ParsimoniousModel> Models() => new(Enum.GetValues<ParsimoniousModel>().Where(m => m is not (ParsimoniousModel.E or ParsimoniousModel.V)));

    [Theory]
    [MemberData(nameof(Models))]
    public void EveryModel_IncreasesTheLikelihood_AndHasItsStructure(ParsimoniousModel model)
    {
        const int n = 900, d = 3, k = 3;
        double[] x = Clusters(n, 7);
        GaussianMixtureModel<double> fit = new GaussianMixture<double>(new GaussianMixtureOptions { Components = k, Seed = 1, Parameterization = model, RegCovar = 0, MaxIterations = 60, Tolerance = 0 }).Fit(x, n, d);
        if (model is ParsimoniousModel.EVE or ParsimoniousModel.VVE)
        {
            // mclust's MM iterations for the common orientation stop loosely from a fixed start at every M-step (and VVE's
            // weights the components by A_k alone), so its M-step need not increase the likelihood: the drivers report the
            // small decreases it makes, as they must.
            Assert.All(fit.LikelihoodDecreases, decrease => Assert.True(decrease.Decrease < 1e-5, $"{model}: a decrease of {decrease.Decrease}"));
        }
        else
        {
            Assert.Empty(fit.LikelihoodDecreases);
        }

        Assert.Empty(fit.Reseeds);
        string name = model.ToString();
        (double Volume, double[] Shape, double[] Orientation)[] parts = Enumerable.Range(0, k).Select(c => Decompose(fit.ComponentCovariance(c), d)).ToArray();
        for (int c = 1; c < k; c++)
        {
            if (name[0] == 'E')
            {
                Assert.Equal(parts[0].Volume, parts[c].Volume, 1e-9 * parts[0].Volume);
            }

            if (name[1] == 'E' || name[1] == 'I')
            {
                for (int j = 0; j < d; j++)
                {
                    Assert.Equal(parts[0].Shape[j], parts[c].Shape[j], 1e-7);
                }
            }

            if (name[2] == 'E' && name[1] != 'I')
            {
                // A common orientation: Σ_0 and Σ_c commute (their eigenvectors are one basis).
                double[] s0 = fit.ComponentCovariance(0), sc = fit.ComponentCovariance(c);
                double scale = s0.Max(Math.Abs) * sc.Max(Math.Abs);
                for (int a = 0; a < d; a++)
                {
                    for (int b = 0; b < d; b++)
                    {
                        double ab = 0, ba = 0;
                        for (int m = 0; m < d; m++)
                        {
                            ab += s0[a * d + m] * sc[m * d + b];
                            ba += sc[a * d + m] * s0[m * d + b];
                        }

                        Assert.True(Math.Abs(ab - ba) <= 1e-7 * scale, $"{name}: Σ_0 Σ_{c} ≠ Σ_{c} Σ_0 at ({a}, {b})");
                    }
                }
            }
        }

        // Exactly symmetric: the kernels factor the matrix as stored (an asymmetry of rounding once left a VEV covariance
        // that passed the M-step's check and failed the kernels').
        for (int c = 0; c < k; c++)
        {
            double[] sigma = fit.ComponentCovariance(c);
            for (int a = 0; a < d; a++)
            {
                for (int b = 0; b < d; b++)
                {
                    Assert.Equal(sigma[a * d + b], sigma[b * d + a]);
                }
            }
        }

        if (name[2] == 'I')
        {
            double[] s = fit.ComponentCovariance(0);
            Assert.Equal(0.0, s[1]);
            Assert.Equal(0.0, s[d + 2]);
        }

        // mclust's nMclustParams (FORMAT §6.6 of the mclust fixtures) with K − 1 weights and K·D means.
        int rotation = d * (d - 1) / 2;
        int nVar = model switch
        {
            ParsimoniousModel.EII => 1, ParsimoniousModel.VII => k, ParsimoniousModel.EEI => d, ParsimoniousModel.VEI => k + d - 1,
            ParsimoniousModel.EVI => 1 + (k * (d - 1)), ParsimoniousModel.VVI => k * d, ParsimoniousModel.EEE => d * (d + 1) / 2,
            ParsimoniousModel.VEE => k + d - 1 + rotation, ParsimoniousModel.EVE => 1 + (k * (d - 1)) + rotation, ParsimoniousModel.VVE => k + (k * (d - 1)) + rotation,
            ParsimoniousModel.EEV => 1 + d - 1 + (k * rotation), ParsimoniousModel.VEV => k + d - 1 + (k * rotation), ParsimoniousModel.EVV => 1 - k + (k * d * (d + 1) / 2),
            _ => k * d * (d + 1) / 2,
        };
        Assert.Equal(nVar + (k * d) + k - 1, fit.ParameterCount);
    }

    /// <summary>λ = |Σ|^(1/d), the shape (eigenvalues / λ, decreasing), the eigenvectors.</summary>
    private static (double Volume, double[] Shape, double[] Orientation) Decompose(double[] sigma, int d)
    {
        double[] values = new double[d], vectors = new double[d * d];
        DenseMatrix.SymmetricEigen(sigma, d, values, vectors);
        double volume = Math.Exp(values.Average(Math.Log));
        return (volume, values.OrderByDescending(v => v).Select(v => v / volume).ToArray(), vectors);
    }

    [Fact]
    public void TheNoiseComponent_TakesTheOutliers()
    {
        const int n = 3000, d = 3, g = 3;
        double[] x = Clusters(n, 3, outliers: 0.05);
        (double box, double principal) = ParsimoniousComponents<double>.LogHypervolume(x, n, d);
        var family = new ParsimoniousComponents<double>(ParsimoniousModel.VVV, g, d, -Math.Min(box, principal));
        var mixture = new FiniteMixture<double>(family, MixtureInitialization.Current);
        mixture.SetWeights([0.3, 0.3, 0.3, 0.1]);
        double[] centres = [0, 0, 0, 6, 3, -2, -3, 4, 4];
        centres.CopyTo(family.Means);
        for (int k = 0; k <= g; k++)
        {
            for (int a = 0; a < d; a++)
            {
                family.Covariances[(k * d * d) + (a * d) + a] = 4;
            }
        }

        var data = new InMemoryDataSource<double>(x, n, d);
        ExpectationMaximizationResult result = ExpectationMaximization.Fit(mixture, data, new ExpectationMaximizationOptions { MaxIterations = 200, Tolerance = 1e-9 });
        Assert.Empty(result.Decreases);
        Assert.Equal(0.05 * (1 - (8000.0 / 64000)), mixture.Weights[g], 0.015); // outliers drawn inside the clusters' own region look like them
        Assert.Equal(family.LogNoiseDensity, -Math.Min(box, principal));
    }

    [Fact]
    public void TheHypervolume_OfABox_IsItsVolume()
    {
        // The corners of a 2 × 3 × 5 box (and its centre): the bounding box has volume 30, and the principal axes are the
        // coordinate axes (the covariance is diagonal with distinct variances), so both logs are ln 30.
        double[] x = [0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 5, 2, 3, 0, 2, 0, 5, 0, 3, 5, 2, 3, 5, 1, 1.5, 2.5];
        (double box, double principal) = ParsimoniousComponents<double>.LogHypervolume(x, 9, 3);
        Assert.Equal(Math.Log(30), box, 1e-12);
        Assert.Equal(Math.Log(30), principal, 1e-9);
    }

    [Fact]
    public void UncertaintyAndIcl_AreMclusts_FromTheDensitiesByHand()
    {
        // Two one-dimensional components: w = (0.4, 0.6), μ = (0, 3), σ² = (1, 2); four points.
        GaussianMixtureModel<double> model = GaussianMixtureModel<double>.FromParameters(CovarianceType.Diagonal, 1, [0.4, 0.6], [0, 3], [1, 2]);
        double[] x = [-1, 0.5, 2, 4];
        double Density(double v, double mean, double variance) => Math.Exp(-((v - mean) * (v - mean)) / (2 * variance)) / Math.Sqrt(2 * Math.PI * variance);
        double logLikelihood = 0, entropy = 0;
        double[] uncertainty = new double[4];
        for (int i = 0; i < 4; i++)
        {
            double a = 0.4 * Density(x[i], 0, 1), b = 0.6 * Density(x[i], 3, 2);
            logLikelihood += Math.Log(a + b);
            double largest = Math.Max(a, b) / (a + b);
            entropy += Math.Log(largest);
            uncertainty[i] = 1 - largest;
        }

        int parameters = 2 + 2 + 1; // means, variances, one free weight
        double bic = (-2 * logLikelihood) + (parameters * Math.Log(4));
        Assert.Equal(bic, model.Bic(x, 4), 1e-12);
        Assert.Equal(bic - (2 * entropy), model.Icl(x, 4), 1e-12);
        double[] actual = model.Uncertainty(x, 4);
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(uncertainty[i], actual[i], 1e-14);
        }
    }

    [Fact]
    public void TheExactCriterion_DepartsFromMclustsStoredFactors_WhereItsFormatSays()
    {
        // mclust/FORMAT.md §9.4: on cross150 the exact criterion's merges differ from mclust's from merge 124 on; on synth3d the
        // merges are the same and the costs differ by up to 0.074.
        var cross = Tests.Infrastructure.Fixture.Load(Path.Combine(Tests.Infrastructure.Fixture.Folder(), "mclust", "cross150-hc-VVV-SVD.json"));
        HierarchicalAgglomeration mclust = HierarchicalAgglomeration.Vvv(cross.Data, cross.Points, cross.Features);
        HierarchicalAgglomeration exact = HierarchicalAgglomeration.Vvv(cross.Data, cross.Points, cross.Features, mclustStoredFactors: false);
        int first = Enumerable.Range(0, cross.Points - 1).First(t => mclust.Merge(t) != exact.Merge(t));
        Assert.Equal(124, first);

        var synth = Tests.Infrastructure.Fixture.Load(Path.Combine(Tests.Infrastructure.Fixture.Folder(), "mclust", "synth3d-hc-VVV-SVD.json"));
        mclust = HierarchicalAgglomeration.Vvv(synth.Data, synth.Points, synth.Features);
        exact = HierarchicalAgglomeration.Vvv(synth.Data, synth.Points, synth.Features, mclustStoredFactors: false);
        Assert.All(Enumerable.Range(0, synth.Points - 1), t => Assert.Equal(mclust.Merge(t), exact.Merge(t)));
        double largest = Enumerable.Range(0, synth.Points - 1).Max(t => Math.Abs(mclust.MergeCosts[t] - exact.MergeCosts[t]));
        Assert.Equal(0.074, largest, 0.0015);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TheAgglomeration_IsTheSameOnAnyNumberOfThreads(bool mclustStoredFactors)
    {
        // 700 points: the sweeps of costs after the early merges run in parallel (more than 256 pairs), the late ones alone.
        const int n = 700, d = 3;
        double[] x = Clusters(n, 5, outliers: 0.05);
        HierarchicalAgglomeration one = HierarchicalAgglomeration.Vvv(x, n, d, mclustStoredFactors, threads: 1);
        HierarchicalAgglomeration many = HierarchicalAgglomeration.Vvv(x, n, d, mclustStoredFactors, threads: 4);
        Assert.Equal(Enumerable.Range(0, n - 1).Select(one.Merge), Enumerable.Range(0, n - 1).Select(many.Merge));
        Assert.Equal(one.MergeCosts.ToArray(), many.MergeCosts.ToArray()); // bitwise
    }

    [Fact]
    public void TheHierarchicalStart_IsMclustsPartition_AndDeterministic()
    {
        const int n = 300, d = 3;
        double[] x = Clusters(n, 12);
        var options = new GaussianMixtureOptions { Components = 3, Parameterization = ParsimoniousModel.VVV, Initialization = GaussianMixtureInitialization.Hierarchical, MaxIterations = 1, Tolerance = 0, RegCovar = 0 };
        GaussianMixtureModel<double> one = new GaussianMixture<double>(options with { Seed = 1, Restarts = 3 }).Fit(x, n, d);
        GaussianMixtureModel<double> other = new GaussianMixture<double>(options with { Seed = 2 }).Fit(x, n, d);
        Assert.Equal(one.Means.ToArray(), other.Means.ToArray());
        Assert.Equal(one.MeanLogLikelihoodHistory.ToArray(), other.MeanLogLikelihoodHistory.ToArray());

        // The start is the M-step of the agglomeration's partition into 3: the first value of the history is the
        // log-likelihood of the groups' own means, covariances and shares.
        int[] groups = HierarchicalAgglomeration.Vvv(x, n, d).Partition(3);
        double[] weights = new double[3], means = new double[9], covariances = new double[27];
        for (int k = 0; k < 3; k++)
        {
            int[] members = Enumerable.Range(0, n).Where(i => groups[i] == k).ToArray();
            weights[k] = (double)members.Length / n;
            for (int a = 0; a < d; a++)
            {
                means[k * d + a] = members.Average(i => x[i * d + a]);
            }

            for (int a = 0; a < d; a++)
            {
                for (int b = 0; b < d; b++)
                {
                    covariances[(k * d + a) * d + b] = members.Sum(i => (x[i * d + a] - means[k * d + a]) * (x[i * d + b] - means[k * d + b])) / members.Length;
                }
            }
        }

        GaussianMixtureModel<double> start = GaussianMixtureModel<double>.FromParameters(CovarianceType.Full, d, weights, means, covariances);
        Assert.Equal(start.Score(x, n), one.MeanLogLikelihoodHistory[0], 1e-9);
    }

    [Fact]
    public void ASharedAgglomeration_GivesTheFitsTheirOwnWould_AndLargeDataAStartFromAFixedSubset()
    {
        const int d = 3;
        foreach (int n in new[] { 600, 2400 })
        {
            double[] x = Clusters(n, 5);
            var cache = new AgglomerationCache();
            foreach ((ParsimoniousModel model, int k) in new[] { (ParsimoniousModel.VVV, 3), (ParsimoniousModel.EEE, 2), (ParsimoniousModel.VII, 4) })
            {
                var options = new GaussianMixtureOptions { Components = k, Parameterization = model, Initialization = GaussianMixtureInitialization.Hierarchical, MaxIterations = 5, Tolerance = 0 };
                GaussianMixtureModel<double> own = new GaussianMixture<double>(options with { Seed = 3 }).Fit(x, n, d);
                GaussianMixtureModel<double> shared = new GaussianMixture<double>(options with { Seed = 4, AgglomerationCache = cache }).Fit(x, n, d);
                Assert.True(cache.IsFilled);
                Assert.Equal(own.MeanLogLikelihoodHistory.ToArray(), shared.MeanLogLikelihoodHistory.ToArray());
                Assert.Equal(own.Means.ToArray(), shared.Means.ToArray());
            }
        }
    }

    [Fact]
    public void AnAgglomerationStartedAhead_GivesTheFitsTheirOwnStart()
    {
        // StartFill agglomerates the data as given; a fit agglomerates its centred copy. The standardization makes them the
        // same merges (to rounding), so the same partitions and fits; the flags of a noise component are honoured too.
        const int d = 3;
        foreach (int n in new[] { 600, 2400 })
        {
            double[] x = Clusters(n, 7);
            bool[] noise = Enumerable.Range(0, n).Select(i => i % 17 == 0).ToArray();
            foreach (bool[]? flags in new[] { null, noise })
            {
                var cache = new AgglomerationCache();
                Task filling = cache.StartFill(x, n, d, flags ?? [], maxDegreeOfParallelism: 2);
                var options = new GaussianMixtureOptions
                {
                    Components = 3, Parameterization = ParsimoniousModel.VVV, Initialization = GaussianMixtureInitialization.Hierarchical, MaxIterations = 5, Tolerance = 0,
                    Noise = flags is null ? null : new NoiseComponentOptions { InitialNoise = flags },
                };
                GaussianMixtureModel<double> shared = new GaussianMixture<double>(options with { AgglomerationCache = cache }).Fit(x, n, d);
                GaussianMixtureModel<double> own = new GaussianMixture<double>(options).Fit(x, n, d);
                Assert.True(filling.IsCompletedSuccessfully);
                for (int t = 0; t < own.MeanLogLikelihoodHistory.Length; t++)
                {
                    Assert.Equal(own.MeanLogLikelihoodHistory[t], shared.MeanLogLikelihoodHistory[t], 1e-12);
                }

                Assert.Throws<ArgumentException>(() => { _ = cache.StartFill(x, n, d, [], 1); }); // filled already
            }
        }

        var fresh = new AgglomerationCache();
        Assert.Equal("data", Assert.Throws<ArgumentException>(() => { _ = fresh.StartFill(new double[10], 4, 3, [], 1); }).ParamName);
        Assert.Equal("excluded", Assert.Throws<ArgumentException>(() => { _ = fresh.StartFill(new double[12], 4, 3, [true], 1); }).ParamName);
        Assert.Equal("data", Assert.Throws<ArgumentException>(() => { _ = fresh.StartFill([1, 2, double.NaN, 4], 2, 2, [], 1); }).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = fresh.StartFill(new double[12], 4, 3, [], 0); });
    }

    [Fact]
    public void OneDimensionalModels_AndMismatches_AreChecked()
    {
        Assert.Equal("options.Parameterization", Assert.Throws<ArgumentException>(() => new GaussianMixture<double>(new GaussianMixtureOptions { Components = 2, Parameterization = ParsimoniousModel.E }).Fit([1, 2, 3, 4, 5, 6], 3, 2)).ParamName);
        Assert.Equal("options.Parameterization", Assert.Throws<ArgumentException>(() => new GaussianMixture<double>(new GaussianMixtureOptions { Components = 2, Parameterization = ParsimoniousModel.VVV, CovarianceType = CovarianceType.Diagonal }).Fit([1, 2, 3, 4, 5, 6], 3, 2)).ParamName);
        GaussianMixtureModel<double> v = new GaussianMixture<double>(new GaussianMixtureOptions { Components = 2, Parameterization = ParsimoniousModel.V, Seed = 1 }).Fit([1, 1.2, 0.9, 5, 5.1, 4.8], 6, 1);
        Assert.Equal(ParsimoniousModel.V, v.Parameterization);
        Assert.Equal(2 + 2 + 1, v.ParameterCount);
    }
}
