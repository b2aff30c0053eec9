using System.Text.Json;
using EmKernels.Engine;
using EmKernels.Latent;
using EmKernels.Mixtures;
using EmKernels.Sequences;
using EmKernels.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace EmKernels.Tests;

/// <summary>
/// Parity with the reference fixtures: one case per *.json under $EMK_FIXTURES (default ../shared/fixtures),
/// recursively, dispatched on <c>format</c> and <c>model</c>. emk-fixture/1 (the top level: scikit-learn
/// 1.2.1 and numpy references) runs exactly FORMAT.md §6; emk-fixture/2 files run as the FORMAT.md of
/// their folder defines. A fixture of a model this library does not implement yet is reported skipped,
/// never passed; one of an unknown format fails.
/// </summary>
[Trait("Category", "Parity")]
public sealed class FixtureParityTests(ITestOutputHelper output)
{
    /// <summary>Models of emk-fixture/2 that run; every other model of that format is skipped as not implemented yet.</summary>
    private static readonly string[] ImplementedVersion2 = ["online-gaussian-mixture", "factor-analysis", "ppca", "bayesian-linear-regression", "hmm", "gaussian-mixture-map", "bayesian-gaussian-mixture", "mixture-of-regressions", "mixture-of-experts", "gaussian-mixture-parsimonious", "gaussian-mixture-noise", "mclust-hc", "mclust-bic-table", "gaussian-mixture-missing"];

    public static TheoryData<string> AllFixtures() => new(Fixture.All());

    [SkippableTheory]
    [MemberData(nameof(AllFixtures))]
    public void Fixture_IsReproduced(string name)
    {
        var fixture = Fixture.Load(Path.Combine(Fixture.Folder(), name + ".json"));
        var comparison = new FixtureComparison(fixture);
        switch (fixture.Format, fixture.Model)
        {
            case ("emk-fixture/1", "gaussian-mixture"):
                RunGaussian(fixture, comparison);
                break;
            case ("emk-fixture/1", "bernoulli-mixture" or "categorical-mixture" or "binomial-mixture" or "poisson-mixture"):
                RunDiscrete(fixture, comparison);
                break;
            case ("emk-fixture/2", "online-gaussian-mixture"):
                RunOnline(fixture, comparison);
                break;
            case ("emk-fixture/2", "factor-analysis" or "ppca"):
                RunFactorAnalysis(fixture, comparison);
                break;
            case ("emk-fixture/2", "bayesian-linear-regression"):
                RunBayesianLinearRegression(fixture, comparison);
                break;
            case ("emk-fixture/2", "hmm"):
                RunHiddenMarkov(fixture, comparison);
                break;
            case ("emk-fixture/2", "gaussian-mixture-map"):
                RunGaussianMap(fixture, comparison);
                break;
            case ("emk-fixture/2", "bayesian-gaussian-mixture"):
                RunBayesianGaussianMixture(fixture, comparison);
                break;
            case ("emk-fixture/2", "mixture-of-regressions" or "mixture-of-experts"):
                RunRegressionMixture(fixture, comparison);
                break;
            case ("emk-fixture/2", "gaussian-mixture-parsimonious" or "gaussian-mixture-noise"):
                RunParsimonious(fixture, comparison);
                break;
            case ("emk-fixture/2", "mclust-hc"):
                RunHierarchical(fixture, comparison);
                break;
            case ("emk-fixture/2", "mclust-bic-table"):
                RunBicTable(fixture, comparison);
                break;
            case ("emk-fixture/2", "gaussian-mixture-missing"):
                RunMissing(fixture, comparison);
                break;
            case ("emk-fixture/2", var model):
                Skip.IfNot(ImplementedVersion2.Contains(model), $"{name}: the model '{model}' is not implemented yet.");
                throw new XunitException($"{name}: '{model}' is implemented but has no runner here.");
            default:
                throw new XunitException($"{name}: {fixture.Format} / {fixture.Model} is not a known fixture format and model.");
        }

        output.WriteLine($"{name}: worst |diff| / allowed = {comparison.WorstRatio:F4} at {comparison.WorstWhere}");
        if (comparison.Failures.Count > 0)
        {
            throw new XunitException($"{name}: {comparison.Failures.Count} mismatches (worst |diff|/allowed {comparison.WorstRatio:E2} at {comparison.WorstWhere}):\n" + string.Join("\n", comparison.Failures.Take(20)));
        }
    }

    [Fact]
    public void FixtureFolder_HoldsFixtures() => Assert.NotEmpty(Fixture.All());

    /// <summary>latent/ §7: EM with missing values marginalised, from the given start, for the listed iterations.</summary>
    private static void RunMissing(Fixture fixture, FixtureComparison comparison)
    {
        var options = new GaussianMixtureOptions
        {
            Components = fixture.Components,
            CovarianceType = fixture.Root.GetProperty("covariance_type").GetString() == "diag" ? CovarianceType.Diagonal : CovarianceType.Full,
            MaxIterations = fixture.Iterations,
            Tolerance = 0,
            RegCovar = fixture.Root.GetProperty("reg_covar").GetDouble(),
            InitialWeights = fixture.Init("weights"),
            InitialMeans = fixture.Init("means"),
            InitialCovariances = fixture.Init("covariances"),
            MissingValues = MissingValues.Marginalize,
            Seed = 0,
        };
        double[] x = fixture.Data;
        int n = fixture.Points, d = fixture.Features, head = Math.Min(n, 10);
        Assert.Contains(x, double.IsNaN);
        var model = new GaussianMixture<double>(options).Fit(x, n, d);
        Assert.Equal(fixture.Iterations, model.Iterations);
        comparison.Values("mean_log_likelihood", fixture.Expected("mean_log_likelihood"), model.MeanLogLikelihoodHistory);
        comparison.Values("weights", fixture.Expected("weights"), model.Weights);
        comparison.Values("means", fixture.Expected("means"), model.Means);
        comparison.Values("covariances", fixture.Expected("covariances"), model.Covariances);
        comparison.Values("responsibilities_head", fixture.Expected("responsibilities_head"), model.PredictProbabilities(x.AsSpan(0, head * d), head));
        comparison.Labels(fixture.Expected("labels"), model.Predict(x, n));
        comparison.Values("conditional_means_head", fixture.Expected("conditional_means_head"), model.Impute(x.AsSpan(0, head * d), head).Values);
    }

    private static void RunGaussian(Fixture fixture, FixtureComparison comparison)
    {
        var type = fixture.Root.GetProperty("covariance_type").GetString() switch
        {
            "full" => CovarianceType.Full,
            "tied" => CovarianceType.Tied,
            "diag" => CovarianceType.Diagonal,
            "spherical" => CovarianceType.Spherical,
            var other => throw new XunitException($"unknown covariance type {other}"),
        };
        var options = new GaussianMixtureOptions
        {
            Components = fixture.Components,
            CovarianceType = type,
            MaxIterations = fixture.Iterations,
            Tolerance = 0,
            RegCovar = fixture.Root.GetProperty("reg_covar").GetDouble(),
            InitialWeights = fixture.Init("weights"),
            InitialMeans = fixture.Init("means"),
            InitialCovariances = fixture.Init("covariances"),
            Seed = 0,
        };
        double[] x = fixture.Data;
        var model = new GaussianMixture<double>(options).Fit(x, fixture.Points, fixture.Features);
        Assert.Equal(fixture.Iterations, model.Iterations);
        comparison.Values("mean_log_likelihood", fixture.Expected("mean_log_likelihood"), model.MeanLogLikelihoodHistory);
        comparison.Values("weights", fixture.Expected("weights"), model.Weights);
        comparison.Values("means", fixture.Expected("means"), model.Means);
        comparison.Values("covariances", fixture.Expected("covariances"), model.Covariances);
        int head = Math.Min(fixture.Points, 10);
        comparison.Values("responsibilities_head", fixture.Expected("responsibilities_head"), model.PredictProbabilities(x.AsSpan(0, head * fixture.Features), head));
        comparison.Labels(fixture.Expected("labels"), model.Predict(x, fixture.Points));
    }

    /// <summary>
    /// latent/FORMAT.md §6: stepwise EM over the listed minibatches, s₀ implied by θ₀, γ_t = (t₀ + t)^−κ, θ_t = M(s_t);
    /// the full-data mean log-likelihood and the parameters at every epoch end.
    /// </summary>
    private static void RunOnline(Fixture fixture, FixtureComparison comparison)
    {
        var type = fixture.Root.GetProperty("covariance_type").GetString() == "full" ? CovarianceType.Full : CovarianceType.Diagonal;
        int n = fixture.Points, d = fixture.Features, k = fixture.Components;
        double[] x = fixture.Data;
        var family = GaussianComponents<double>.Create(type, k, d, fixture.Root.GetProperty("reg_covar").GetDouble());
        var mixture = new FiniteMixture<double>(family, MixtureInitialization.Current);
        mixture.SetWeights(fixture.Init("weights"));
        fixture.Init("means").CopyTo(family.Means);
        fixture.Init("covariances").CopyTo(family.Covariances);
        var data = new InMemoryDataSource<double>(x, n, d);
        long[][] batches = fixture.Batches("batches");
        var driver = new StepwiseExpectationMaximization<double>(mixture, new StepwiseOptions
        {
            Kappa = fixture.Root.GetProperty("kappa").GetDouble(),
            StepOffset = fixture.Root.GetProperty("t0").GetDouble(),
            BatchSize = batches.Max(b => b.Length),
            EvaluateEpochs = false,
        });
        int[] epochEnds = fixture.Integers("epoch_ends");
        var logLikelihoods = new List<double> { MeanLogLikelihood(mixture, data) };
        var weights = new List<double>();
        var means = new List<double>();
        var covariances = new List<double>();
        for (int t = 1; t <= batches.Length; t++)
        {
            driver.Step(data, batches[t - 1]);
            if (epochEnds.Contains(t))
            {
                logLikelihoods.Add(MeanLogLikelihood(mixture, data));
                weights.AddRange(mixture.Weights.ToArray());
                means.AddRange(family.Means.ToArray());
                covariances.AddRange(family.Covariances.ToArray());
            }
        }

        Assert.Equal(batches.Length, driver.Steps);
        comparison.Values("mean_log_likelihood", fixture.Expected("mean_log_likelihood"), logLikelihoods.ToArray());
        comparison.Values("epoch_weights", fixture.Expected("epoch_weights"), weights.ToArray());
        comparison.Values("epoch_means", fixture.Expected("epoch_means"), means.ToArray());
        comparison.Values("epoch_covariances", fixture.Expected("epoch_covariances"), covariances.ToArray());
        comparison.Values("weights", fixture.Expected("weights"), mixture.Weights);
        comparison.Values("means", fixture.Expected("means"), family.Means);
        comparison.Values("covariances", fixture.Expected("covariances"), family.Covariances);
        int head = Math.Min(n, 10);
        double[] responsibilities = new double[n * k];
        int[] labels = new int[n];
        ExpectationMaximization.Evaluate(mixture, data, null, responsibilities, labels);
        comparison.Values("responsibilities_head", fixture.Expected("responsibilities_head"), responsibilities.AsSpan(0, head * k));
        comparison.Labels(fixture.Expected("labels"), labels);
    }

    /// <summary>
    /// factor-analysis / ppca (latent/FORMAT.md §4): n EM iterations from the given W₀ and Ψ₀ (σ²₀), the mean
    /// log-likelihood at θ₀ … θₙ, μ, W, Ψ, and the posterior of z under θₙ.
    /// </summary>
    private static void RunFactorAnalysis(Fixture fixture, FixtureComparison comparison)
    {
        bool ppca = fixture.Model == "ppca";
        int n = fixture.Points, d = fixture.Features, q = fixture.Root.GetProperty("latent_dim").GetInt32();
        double[] x = fixture.Data;
        double[] noise = ppca ? Enumerable.Repeat(fixture.Init("sigma2")[0], d).ToArray() : fixture.Init("psi");
        var model = new FactorAnalysis<double>(new FactorAnalysisOptions
        {
            LatentDimensions = q,
            Noise = ppca ? FactorNoise.Isotropic : FactorNoise.Diagonal,
            MaxIterations = fixture.Iterations,
            Tolerance = 0,
            InitialLoadings = fixture.Init("W"),
            InitialNoiseVariances = noise,
        }).Fit(x, n, d);
        Assert.Equal(fixture.Iterations, model.Iterations);
        Assert.Empty(model.LikelihoodDecreases);
        comparison.Values("mean_log_likelihood", fixture.Expected("mean_log_likelihood"), model.MeanLogLikelihoodHistory);
        comparison.Values("mean", fixture.Expected("mean"), model.Mean);
        comparison.Values("W", fixture.Expected("W"), model.Loadings);
        if (ppca)
        {
            comparison.Values("sigma2", fixture.Expected("sigma2"), model.NoiseVariances[..1]);
        }
        else
        {
            comparison.Values("psi", fixture.Expected("psi"), model.NoiseVariances);
        }

        int head = Math.Min(n, 10);
        comparison.Values("posterior_means_head", fixture.Expected("posterior_means_head"), model.Transform(x.AsSpan(0, head * d), head));
        comparison.Values("posterior_covariance", fixture.Expected("posterior_covariance"), model.PosteriorCovariance());
    }

    /// <summary>
    /// bayesian-linear-regression (latent/FORMAT.md §5): n EM iterations on α and β from α₀, β₀; the evidence per
    /// sample and α, β after every iteration (a fit of t iterations for each t), and the posterior of w under (αₙ, βₙ).
    /// With an intercept, Φ's column of ones is left out of the data and the model adds it.
    /// </summary>
    private static void RunBayesianLinearRegression(Fixture fixture, FixtureComparison comparison)
    {
        JsonElement data = fixture.Root.GetProperty("data");
        int n = data.GetProperty("n").GetInt32(), m = data.GetProperty("m").GetInt32();
        bool intercept = fixture.Root.GetProperty("intercept").GetBoolean();
        double[] phi = data.GetProperty("phi").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        double[] y = data.GetProperty("y").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        int skip = intercept ? 1 : 0, p = m - skip;
        double[] x = new double[n * p];
        for (int i = 0; i < n; i++)
        {
            Assert.True(!intercept || phi[i * m] == 1, "An intercept fixture's first column is all ones.");
            Array.Copy(phi, i * m + skip, x, i * p, p);
        }

        BayesianLinearRegressionModel<double> Fit(int iterations) => new BayesianLinearRegression<double>(new BayesianLinearRegressionOptions
        {
            Intercept = intercept,
            MaxIterations = iterations,
            Tolerance = 0,
            InitialAlpha = fixture.Init("alpha")[0],
            InitialBeta = fixture.Init("beta")[0],
        }).Fit(x, y, n, p);

        var model = Fit(fixture.Iterations);
        Assert.Equal(fixture.Iterations, model.Iterations);
        Assert.Empty(model.LikelihoodDecreases);
        var traces = Enumerable.Range(0, fixture.Iterations + 1).Select(t => t == fixture.Iterations ? model : Fit(t)).ToArray();
        comparison.Values("log_evidence_per_sample", fixture.Expected("log_evidence_per_sample"), model.LogEvidenceHistory);
        comparison.Values("alpha_trace", fixture.Expected("alpha_trace"), traces.Select(t => t.Alpha).ToArray());
        comparison.Values("beta_trace", fixture.Expected("beta_trace"), traces.Select(t => t.Beta).ToArray());
        comparison.Values("alpha", fixture.Expected("alpha"), [model.Alpha]);
        comparison.Values("beta", fixture.Expected("beta"), [model.Beta]);
        comparison.Values("posterior_mean", fixture.Expected("posterior_mean"), model.Coefficients);
        double[] covariance = model.CoefficientCovariance.ToArray();
        comparison.Values("posterior_cov_diag", fixture.Expected("posterior_cov_diag"), Enumerable.Range(0, m).Select(i => covariance[i * m + i]).ToArray());
    }

    /// <summary>
    /// hmm (hmm/FORMAT.md §6): exactly n Baum–Welch iterations from θ₀ over the given sequences; L(θ₀) … L(θₙ), θₙ, the
    /// posteriors of the first observations, and the Viterbi paths and their total log-probability under θₙ.
    /// </summary>
    private static void RunHiddenMarkov(Fixture fixture, FixtureComparison comparison)
    {
        int n = fixture.Points, d = fixture.Features, k = fixture.Components;
        JsonElement data = fixture.Root.GetProperty("data");
        int[] lengths = data.GetProperty("lengths").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        string emission = fixture.Root.GetProperty("emission").GetString()!;
        ComponentFamily<double> family;
        string key;
        switch (emission)
        {
            case "gaussian":
            {
                var type = fixture.Root.GetProperty("covariance_type").GetString() == "full" ? CovarianceType.Full : CovarianceType.Diagonal;
                var gaussian = GaussianComponents<double>.Create(type, k, d, fixture.Root.GetProperty("reg_covar").GetDouble());
                fixture.Init("means").CopyTo(gaussian.Means);
                fixture.Init("covariances").CopyTo(gaussian.Covariances);
                family = gaussian;
                key = "covariances";
                break;
            }

            case "categorical":
                family = DiscreteComponents<double>.Create(DiscreteDistribution.Categorical, k, d, data.GetProperty("categories").GetInt32());
                fixture.Init("probs").CopyTo(family.Parameters);
                key = "probs";
                break;
            default:
                family = DiscreteComponents<double>.Create(DiscreteDistribution.Poisson, k, d);
                fixture.Init("rates").CopyTo(family.Parameters);
                key = "rates";
                break;
        }

        var model = new HiddenMarkovModel<double>(family, HiddenMarkovInitialization.Current);
        fixture.Init("startprob").CopyTo(model.StartProbabilities);
        fixture.Init("transmat").CopyTo(model.Transitions);
        double[] x = fixture.Data;
        var source = new SequenceDataSource<double>(new InMemoryDataSource<double>(x, n, d), lengths);
        ExpectationMaximizationResult result = ExpectationMaximization.Fit(model, source, new ExpectationMaximizationOptions { MaxIterations = fixture.Iterations, Tolerance = 0 });
        Assert.Equal(fixture.Iterations, result.Iterations);
        Assert.Empty(result.Decreases);
        comparison.Values("mean_log_likelihood", fixture.Expected("mean_log_likelihood"), result.ObjectiveHistory);
        comparison.Values("startprob", fixture.Expected("startprob"), model.StartProbabilities);
        comparison.Values("transmat", fixture.Expected("transmat"), model.Transitions);
        if (emission == "gaussian")
        {
            comparison.Values("means", fixture.Expected("means"), ((GaussianComponents<double>)family).Means);
            comparison.Values(key, fixture.Expected(key), ((GaussianComponents<double>)family).Covariances);
        }
        else
        {
            comparison.Values(key, fixture.Expected(key), family.Parameters);
        }

        double[] posteriors = new double[n * k];
        ExpectationMaximization.Evaluate(model, source, null, posteriors, null);
        int head = Math.Min(n, 10);
        comparison.Values("posteriors_head", fixture.Expected("posteriors_head"), posteriors.AsSpan(0, head * k));
        int[] path = new int[n];
        double best = model.Decode(x, n, lengths, path);
        comparison.Labels(fixture.Expected("viterbi"), path);
        comparison.Values("viterbi_log_probability", [fixture.Root.GetProperty("expected").GetProperty("viterbi_log_probability").GetDouble()], [best]);
    }

    /// <summary>
    /// gaussian-mixture-map (bayes/FORMAT.md §6): n MAP-EM iterations from θ₀ under the fixture's prior; the log-posterior
    /// per sample at θ₀ … θₙ is the fit's objective history, the log-likelihood at each θ_t an evaluation of the fit of t
    /// iterations.
    /// </summary>
    private static void RunGaussianMap(Fixture fixture, FixtureComparison comparison)
    {
        var type = fixture.Root.GetProperty("covariance_type").GetString() switch
        {
            "full" => CovarianceType.Full,
            "tied" => CovarianceType.Tied,
            "diag" => CovarianceType.Diagonal,
            _ => CovarianceType.Spherical,
        };
        int n = fixture.Points, d = fixture.Features, k = fixture.Components;
        JsonElement prior = fixture.Root.GetProperty("prior");
        double[] Numbers(string key) => prior.GetProperty(key).EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var gaussianPrior = new GaussianPrior(prior.GetProperty("shrinkage").GetDouble(), Numbers("mean"), prior.GetProperty("dof").GetDouble(), Numbers("scale"));
        var data = new InMemoryDataSource<double>(fixture.Data, n, d);
        (FiniteMixture<double> Mixture, GaussianComponents<double> Family, ExpectationMaximizationResult Result) Run(int iterations)
        {
            var family = GaussianComponents<double>.Create(type, k, d, 0);
            family.Prior = gaussianPrior;
            var mixture = new FiniteMixture<double>(family, MixtureInitialization.Current);
            mixture.SetWeights(fixture.Init("weights"));
            fixture.Init("means").CopyTo(family.Means);
            fixture.Init("covariances").CopyTo(family.Covariances);
            ExpectationMaximizationResult result = ExpectationMaximization.Fit(mixture, data, new ExpectationMaximizationOptions { MaxIterations = iterations, Tolerance = 0 });
            return (mixture, family, result);
        }

        (FiniteMixture<double> final, GaussianComponents<double> finalFamily, ExpectationMaximizationResult fit) = Run(fixture.Iterations);
        Assert.Empty(fit.Decreases);
        comparison.Values("mean_log_posterior", fixture.Expected("mean_log_posterior"), fit.ObjectiveHistory);
        double[] logLikelihoods = Enumerable.Range(0, fixture.Iterations + 1).Select(t => t == fixture.Iterations ? MeanLogLikelihood(final, data) : MeanLogLikelihood(Run(t).Mixture, data)).ToArray();
        comparison.Values("mean_log_likelihood", fixture.Expected("mean_log_likelihood"), logLikelihoods);
        comparison.Values("weights", fixture.Expected("weights"), final.Weights);
        comparison.Values("means", fixture.Expected("means"), finalFamily.Means);
        comparison.Values("covariances", fixture.Expected("covariances"), finalFamily.Covariances);
        int head = Math.Min(n, 10);
        double[] responsibilities = new double[n * k];
        int[] labels = new int[n];
        ExpectationMaximization.Evaluate(final, data, null, responsibilities, labels);
        comparison.Values("responsibilities_head", fixture.Expected("responsibilities_head"), responsibilities.AsSpan(0, head * k));
        comparison.Labels(fixture.Expected("labels"), labels);
    }

    /// <summary>
    /// bayes/FORMAT.md §5: the M-step of the given responsibilities, n iterations of the engine's batch driver, scikit-learn's
    /// bound after each M-step (read through the progress report, which runs between an M-step and the next E-step).
    /// </summary>
    private static void RunBayesianGaussianMixture(Fixture fixture, FixtureComparison comparison)
    {
        var type = fixture.Root.GetProperty("covariance_type").GetString() switch
        {
            "full" => CovarianceType.Full,
            "tied" => CovarianceType.Tied,
            "diag" => CovarianceType.Diagonal,
            _ => CovarianceType.Spherical,
        };
        var weightPrior = fixture.Root.GetProperty("weight_concentration_prior_type").GetString() == "dirichlet_process"
            ? WeightPrior.DirichletProcess : WeightPrior.DirichletDistribution;
        int n = fixture.Points, d = fixture.Features, k = fixture.Components;
        JsonElement prior = fixture.Root.GetProperty("prior");
        double[] Numbers(string key) => prior.GetProperty(key).EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var bayesianPrior = new BayesianMixturePrior(
            prior.GetProperty("weight_concentration_prior").GetDouble(), prior.GetProperty("mean_precision_prior").GetDouble(), Numbers("mean_prior"),
            prior.GetProperty("degrees_of_freedom_prior").GetDouble(), Numbers("covariance_prior"));
        var model = new VariationalGaussianMixture<double>(type, k, d, weightPrior, bayesianPrior, fixture.Root.GetProperty("reg_covar").GetDouble())
        {
            InitialResponsibilities = fixture.Init("responsibilities"),
        };
        var data = new InMemoryDataSource<double>(fixture.Data, n, d);
        var bounds = new List<double>();
        ExpectationMaximizationResult result = ExpectationMaximization.Fit(model, data, new ExpectationMaximizationOptions
        {
            MaxIterations = fixture.Iterations,
            Tolerance = 0,
            Progress = new Inline(_ => bounds.Add(model.ScikitLearnLowerBound())),
        });
        Assert.Equal(fixture.Iterations, result.Iterations);
        Assert.Empty(result.Decreases);
        comparison.Values("lower_bound", fixture.Expected("lower_bound"), bounds.ToArray());
        comparison.Values("lower_bound_per_sample", fixture.Expected("lower_bound_per_sample"), bounds.Select(b => b / n).ToArray());
        comparison.Values("weight_concentration", fixture.Expected("weight_concentration"), model.WeightConcentrations());
        comparison.Values("weights", fixture.Expected("weights"), model.ExpectedWeights());
        comparison.Values("mean_precision", fixture.Expected("mean_precision"), Enumerable.Range(0, k).Select(model.MeanPrecision).ToArray());
        comparison.Values("means", fixture.Expected("means"), model.Means);
        comparison.Values("degrees_of_freedom", fixture.Expected("degrees_of_freedom"), Enumerable.Range(0, type == CovarianceType.Tied ? 1 : k).Select(model.DegreesOfFreedom).ToArray());
        comparison.Values("covariances", fixture.Expected("covariances"), model.Covariances);
        int head = Math.Min(n, 10);
        double[] responsibilities = new double[n * k];
        int[] labels = new int[n];
        ExpectationMaximization.Evaluate(model, data, null, responsibilities, labels);
        comparison.Values("responsibilities_head", fixture.Expected("responsibilities_head"), responsibilities.AsSpan(0, head * k));
        comparison.Labels(fixture.Expected("labels"), labels);
    }

    /// <summary>A progress sink called on the reporting thread (Progress&lt;T&gt; posts to a context instead).</summary>
    private sealed class Inline(Action<FitProgress> action) : IProgress<FitProgress>
    {
        public void Report(FitProgress value) => action(value);
    }

    /// <summary>latent/FORMAT.md §8: n iterations of the estimator from θ₀ (its design already holds the intercept column).</summary>
    private static void RunRegressionMixture(Fixture fixture, FixtureComparison comparison)
    {
        bool experts = fixture.Model == "mixture-of-experts";
        JsonElement data = fixture.Root.GetProperty("data");
        int n = data.GetProperty("n").GetInt32(), p = data.GetProperty("p").GetInt32(), k = fixture.Components;
        double[] x = data.GetProperty("x").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        double[] y = data.GetProperty("y").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        string gate = experts ? "gating" : "weights";
        var options = new RegressionMixtureOptions
        {
            Components = k, Intercept = false, MaxIterations = fixture.Iterations, Tolerance = 0,
            InitialGate = fixture.Init(gate), InitialCoefficients = fixture.Init("coefficients"), InitialVariances = fixture.Init("variances"),
        };
        RegressionMixtureModel<double> fit = experts ? new MixtureOfExperts<double>(options).Fit(x, y, n, p) : new MixtureOfRegressions<double>(options).Fit(x, y, n, p);
        Assert.Equal(fixture.Iterations, fit.Iterations);
        comparison.Values("mean_log_likelihood", fixture.Expected("mean_log_likelihood"), fit.MeanLogLikelihoodHistory);
        comparison.Values(gate, fixture.Expected(gate), fit.Gate);
        comparison.Values("coefficients", fixture.Expected("coefficients"), fit.Coefficients);
        comparison.Values("variances", fixture.Expected("variances"), fit.Variances);
        int head = Math.Min(n, 10);
        if (experts)
        {
            comparison.Values("gate_probabilities_head", fixture.Expected("gate_probabilities_head"), fit.GateProbabilities(x.AsSpan(0, head * p), head));
        }

        double[] responsibilities = new double[n * k];
        int[] labels = new int[n];
        fit.Evaluate(x, y, n, null, responsibilities, labels);
        comparison.Values("responsibilities_head", fixture.Expected("responsibilities_head"), responsibilities.AsSpan(0, head * k));
        comparison.Labels(fixture.Expected("labels"), labels);
    }

    /// <summary>mclust/FORMAT.md §7: n iterations of estep/mstep of the parameterization (with the noise component, Vinv given) from θ₀.</summary>
    private static void RunParsimonious(Fixture fixture, FixtureComparison comparison)
    {
        var model = Enum.Parse<ParsimoniousModel>(fixture.Root.GetProperty("mclust_model").GetString()!);
        bool noise = fixture.Model == "gaussian-mixture-noise";
        int n = fixture.Points, d = fixture.Features, g = fixture.Components;
        double? logNoise = noise ? Math.Log(fixture.Root.GetProperty("Vinv").GetDouble()) : null;
        var family = new ParsimoniousComponents<double>(model, g, d, logNoise) { WarmStartInnerIterations = false }; // estep/mstep, not me()
        var mixture = new FiniteMixture<double>(family, MixtureInitialization.Current);
        mixture.SetWeights(fixture.Init("weights"));
        fixture.Init("means").CopyTo(family.Means);
        fixture.Init("covariances").CopyTo(family.Covariances);
        var data = new InMemoryDataSource<double>(fixture.Data, n, d);
        ExpectationMaximizationResult result = ExpectationMaximization.Fit(mixture, data, new ExpectationMaximizationOptions { MaxIterations = fixture.Iterations, Tolerance = 0 });
        comparison.Values("mean_log_likelihood", fixture.Expected("mean_log_likelihood"), result.ObjectiveHistory);
        comparison.Values("weights", fixture.Expected("weights"), mixture.Weights);
        comparison.Values("means", fixture.Expected("means"), family.Means[..(g * d)]);
        comparison.Values("covariances", fixture.Expected("covariances"), family.Covariances[..(g * d * d)]);
        (double[] scale, double[] shape, double[] orientation) = CanonicalDecomposition(model, family.Covariances[..(g * d * d)].ToArray(), g, d);
        comparison.Values("scale", fixture.Expected("scale"), scale);
        comparison.Values("shape", fixture.Expected("shape"), shape);
        comparison.Values("orientation", fixture.Expected("orientation"), orientation);
        int k = mixture.Components, head = Math.Min(n, 10);
        double[] responsibilities = new double[n * k];
        int[] labels = new int[n];
        ExpectationMaximization.Evaluate(mixture, data, null, responsibilities, labels);
        comparison.Values("responsibilities_head", fixture.Expected("responsibilities_head"), responsibilities.AsSpan(0, head * k));
        comparison.Labels(fixture.Expected("labels"), labels);
        if (noise)
        {
            (double box, double principal) = ParsimoniousComponents<double>.LogHypervolume(fixture.Data, n, d);
            comparison.Values("log_hypervolumes", fixture.Expected("log_hypervolumes"), [box, principal]);
        }
    }

    /// <summary>mclust/FORMAT.md §4.2: the unique (scale, shape, orientation) of each covariance, by the parameterization's family.</summary>
    private static (double[] Scale, double[] Shape, double[] Orientation) CanonicalDecomposition(ParsimoniousModel model, double[] covariances, int g, int d)
    {
        double[] scale = new double[g], shape = new double[g * d], orientation = new double[g * d * d];
        string name = model.ToString();
        for (int k = 0; k < g; k++)
        {
            double[] sigma = covariances.AsSpan(k * d * d, d * d).ToArray();
            double[] values = new double[d], vectors = new double[d * d];
            if (name.EndsWith('I') || d == 1)
            {
                for (int j = 0; j < d; j++)
                {
                    values[j] = sigma[j * d + j];
                    vectors[j * d + j] = 1;
                }

                if (name is "EII" or "VII" or "E" or "V")
                {
                    Array.Fill(values, sigma[0]);
                }
            }
            else
            {
                Numerics.DenseMatrix.SymmetricEigen(sigma, d, values, vectors);
                int[] order = Enumerable.Range(0, d).OrderByDescending(j => values[j]).ToArray();
                double[] sorted = order.Select(j => values[j]).ToArray(), columns = new double[d * d];
                for (int c = 0; c < d; c++)
                {
                    int largest = 0;
                    for (int r = 0; r < d; r++)
                    {
                        if (Math.Abs(vectors[r * d + order[c]]) > Math.Abs(vectors[largest * d + order[c]]))
                        {
                            largest = r;
                        }
                    }

                    double sign = vectors[largest * d + order[c]] < 0 ? -1 : 1;
                    for (int r = 0; r < d; r++)
                    {
                        columns[r * d + c] = sign * vectors[r * d + order[c]];
                    }
                }

                values = sorted;
                vectors = columns;
            }

            double lambda = name is "EII" or "VII" or "E" or "V" ? values[0] : Math.Exp(values.Average(Math.Log));
            scale[k] = lambda;
            for (int j = 0; j < d; j++)
            {
                shape[k * d + j] = name is "EII" or "VII" or "E" or "V" ? 1 : values[j] / lambda;
            }

            vectors.CopyTo(orientation, k * d * d);
        }

        return (scale, shape, orientation);
    }

    /// <summary>mclust/FORMAT.md §9: hcVVV on the SVD-transformed data, as mclust 6.0.0 computes it (its stored-factor determinants).</summary>
    private static void RunHierarchical(Fixture fixture, FixtureComparison comparison)
    {
        int n = fixture.Points, d = fixture.Features;
        HierarchicalAgglomeration hc = HierarchicalAgglomeration.Vvv(fixture.Data, n, d);
        comparison.Values("transformed_data", fixture.Expected("transformed_data"), hc.TransformedData.ToArray());
        comparison.Values("alpha", fixture.Expected("alpha"), [hc.Alpha]);
        comparison.Labels(fixture.Expected("merges"), Enumerable.Range(0, n - 1).SelectMany(t => new[] { hc.Merge(t).A, hc.Merge(t).B }).ToArray());
        comparison.Values("merge_costs", fixture.Expected("merge_costs"), hc.MergeCosts.ToArray());
        comparison.Labels(fixture.Expected("partitions"), Enumerable.Range(1, 9).SelectMany(hc.Partition).ToArray());
    }

    /// <summary>
    /// mclust/FORMAT.md §8: Mclust(x, G = 1:9): every (G, model) by me() — EM from the agglomeration's (D = 1: qclass's) partition,
    /// the iterative M-steps warm-started, stopping on the relative change 1e-5, the loglik of the last E-step — a cell failing
    /// mclust's tests null; the best by BIC, its ICL and classification.
    /// </summary>
    private static void RunBicTable(Fixture fixture, FixtureComparison comparison)
    {
        int n = fixture.Points, d = fixture.Features;
        double[] x = fixture.Data;
        string[] names = fixture.Root.GetProperty("settings").GetProperty("model_names").EnumerateArray().Select(e => e.GetString()!).ToArray();
        int models = names.Length;
        var data = new InMemoryDataSource<double>(x, n, d);
        HierarchicalAgglomeration? hc = d > 1 ? HierarchicalAgglomeration.Vvv(x, n, d) : null;
        int[][] partitions = Enumerable.Range(0, 10).Select(g => g < 2 ? new int[n] : hc?.Partition(g) ?? HierarchicalStart.QuantileClasses(x, g)).ToArray();
        comparison.Labels(fixture.Expected("init_partitions"), partitions[2..].SelectMany(p => p).ToArray());

        var cells = new (double? Loglik, int Parameters, int Iterations)[9 * models];
        for (int g = 1; g <= 9; g++)
        {
            for (int m = 0; m < models; m++)
            {
                var model = Enum.Parse<ParsimoniousModel>(names[m]);
                (FiniteMixture<double> mixture, ParsimoniousComponents<double> family, ExpectationMaximizationResult result) = Me(model, g, 2000); // mclust's longest here: 169
                bool failed = family.MclustFailure is not null || result.Reseeds.Length > 0 || !result.Converged;
                int parameters = ParsimoniousComponents<double>.CovarianceParameterCount(model, g, d) + (g * d) + g - 1;
                cells[(g - 1) * models + m] = (failed ? null : result.ObjectiveHistory[^2] * n, parameters, result.Iterations);
            }
        }

        (FiniteMixture<double>, ParsimoniousComponents<double>, ExpectationMaximizationResult) Me(ParsimoniousModel model, int g, int iterations)
        {
            var family = new ParsimoniousComponents<double>(model, g, d);
            var mixture = new FiniteMixture<double>(family) { InitialPartition = partitions[g] };
            ExpectationMaximizationResult result = ExpectationMaximization.Fit(mixture, data, new ExpectationMaximizationOptions
            {
                MaxIterations = iterations, Tolerance = 1e-5, StoppingRule = StoppingRule.RelativeChange,
            });
            return (mixture, family, result);
        }

        double Bic(int i) => (2 * cells[i].Loglik!.Value) - (cells[i].Parameters * Math.Log(n));
        JsonElement expected = fixture.Root.GetProperty("expected");
        double?[] expectedBic = expected.GetProperty("bic").EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Null ? (double?)null : e.GetDouble()).ToArray();
        int[] nulls = Enumerable.Range(0, cells.Length).Where(i => expectedBic[i] is null).ToArray();
        int[] ours = Enumerable.Range(0, cells.Length).Where(i => cells[i].Loglik is null).ToArray();
        Assert.True(nulls.SequenceEqual(ours), $"null cells: expected {string.Join(", ", nulls)}, got {string.Join(", ", ours)}");
        int[] live = Enumerable.Range(0, cells.Length).Where(i => expectedBic[i] is not null && cells[i].Loglik is not null).ToArray();
        comparison.Values("bic", live.Select(i => expectedBic[i]!.Value).ToArray(), live.Select(Bic).ToArray());
        double?[] expectedLoglik = expected.GetProperty("loglik").EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Null ? (double?)null : e.GetDouble()).ToArray();
        comparison.Values("loglik", live.Select(i => expectedLoglik[i]!.Value).ToArray(), live.Select(i => cells[i].Loglik!.Value).ToArray());
        comparison.Labels(fixture.Expected("n_params"), cells.Select(c => c.Parameters).ToArray());

        // The best cell: the largest BIC, ties by G as a string, then the model's name (mclust's pickBIC).
        int[] order = Enumerable.Range(0, cells.Length).Where(i => cells[i].Loglik is not null)
            .OrderByDescending(Bic).ThenBy(i => ((i / models) + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparer.Ordinal).ThenBy(i => names[i % models], StringComparer.Ordinal).ToArray();
        int best = order[0];
        Assert.Equal(expected.GetProperty("best_model").GetString(), names[best % models]);
        Assert.Equal(expected.GetProperty("best_G").GetInt32(), (best / models) + 1);
        Assert.Equal(expected.GetProperty("top3_models").EnumerateArray().Select(e => e.GetString()), order.Take(3).Select(i => names[i % models]));
        comparison.Labels(fixture.Expected("top3_G"), order.Take(3).Select(i => (i / models) + 1).ToArray());
        comparison.Values("top3_bic", fixture.Expected("top3_bic"), order.Take(3).Select(Bic).ToArray());
        comparison.Values("best_bic", fixture.Expected("best_bic"), [Bic(best)]);
        comparison.Values("best_loglik", fixture.Expected("best_loglik"), [cells[best].Loglik!.Value]);

        // Its z: the E-step of the reported loglik, under the parameters one M-step before the run's last.
        int bestG = (best / models) + 1;
        (FiniteMixture<double> refit, _, _) = Me(Enum.Parse<ParsimoniousModel>(names[best % models]), bestG, cells[best].Iterations - 1);
        double[] z = new double[n * bestG];
        int[] labels = new int[n];
        ExpectationMaximization.Evaluate(refit, data, null, z, labels);
        double entropy = Enumerable.Range(0, n).Sum(i => Math.Log(Enumerable.Range(0, bestG).Max(k => z[i * bestG + k])));
        comparison.Values("icl", fixture.Expected("icl"), [Bic(best) + (2 * entropy)]);
        comparison.Labels(fixture.Expected("labels"), labels);
        comparison.Values("responsibilities_head", fixture.Expected("responsibilities_head"), z.AsSpan(0, Math.Min(n, 10) * bestG));
    }

    private static double MeanLogLikelihood(FiniteMixture<double> mixture, InMemoryDataSource<double> data)
    {
        double[] perPoint = new double[data.Points];
        ExpectationMaximization.Evaluate(mixture, data, perPoint, null, null);
        return perPoint.Average();
    }

    private static void RunDiscrete(Fixture fixture, FixtureComparison comparison)
    {
        string key = fixture.Model == "poisson-mixture" ? "rates" : "probs";
        var options = new DiscreteMixtureOptions
        {
            Components = fixture.Components,
            MaxIterations = fixture.Iterations,
            Tolerance = 0,
            Smoothing = fixture.Root.GetProperty("smoothing").GetDouble(),
            InitialWeights = fixture.Init("weights"),
            InitialParameters = fixture.Init(key),
            Seed = 0,
        };
        double[] x = fixture.Data;
        int n = fixture.Points, d = fixture.Features;
        var data = fixture.Root.GetProperty("data");
        DiscreteMixtureModel<double> model = fixture.Model switch
        {
            "bernoulli-mixture" => new BernoulliMixture<double>(options).Fit(x, n, d),
            "categorical-mixture" => new CategoricalMixture<double>(data.GetProperty("categories").GetInt32(), options).Fit(x, n, d),
            "binomial-mixture" => new BinomialMixture<double>(data.GetProperty("trials").GetInt32(), options).Fit(x, n, d),
            _ => new PoissonMixture<double>(options).Fit(x, n, d),
        };
        Assert.Equal(fixture.Iterations, model.Iterations);
        comparison.Values("mean_log_likelihood", fixture.Expected("mean_log_likelihood"), model.MeanLogLikelihoodHistory);
        comparison.Values("weights", fixture.Expected("weights"), model.Weights);
        comparison.Values(key, fixture.Expected(key), model.Parameters);
        int head = Math.Min(n, 10);
        comparison.Values("responsibilities_head", fixture.Expected("responsibilities_head"), model.PredictProbabilities(x.AsSpan(0, head * d), head));
        comparison.Labels(fixture.Expected("labels"), model.Predict(x, n));
    }
}
