using System.Text.Json;
using EmKernels.Engine;
using EmKernels.Mixtures;
using EmKernels.Numerics;
using EmKernels.Tests.Infrastructure;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// Variational Bayesian Gaussian mixtures: the ELBO the engine monitors against Bishop's (2006, §10.2.2) seven
/// expectations written out independently; its relation to scikit-learn's bound; monotone on random data for every
/// covariance type and weight prior; a Dirichlet process leaves the clusters the data have; the estimator reproduces the
/// fixtures through its options (scikit-learn's defaults resolved from the data); float32 close to float64; bitwise
/// identical for any thread count; sample weights count as copies; the predictive density against a scalar Student t
/// mixture; ψ against reference values.
/// </summary>
public sealed class BayesianGaussianMixtureTests
{
    private static double[] Blobs(int n, int d, int clusters, double separation, int seed)
    {
        var random = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        double[] x = new double[n * d];
        for (int i = 0; i < n; i++)
        {
            int c = i % clusters;
            for (int a = 0; a < d; a++)
            {
                x[i * d + a] = (a == c % d ? separation * (1 + c / d) : 0) + ((1 + (0.3 * a)) * Normal());
            }
        }

        return x;
    }

    /// <summary>Component k's covariance-layout values as a full D × D matrix.</summary>
    private static double[] Full(CovarianceType type, ReadOnlySpan<double> values, int k, int d)
    {
        double[] m = new double[d * d];
        GaussianComponents<double>.FullCovariance(type, d, values, k, m);
        return m;
    }

    private static double[] PriorMatrix(CovarianceType type, double[] psi, int d)
    {
        double[] m = new double[d * d];
        for (int a = 0; a < d; a++)
        {
            for (int b = 0; b < d; b++)
            {
                m[a * d + b] = type switch
                {
                    CovarianceType.Full or CovarianceType.Tied => psi[a * d + b],
                    CovarianceType.Diagonal => a == b ? psi[a] : 0,
                    _ => a == b ? psi[0] : 0,
                };
            }
        }

        return m;
    }

    private static double[] Inverse(double[] a, int d, out double logDet)
    {
        double[] inverse = new double[d * d];
        Assert.True(DenseMatrix.TryInvertPositiveDefinite(a, d, inverse, new double[2 * d * d], out logDet));
        return inverse;
    }

    private static double Quadratic(double[] w, ReadOnlySpan<double> u, int d)
    {
        double sum = 0;
        for (int a = 0; a < d; a++)
        {
            for (int b = 0; b < d; b++)
            {
                sum += u[a] * w[a * d + b] * u[b];
            }
        }

        return sum;
    }

    /// <summary>ln B(W, ν) of the Wishart normalizer (Bishop B.79), with its π term.</summary>
    private static double LogWishartB(double logDetW, double nu, int d)
    {
        double sum = (-0.5 * nu * logDetW) - (0.5 * nu * d * Math.Log(2)) - (d * (d - 1) / 4.0 * Math.Log(Math.PI));
        for (int i = 1; i <= d; i++)
        {
            sum -= SpecialFunctions.LogGamma((nu + 1 - i) / 2);
        }

        return sum;
    }

    /// <summary>
    /// Bishop's ELBO (10.70 with 10.71–10.77; the Dirichlet process's stick terms in their place) of responsibilities r (N × K)
    /// and the model's q, written from the book with full D × D matrices for every covariance type (the diagonal and
    /// spherical q(Λ) are Wishart with a restricted scale; tied ones share one q(Λ) over K independent priors).
    /// </summary>
    private static double ReferenceElbo(double[] x, int n, int d, double[] r, BayesianGaussianMixtureModel<double> q)
    {
        int k = q.Components;
        BayesianMixturePrior p = q.Prior;
        CovarianceType type = q.CovarianceType;
        double gamma = p.WeightConcentration, beta0 = p.MeanPrecision, nu0 = p.DegreesOfFreedom;
        double[] c = [.. q.WeightConcentrations];
        double[] eLnPi = new double[k];
        double eLnPPi, eLnQPi;
        if (q.WeightPrior == WeightPrior.DirichletDistribution)
        {
            double sum = c.Sum();
            for (int j = 0; j < k; j++)
            {
                eLnPi[j] = SpecialFunctions.Digamma(c[j]) - SpecialFunctions.Digamma(sum);
            }

            eLnPPi = SpecialFunctions.LogGamma(k * gamma) - (k * SpecialFunctions.LogGamma(gamma)) + ((gamma - 1) * eLnPi.Sum());
            eLnQPi = SpecialFunctions.LogGamma(sum) - c.Sum(SpecialFunctions.LogGamma) + Enumerable.Range(0, k).Sum(j => (c[j] - 1) * eLnPi[j]);
        }
        else
        {
            double earlier = 0;
            eLnPPi = 0;
            eLnQPi = 0;
            for (int j = 0; j < k; j++)
            {
                double a = c[j], b = c[k + j], total = SpecialFunctions.Digamma(a + b);
                double lnV = SpecialFunctions.Digamma(a) - total, ln1mV = SpecialFunctions.Digamma(b) - total;
                eLnPi[j] = lnV + earlier;
                earlier += ln1mV;
                eLnPPi += Math.Log(gamma) + ((gamma - 1) * ln1mV);
                double lnBeta = SpecialFunctions.LogGamma(a) + SpecialFunctions.LogGamma(b) - SpecialFunctions.LogGamma(a + b);
                eLnQPi += -lnBeta + ((a - 1) * lnV) + ((b - 1) * ln1mV);
            }
        }

        double[] psi0 = PriorMatrix(type, p.Covariance, d);
        Inverse(psi0, d, out double logDetPsi0);
        double logB0 = LogWishartB(-logDetPsi0, nu0, d);
        double t1 = 0, t2 = 0, t4 = 0, t5 = 0, t7 = 0;
        for (int j = 0; j < k; j++)
        {
            double beta = q.MeanPrecisions[j], nu = q.DegreesOfFreedom[type == CovarianceType.Tied ? 0 : j];
            double[] cj = Full(type, q.Covariances, j, d);
            double[] w = Inverse(cj, d, out double logDetC);
            for (int i = 0; i < w.Length; i++)
            {
                w[i] /= nu;
            }

            double logDetW = -logDetC - (d * Math.Log(nu));
            double eLnLambda = (d * Math.Log(2)) + logDetW;
            for (int i = 1; i <= d; i++)
            {
                eLnLambda += SpecialFunctions.Digamma((nu + 1 - i) / 2);
            }

            ReadOnlySpan<double> m = q.Means.Slice(j * d, d);
            double[] u = new double[d];
            for (int i = 0; i < n; i++)
            {
                for (int a = 0; a < d; a++)
                {
                    u[a] = x[i * d + a] - m[a];
                }

                double rij = r[i * k + j];
                t1 += rij * ((0.5 * eLnLambda) - (d / (2 * beta)) - (0.5 * nu * Quadratic(w, u, d)) - (0.5 * d * Math.Log(2 * Math.PI)));
                t2 += rij * eLnPi[j];
                t5 += rij > 0 ? rij * Math.Log(rij) : 0;
            }

            for (int a = 0; a < d; a++)
            {
                u[a] = m[a] - p.Mean[a];
            }

            double trace = 0;
            for (int a = 0; a < d; a++)
            {
                for (int b = 0; b < d; b++)
                {
                    trace += psi0[a * d + b] * w[b * d + a];
                }
            }

            t4 += (0.5 * ((d * Math.Log(beta0 / (2 * Math.PI))) + eLnLambda - (d * beta0 / beta) - (beta0 * nu * Quadratic(w, u, d))))
                + logB0 + (0.5 * (nu0 - d - 1) * eLnLambda) - (0.5 * nu * trace);
            double entropy = -LogWishartB(logDetW, nu, d) - (0.5 * (nu - d - 1) * eLnLambda) + (0.5 * nu * d);
            t7 += (0.5 * eLnLambda) + (0.5 * d * Math.Log(beta / (2 * Math.PI))) - (0.5 * d) - entropy;
        }

        return t1 + t2 + eLnPPi + t4 - t5 - eLnQPi - t7;
    }

    public static TheoryData<CovarianceType, WeightPrior> Cases()
    {
        var data = new TheoryData<CovarianceType, WeightPrior>();
        foreach (CovarianceType type in Enum.GetValues<CovarianceType>())
        {
            foreach (WeightPrior prior in Enum.GetValues<WeightPrior>())
            {
                data.Add(type, prior);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TheObjective_IsBishopsElbo_AndNeverDecreases(CovarianceType type, WeightPrior weightPrior)
    {
        const int n = 300, d = 3, k = 4;
        double[] x = Blobs(n, d, 3, 5, seed: 11);
        var options = new BayesianGaussianMixtureOptions
        {
            Components = k, CovarianceType = type, WeightPrior = weightPrior, Seed = 3, Tolerance = 0, MaxIterations = 25,
            Initialization = GaussianMixtureInitialization.RandomResponsibilities,
        };
        BayesianGaussianMixtureModel<double> fit = new BayesianGaussianMixture<double>(options).Fit(x, n, d);
        Assert.Empty(fit.ElboDecreases);
        for (int t = 1; t < fit.ElboHistory.Length; t++)
        {
            Assert.True(fit.ElboHistory[t] >= fit.ElboHistory[t - 1] - 1e-12 * Math.Abs(fit.ElboHistory[t - 1]), $"iteration {t}: {fit.ElboHistory[t - 1]} -> {fit.ElboHistory[t]}");
        }

        // The last value is the bound under the returned q with the responsibilities it implies.
        double[] r = fit.PredictProbabilities(x, n);
        double reference = ReferenceElbo(x, n, d, r, fit);
        Assert.Equal(reference, fit.Elbo, 1e-10 * Math.Abs(reference));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ScikitLearnsBound_DiffersFromTheElboOfTheSamePairByAConstant(CovarianceType type, WeightPrior weightPrior)
    {
        // LB_t pairs q_t with r⁽ᵗ⁾, the responsibilities under q_{t−1}; the ELBO of that pair minus LB_t is the same for every t
        // (reg_covar 0: with it the M-step is not the bound's optimum for r, which scikit-learn's simplification assumes).
        const int n = 240, d = 2, k = 3;
        double[] x = Blobs(n, d, 3, 4, seed: 5);
        var options = new BayesianGaussianMixtureOptions
        {
            Components = k, CovarianceType = type, WeightPrior = weightPrior, Seed = 2, Tolerance = 0, RegCovar = 0,
            Initialization = GaussianMixtureInitialization.RandomResponsibilities,
        };
        double Difference(int t)
        {
            BayesianGaussianMixtureModel<double> before = new BayesianGaussianMixture<double>(options with { MaxIterations = t - 1 }).Fit(x, n, d);
            BayesianGaussianMixtureModel<double> after = new BayesianGaussianMixture<double>(options with { MaxIterations = t }).Fit(x, n, d);
            return ReferenceElbo(x, n, d, before.PredictProbabilities(x, n), after) - after.ScikitLearnLowerBound;
        }

        double first = Difference(3), later = Difference(9);
        Assert.Equal(first, later, 1e-9 * Math.Abs(first));
    }

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Diagonal)]
    [InlineData(CovarianceType.Spherical)]
    public void ADirichletProcessWithTwentyComponents_LeavesTheThreeClusters(CovarianceType type)
    {
        const int n = 900, d = 2;
        double[] x = Blobs(n, d, 3, 12, seed: 8);
        var options = new BayesianGaussianMixtureOptions { Components = 20, CovarianceType = type, Seed = 1, MaxIterations = 500, Tolerance = 1e-6 };
        BayesianGaussianMixtureModel<double> fit = new BayesianGaussianMixture<double>(options).Fit(x, n, d);
        Assert.Empty(fit.ElboDecreases);
        Assert.Equal(3, fit.EffectiveComponents);
        BayesianGaussianMixtureModel<double> pruned = fit.Pruned();
        Assert.Equal(3, pruned.Components);
        foreach (double w in pruned.Weights)
        {
            Assert.Equal(1.0 / 3, w, 0.01);
        }

        Assert.Equal(3, fit.Predict(x, n).Distinct().Count());
        int[] labels = pruned.Predict(x, n);
        for (int i = 3; i < n; i++)
        {
            Assert.Equal(labels[i % 3], labels[i]);
        }
    }

    public static TheoryData<string> VariationalFixtures() =>
        new(Directory.GetFiles(Path.Combine(Fixture.Folder(), "bayes"), "*-vb-*.json").Select(Path.GetFileNameWithoutExtension).Order()!);

    [Theory]
    [MemberData(nameof(VariationalFixtures))]
    public void TheEstimator_ReproducesTheFixture_FromItsOptions(string name)
    {
        var fixture = Fixture.Load(Path.Combine(Fixture.Folder(), "bayes", name + ".json"));
        JsonElement prior = fixture.Root.GetProperty("prior");
        double[] Numbers(string key) => prior.GetProperty(key).EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var options = new BayesianGaussianMixtureOptions
        {
            Components = fixture.Components,
            CovarianceType = fixture.Root.GetProperty("covariance_type").GetString() switch
            {
                "full" => CovarianceType.Full,
                "tied" => CovarianceType.Tied,
                "diag" => CovarianceType.Diagonal,
                _ => CovarianceType.Spherical,
            },
            WeightPrior = fixture.Root.GetProperty("weight_concentration_prior_type").GetString() == "dirichlet_process" ? WeightPrior.DirichletProcess : WeightPrior.DirichletDistribution,
            RegCovar = fixture.Root.GetProperty("reg_covar").GetDouble(),
            WeightConcentration = prior.GetProperty("weight_concentration_prior").GetDouble(),
            MeanPrecision = prior.GetProperty("mean_precision_prior").GetDouble(),
            MeanPrior = Numbers("mean_prior"),
            DegreesOfFreedom = prior.GetProperty("degrees_of_freedom_prior").GetDouble(),
            CovariancePrior = Numbers("covariance_prior"),
            InitialResponsibilities = fixture.Init("responsibilities"),
            MaxIterations = fixture.Iterations,
            Tolerance = 0,
        };
        BayesianGaussianMixtureModel<double> fit = new BayesianGaussianMixture<double>(options).Fit(fixture.Data, fixture.Points, fixture.Features);
        var comparison = new FixtureComparison(fixture);
        comparison.Values("lower_bound", fixture.Expected("lower_bound")[^1..], [fit.ScikitLearnLowerBound]);
        comparison.Values("weights", fixture.Expected("weights"), [.. fit.Weights]);
        comparison.Values("means", fixture.Expected("means"), fit.Means);
        comparison.Values("covariances", fixture.Expected("covariances"), fit.Covariances);
        comparison.Labels(fixture.Expected("labels"), fit.Predict(fixture.Data, fixture.Points));
        Assert.True(comparison.Failures.Count == 0, string.Join("\n", comparison.Failures));

        // Where the fixture's prior is scikit-learn's default, the estimator resolves the same from the data.
        string method = fixture.Root.GetProperty("prior_method").ToString();
        BayesianGaussianMixtureModel<double> defaults = new BayesianGaussianMixture<double>(options with
        {
            MeanPrior = method.Contains("\"mean_prior\":\"scikit-learn default", StringComparison.Ordinal) ? null : options.MeanPrior,
            CovariancePrior = method.Contains("\"covariance_prior\":\"scikit-learn default", StringComparison.Ordinal) ? null : options.CovariancePrior,
            MaxIterations = 1,
        }).Fit(fixture.Data, fixture.Points, fixture.Features);
        double[] mean = Numbers("mean_prior"), covariance = Numbers("covariance_prior");
        double spread = Math.Sqrt(covariance.Max(Math.Abs));
        for (int a = 0; a < mean.Length; a++)
        {
            Assert.Equal(mean[a], defaults.Prior.Mean[a], 1e-12 * (Math.Abs(mean[a]) + spread));
        }

        for (int i = 0; i < covariance.Length; i++)
        {
            Assert.Equal(covariance[i], defaults.Prior.Covariance[i], 1e-12 * covariance.Max(Math.Abs));
        }
    }

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Tied)]
    [InlineData(CovarianceType.Diagonal)]
    [InlineData(CovarianceType.Spherical)]
    public void Float_IsWithin1e4OfDouble(CovarianceType type)
    {
        const int n = 2000, d = 4, k = 5;
        double[] x = Blobs(n, d, 4, 6, seed: 21);
        var options = new BayesianGaussianMixtureOptions { Components = k, CovarianceType = type, Seed = 4, Tolerance = 0, MaxIterations = 40 };
        BayesianGaussianMixtureModel<double> fit64 = new BayesianGaussianMixture<double>(options).Fit(x, n, d);
        BayesianGaussianMixtureModel<float> fit32 = new BayesianGaussianMixture<float>(options).Fit(x.Select(v => (float)v).ToArray(), n, d);
        Assert.Empty(fit32.ElboDecreases);
        Assert.Equal(fit64.ElboHistory[^1], fit32.ElboHistory[^1], 1e-4 * Math.Abs(fit64.ElboHistory[^1]));
        double scale = fit64.Means.ToArray().Max(Math.Abs);
        for (int i = 0; i < fit64.Means.Length; i++)
        {
            Assert.Equal(fit64.Means[i], fit32.Means[i], 1e-4 * scale);
        }

        for (int j = 0; j < k; j++)
        {
            Assert.Equal(fit64.Weights[j], fit32.Weights[j], 1e-4);
        }
    }

    [Fact]
    public void Fits_AreBitwiseIdentical_ForAnyThreadCount()
    {
        const int n = 30000, d = 3, k = 6;
        double[] x = Blobs(n, d, 4, 5, seed: 2);
        var options = new BayesianGaussianMixtureOptions { Components = k, Seed = 9, Tolerance = 0, MaxIterations = 15 };
        BayesianGaussianMixtureModel<double> one = new BayesianGaussianMixture<double>(options with { MaxDegreeOfParallelism = 1 }).Fit(x, n, d);
        BayesianGaussianMixtureModel<double> three = new BayesianGaussianMixture<double>(options with { MaxDegreeOfParallelism = 3 }).Fit(x, n, d);
        Assert.Equal(one.ElboHistory.ToArray(), three.ElboHistory.ToArray());
        Assert.Equal(one.Means.ToArray(), three.Means.ToArray());
        Assert.Equal(one.Covariances.ToArray(), three.Covariances.ToArray());
        Assert.Equal(one.ScikitLearnLowerBound, three.ScikitLearnLowerBound);
    }

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Spherical)]
    public void AWeightOfThree_IsThreeCopies(CovarianceType type)
    {
        const int n = 120, d = 2, k = 3;
        double[] x = Blobs(n, d, 3, 4, seed: 3);
        double[] thrice = Enumerable.Range(0, 3).SelectMany(_ => x).ToArray();
        var options = new BayesianGaussianMixtureOptions
        {
            Components = k, CovarianceType = type, Tolerance = 0, MaxIterations = 20, MeanPrior = [0, 0], CovariancePrior = type == CovarianceType.Full ? [1, 0, 0, 1] : [1],
        };
        double[] labels = new double[3 * n * k];
        double[] once = new double[n * k];
        for (int i = 0; i < 3 * n; i++)
        {
            labels[i * k + (i % n % k)] = 1;
        }

        Array.Copy(labels, once, n * k);
        BayesianGaussianMixtureModel<double> copies = new BayesianGaussianMixture<double>(options with { InitialResponsibilities = labels }).Fit(thrice, 3 * n, d);
        BayesianGaussianMixtureModel<double> weighted = new BayesianGaussianMixture<double>(options with { InitialResponsibilities = once }).Fit(x, n, d, Enumerable.Repeat(3.0, n).ToArray());
        for (int i = 0; i < copies.Means.Length; i++)
        {
            Assert.Equal(copies.Means[i], weighted.Means[i], 1e-9);
        }

        for (int j = 0; j < k; j++)
        {
            Assert.Equal(copies.ExpectedCounts[j], weighted.ExpectedCounts[j], 1e-8);
        }

        Assert.Equal(copies.Elbo, weighted.Elbo, 1e-8 * Math.Abs(copies.Elbo));
        Assert.Equal(copies.ScikitLearnLowerBound, weighted.ScikitLearnLowerBound, 1e-8 * Math.Abs(copies.ScikitLearnLowerBound));
    }

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Tied)]
    [InlineData(CovarianceType.Diagonal)]
    [InlineData(CovarianceType.Spherical)]
    public void ScoreSamples_IsThePosteriorPredictiveStudentTMixture(CovarianceType type)
    {
        const int n = 200, d = 3, k = 3;
        double[] x = Blobs(n, d, 3, 4, seed: 6);
        BayesianGaussianMixtureModel<double> fit = new BayesianGaussianMixture<double>(new BayesianGaussianMixtureOptions { Components = k, CovarianceType = type, Seed = 1 }).Fit(x, n, d);
        double[] scores = fit.ScoreSamples(x.AsSpan(0, 10 * d), 10);
        for (int i = 0; i < 10; i++)
        {
            // Σ_k E[π_k] St(x | m_k, L_k⁻¹, ν_k + 1 − D), L_k = (ν_k + 1 − D) β_k / (1 + β_k) W_k (Bishop 10.81–10.82).
            double[] terms = new double[k];
            for (int j = 0; j < k; j++)
            {
                double beta = fit.MeanPrecisions[j], nu = fit.DegreesOfFreedom[type == CovarianceType.Tied ? 0 : j], dof = nu + 1 - d;
                double[] scale = Full(type, fit.Covariances, j, d);
                for (int a = 0; a < scale.Length; a++)
                {
                    scale[a] *= (1 + beta) * nu / (beta * dof);
                }

                double[] precision = Inverse(scale, d, out double logDet);
                double[] u = new double[d];
                for (int a = 0; a < d; a++)
                {
                    u[a] = x[i * d + a] - fit.Means[j * d + a];
                }

                terms[j] = Math.Log(fit.Weights[j]) + SpecialFunctions.LogGamma((dof + d) / 2) - SpecialFunctions.LogGamma(dof / 2)
                    - (d / 2.0 * Math.Log(dof * Math.PI)) - (0.5 * logDet) - ((dof + d) / 2 * Math.Log(1 + (Quadratic(precision, u, d) / dof)));
            }

            double max = terms.Max();
            double expected = max + Math.Log(terms.Sum(t => Math.Exp(t - max)));
            Assert.Equal(expected, scores[i], 1e-10 * Math.Abs(expected));
        }
    }

    [Theory]
    [InlineData(CovarianceType.Full, 300)]
    [InlineData(CovarianceType.Full, 600)]
    [InlineData(CovarianceType.Tied, 600)]
    [InlineData(CovarianceType.Diagonal, -600)]
    [InlineData(CovarianceType.Spherical, 600)]
    [InlineData(CovarianceType.Tied, -300)]
    [InlineData(CovarianceType.Diagonal, 300)]
    [InlineData(CovarianceType.Spherical, -300)]
    public void DataOfAnyMagnitude_GiveTheSameFit(CovarianceType type, int exponent)
    {
        // The data × 2^e (and 10^6 away from the origin): the default prior scales with them, the fit is the same computation
        // in other units, and the ELBO per point moves by the Jacobian −D·e·ln 2 only.
        const int n = 400, d = 2, k = 3;
        double[] x = Blobs(n, d, 3, 5, seed: 4);
        double[] scaled = x.Select(v => Math.ScaleB(v + 1e6, exponent)).ToArray();
        double[] shifted = x.Select(v => v + 1e6).ToArray();
        var options = new BayesianGaussianMixtureOptions { Components = k, CovarianceType = type, Seed = 1, Tolerance = 0, MaxIterations = 30, RegCovar = 0 };
        BayesianGaussianMixtureModel<double> fit = new BayesianGaussianMixture<double>(options).Fit(shifted, n, d);
        BayesianGaussianMixtureModel<double> big = new BayesianGaussianMixture<double>(options).Fit(scaled, n, d);
        Assert.Empty(big.ElboDecreases);
        for (int i = 0; i < fit.Means.Length; i++)
        {
            Assert.Equal(fit.Means[i], Math.ScaleB(big.Means[i], -exponent), 1e-9);
        }

        for (int i = 0; i < fit.Covariances.Length; i++)
        {
            Assert.Equal(fit.Covariances[i], Math.ScaleB(big.Covariances[i], 2 * (big.CovarianceScaleExponent - exponent)), 1e-9);
        }

        Assert.Equal(fit.ElboHistory[^1] - (d * exponent * Math.Log(2)), big.ElboHistory[^1], 1e-9 * Math.Abs(big.ElboHistory[^1]));
        Assert.Equal(fit.Predict(shifted, n), big.Predict(scaled, n));
        double[] scores = big.ScoreSamples(scaled, n);
        Assert.All(scores, s => Assert.True(double.IsFinite(s)));
    }

    [Fact]
    public void InvalidPriors_AreRefusedNamingTheOption()
    {
        double[] x = Blobs(30, 2, 2, 3, seed: 1);
        var options = new BayesianGaussianMixtureOptions { Components = 2 };
        Assert.Equal("options.MeanPrior", Assert.Throws<ArgumentException>(() => new BayesianGaussianMixture<double>(options with { MeanPrior = [0, 0, 0] }).Fit(x, 30, 2)).ParamName);
        Assert.Equal("options.DegreesOfFreedom", Assert.Throws<ArgumentOutOfRangeException>(() => new BayesianGaussianMixture<double>(options with { DegreesOfFreedom = 0.5 }).Fit(x, 30, 2)).ParamName);
        Assert.Equal("options.CovariancePrior", Assert.Throws<ArgumentException>(() => new BayesianGaussianMixture<double>(options with { CovariancePrior = [1, 2, 2, 1] }).Fit(x, 30, 2)).ParamName);
        Assert.Equal("options.CovariancePrior", Assert.Throws<ArgumentException>(() => new BayesianGaussianMixture<double>(options with { CovarianceType = CovarianceType.Diagonal, CovariancePrior = [1] }).Fit(x, 30, 2)).ParamName);
        Assert.Equal("options.WeightConcentration", Assert.Throws<ArgumentOutOfRangeException>(() => new BayesianGaussianMixture<double>(options with { WeightConcentration = 0 })).ParamName);
        Assert.Equal("options.MeanPrecision", Assert.Throws<ArgumentOutOfRangeException>(() => new BayesianGaussianMixture<double>(options with { MeanPrecision = double.NaN })).ParamName);
        Assert.Equal("options.InitialResponsibilities", Assert.Throws<ArgumentException>(() => new BayesianGaussianMixture<double>(options with { InitialResponsibilities = new double[59] }).Fit(x, 30, 2)).ParamName);
    }

    [Theory]
    [InlineData(1e-3, -1000.5755719318103)]
    [InlineData(0.5, -1.9635100260214235)]
    [InlineData(1, -0.5772156649015329)]
    [InlineData(2.5, 0.7031566406452432)]
    [InlineData(6, 1.7061176684318005)]
    [InlineData(10.3, 2.2828154464391224)]
    [InlineData(1000.5, 6.907755320648796)]
    [InlineData(1e6, 13.81551005796419)]
    public void Digamma_MatchesReferenceValues(double x, double expected) =>
        Assert.Equal(expected, SpecialFunctions.Digamma(x), 2e-15 * Math.Max(1, Math.Abs(expected)));
}
