using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using EmKernels.Cli;
using EmKernels.Engine;
using EmKernels.Mixtures;
using EmKernels.Tests.Infrastructure;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// End to end: the emk program (in-process through Emk.Run, and once as a real process) on the fixtures'
/// real data, compared with the library's own fit of the same data and options; and every kind of bad input.
/// </summary>
public sealed class CliTests : IDisposable
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("emk-cli-tests-");

    public void Dispose() => _folder.Delete(recursive: true);

    [Fact]
    public void EmbeddedDataAreTheFaithfulFixturesData()
    {
        DataTable embedded = DataTable.Read(null);
        Assert.Equal(["eruptions", "waiting"], embedded.Columns);
        Assert.Equal(Fixture.Load(FixturePath("faithful-full-k2")).Data, embedded.Values);
    }

    [Fact]
    public void FitOnTheEmbeddedDataMatchesTheLibrary()
    {
        double[] data = Fixture.Load(FixturePath("faithful-full-k2")).Data;
        CliRun run = Run("fit", "-o", PathOf("m.json"));
        Assert.Equal(0, run.Exit);
        Assert.Equal("", run.Error);
        var expected = new GaussianMixture<double>(new GaussianMixtureOptions { Components = 2, Seed = 0 }).Fit(data, 272, 2);
        JsonElement model = ReadModel(PathOf("m.json"));
        AssertModelEquals(expected, model);
        Assert.Equal(expected.Bic(data, 272), model.GetProperty("bic").GetDouble(), 1e-9);
        Assert.Equal(expected.Aic(data, 272), model.GetProperty("aic").GetDouble(), 1e-9);

        // The summary shows what the model file holds.
        Assert.Contains("Gaussian mixture, K = 2, full covariance", run.Output);
        Assert.Contains(Format.Fixed(expected.Weights[0], 4), run.Output);
        Assert.Contains(Format.Fixed(expected.Bic(data, 272), 2), run.Output);
        Assert.Contains("converged            yes", run.Output);
    }

    [Theory]
    [InlineData("full", "per-component")]
    [InlineData("diag", "shared")]
    [InlineData("spherical", "fixed")]
    public void TMixtureFitMatchesTheLibrary_AndItsModelFilePredictsAndScores(string covariance, string estimate)
    {
        double[] data = Fixture.Load(FixturePath("iris-full-k3")).Data;
        string csv = CsvOf(data, 4, ["sepal length", "sepal width", "petal length", "petal width"]);
        CliRun run = Run("fit", csv, "--model", "t", "-k", "3", "--covariance", covariance, "--nu", "6", "--nu-estimate", estimate, "--seed", "4", "-o", PathOf("t.json"));
        Assert.True(run.Exit == 0, run.Error);
        var expected = new StudentTMixture<double>(new StudentTMixtureOptions
        {
            Components = 3, CovarianceType = Names.Covariance(covariance, "test"), DegreesOfFreedom = 6, DegreesOfFreedomEstimate = Names.NuEstimate(estimate), Seed = 4,
        }).Fit(data, 150, 4);
        JsonElement model = ReadModel(PathOf("t.json"));
        Assert.Equal("t", model.GetProperty("model").GetString());
        double[] Numbers(string name) => model.GetProperty(name).EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(expected.Weights.ToArray(), Numbers("weights"));
        Assert.Equal(expected.Means.ToArray(), Numbers("means"));
        Assert.Equal(expected.Scales.ToArray(), Numbers("covariances"));
        Assert.Equal(expected.DegreesOfFreedom.ToArray(), Numbers("degrees_of_freedom"));
        if (estimate == "fixed")
        {
            Assert.All(Numbers("degrees_of_freedom"), nu => Assert.Equal(6, nu));
        }

        Assert.Equal(expected.MeanLogLikelihood, model.GetProperty("mean_log_likelihood").GetDouble(), 1e-12);
        Assert.Contains("t mixture, K = 3", run.Output);

        // The model file evaluates as the library's model: labels and per-point log-densities.
        CliRun predicted = Run("predict", PathOf("t.json"), csv, "-o", PathOf("labels.csv"));
        Assert.True(predicted.Exit == 0, predicted.Error);
        int[] labels = Lines(File.ReadAllText(PathOf("labels.csv"))).Skip(1).Select(l => int.Parse(l.Split(',')[0], Invariant)).ToArray();
        Assert.Equal(expected.Predict(data, 150), labels);
        CliRun scored = Run("score", PathOf("t.json"), csv);
        Assert.True(scored.Exit == 0, scored.Error);
        Assert.Equal(expected.ScoreSamples(data, 150).Average(), double.Parse(Lines(scored.Output)[^1], Invariant), 1e-12);
    }

    [Fact]
    public void MissingValues_AreMarginalisedAndImputed_AsTheLibraryDoes()
    {
        // iris with a missing-value pattern: empty cells, NA and NaN all read as missing.
        double[] data = Fixture.Load(FixturePath("iris-full-k3")).Data;
        double[] withMissing = (double[])data.Clone();
        var text = new StringBuilder("sl,sw,pl,pw\n");
        var random = new Random(8);
        string[] spellings = ["", "NA", "NaN"];
        for (int i = 0; i < 150; i++)
        {
            int hidden = i % 4 == 0 ? random.Next(4) : -1;
            if (hidden >= 0)
            {
                withMissing[(i * 4) + hidden] = double.NaN;
            }

            text.AppendLine(string.Join(",", Enumerable.Range(0, 4).Select(j => j == hidden ? spellings[i % 3] : data[(i * 4) + j].ToString("R", Invariant))));
        }

        string csv = PathOf("missing.csv");
        File.WriteAllText(csv, text.ToString());
        Assert.Contains("missing values are not supported", Run("fit", csv, "-k", "3").Error);

        CliRun run = Run("fit", csv, "-k", "3", "--missing", "marginalize", "--seed", "2", "-o", PathOf("m.json"));
        Assert.True(run.Exit == 0, run.Error);
        var expected = new GaussianMixture<double>(new GaussianMixtureOptions { Components = 3, Seed = 2, MissingValues = MissingValues.Marginalize }).Fit(withMissing, 150, 4);
        AssertModelEquals(expected, ReadModel(PathOf("m.json")));

        CliRun imputed = Run("impute", PathOf("m.json"), csv, "--variances", "-o", PathOf("completed.csv"));
        Assert.True(imputed.Exit == 0, imputed.Error);
        string[] lines = Lines(File.ReadAllText(PathOf("completed.csv")));
        Assert.Equal("sl,sw,pl,pw,var sl,var sw,var pl,var pw", lines[0]);
        (double[] values, double[] variances) = expected.Impute(withMissing, 150);
        for (int i = 0; i < 150; i++)
        {
            double[] row = lines[i + 1].Split(',').Select(c => double.Parse(c, Invariant)).ToArray();
            Assert.Equal(values.AsSpan(i * 4, 4).ToArray(), row[..4]);
            Assert.Equal(variances.AsSpan(i * 4, 4).ToArray(), row[4..]);
        }

        CliRun predicted = Run("predict", PathOf("m.json"), csv, "-o", PathOf("labels.csv"));
        Assert.True(predicted.Exit == 0, predicted.Error);
        Assert.Equal(expected.Predict(withMissing, 150), Lines(File.ReadAllText(PathOf("labels.csv"))).Skip(1).Select(l => int.Parse(l.Split(',')[0], Invariant)).ToArray());
        Assert.Contains("--plot", Run("fit", csv, "--missing", "marginalize", "--plot", PathOf("p.svg")).Error);
    }

    [Fact]
    public void Select_LeavesOutTheCellsMclustReportsAsNA_AndPicksMclustsModel()
    {
        // mclust/iris-bic-table: Mclust(iris, G = 1:9) has NA for VEE (G 5, 7, 9) and EVV (G 5, 6), and picks VEV, G = 2.
        var fixture = Fixture.Load(FixturePath("mclust/iris-bic-table"));
        string csv = CsvOf(fixture.Data, 4, ["a", "b", "c", "d"]);
        CliRun run = Run("select", csv, "-k", "1..9", "--table", PathOf("table.csv"));
        Assert.True(run.Exit == 0, run.Error);
        Assert.Contains("best: Gaussian mixture, K = 2, mclust's VEV", run.Output);
        string[] names = fixture.Root.GetProperty("settings").GetProperty("model_names").EnumerateArray().Select(e => e.GetString()!).ToArray();
        JsonElement bic = fixture.Root.GetProperty("expected").GetProperty("bic");
        var expected = Enumerable.Range(0, bic.GetArrayLength()).Where(i => bic[i].ValueKind == JsonValueKind.Null).Select(i => $"{names[i % names.Length]},{(i / names.Length) + 1}").Order().ToArray();
        var na = Lines(File.ReadAllText(PathOf("table.csv"))).Skip(1).Where(l => l.EndsWith('"')).Select(l => string.Join(",", l.Split(',').Take(2))).Order().ToArray();
        Assert.Equal(expected, na);
        Assert.Contains("NA: a fit mclust reports as NA", run.Output);
    }

    [Fact]
    public void SelectWithNoise_MatchesMclustsTable_AndTheModelFileEvaluatesAsTheLibrary()
    {
        // Reference/mclust/noise-faithful.json: Mclust(X, G = 1:5, modelNames, initialization = list(noise = flags)).
        JsonElement reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Reference", "mclust", "noise-faithful.json"))).RootElement;
        double[] x = reference.GetProperty("data").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        bool[] flags = reference.GetProperty("initial_noise").EnumerateArray().Select(e => e.GetBoolean()).ToArray();
        int n = flags.Length;
        string csv = CsvOf(x, 2, ["eruptions", "waiting"]);
        File.WriteAllLines(PathOf("noise.csv"), ["noise", .. flags.Select(f => f ? "TRUE" : "FALSE")]); // as R's write.csv gives them
        string[] models = reference.GetProperty("models").EnumerateArray().Select(e => e.GetString()!).ToArray();
        CliRun run = Run("select", csv, "--noise-init", PathOf("noise.csv"), "-k", "1..5", "--covariance", string.Join(",", models), "--reg-covar", "0", "--table", PathOf("table.csv"), "-o", PathOf("best.json"));
        Assert.True(run.Exit == 0, run.Error);
        Assert.Contains($"best: Gaussian mixture, K = {reference.GetProperty("best_G").GetInt32()}, mclust's {reference.GetProperty("best_model").GetString()} and mclust's noise component", run.Output);

        // Every BIC (emk's sign is −mclust's; no --reg-covar, as mclust), of the parameters emk returns: mclust's fit and one
        // more of its EM steps ("bic_next"; mclust's own BIC is of the parameters one M-step before).
        double[] expected = reference.GetProperty("bic_next").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        string[] rows = Lines(File.ReadAllText(PathOf("table.csv"))).Skip(1).ToArray();
        Assert.Equal(expected.Length, rows.Length);
        foreach (string line in rows)
        {
            string[] cells = line.Split(',');
            int g = int.Parse(cells[1], Invariant), m = Array.IndexOf(models, cells[0]);
            double want = -expected[((g - 1) * models.Length) + m];
            Assert.True(Math.Abs(double.Parse(cells[5], Invariant) - want) <= 1e-8 * Math.Abs(want), $"{cells[0]},{g}: {cells[5]} vs {want}");
        }

        // The model file holds the noise component and evaluates as the library's model of its parameters.
        JsonElement model = ReadModel(PathOf("best.json"));
        double logDensity = model.GetProperty("noise_log_density").GetDouble();
        Assert.Equal(-reference.GetProperty("log_hypervolume").GetDouble(), logDensity, 1e-12);
        var library = GaussianMixtureModel<double>.FromNoiseParameters(
            Enum.Parse<ParsimoniousModel>(model.GetProperty("covariance_type").GetString()!), logDensity, 2, Numbers(model, "weights"), Numbers(model, "means"), Numbers(model, "covariances"), 0);
        CliRun predicted = Run("predict", PathOf("best.json"), csv, "--proba", "-o", PathOf("labels.csv"));
        Assert.True(predicted.Exit == 0, predicted.Error);
        string[] labelRows = Lines(File.ReadAllText(PathOf("labels.csv")));
        Assert.Equal(library.Components + 1, labelRows[0].Split(',').Length);
        Assert.Equal(library.Predict(x, n), labelRows.Skip(1).Select(l => int.Parse(l.Split(',')[0], Invariant)).ToArray());
        int bestG = reference.GetProperty("best_G").GetInt32();
        Assert.Equal(
            reference.GetProperty("best_next_classification").EnumerateArray().Select(e => e.GetInt32() == 0 ? bestG : e.GetInt32() - 1),
            labelRows.Skip(1).Select(l => int.Parse(l.Split(',')[0], Invariant)));

        // Bad noise input: one line on stderr, exit 2, nothing written.
        File.WriteAllLines(PathOf("short.csv"), flags.Take(10).Select(f => f ? "1" : "0"));
        AssertBadInput(Run("fit", csv, "--noise-init", PathOf("short.csv")), "has 10 flags; the data have 312 rows");
        File.WriteAllLines(PathOf("bad.csv"), ["1", "maybe"]);
        AssertBadInput(Run("fit", csv, "--noise-init", PathOf("bad.csv")), "line 2: 'maybe' is not a flag");
        AssertBadInput(Run("fit", csv, "--noise", "--prior"), "--noise adds mclust's noise component");
        File.WriteAllLines(PathOf("flat.csv"), ["a,b", .. Enumerable.Range(0, 20).Select(i => $"1,{i}")]);
        AssertBadInput(Run("fit", PathOf("flat.csv"), "--noise"), "flat.csv: The rows span no volume");
        File.WriteAllLines(PathOf("all.csv"), flags.Select(_ => "1"));
        AssertBadInput(Run("fit", csv, "--noise-init", PathOf("all.csv"), "-o", PathOf("none.json")), "start outside the noise component");
        Assert.False(File.Exists(PathOf("none.json")));
    }

    [Fact]
    public void MonteCarloFitMatchesTheLibrary()
    {
        double[] data = Fixture.Load(FixturePath("faithful-full-k2")).Data;
        CliRun run = Run("fit", "--monte-carlo", "8:1.5:500", "--max-iter", "20", "--tol", "0", "-o", PathOf("mc.json"));
        Assert.True(run.Exit == 0, run.Error);
        var mixture = new FiniteMixture<double>(GaussianComponents<double>.Create(CovarianceType.Full, 2, 2));
        ExpectationMaximizationResult result = ExpectationMaximization.Fit(mixture, new InMemoryDataSource<double>(data, 272, 2), new ExpectationMaximizationOptions
        {
            MaxIterations = 20, Tolerance = 0, Seed = 0, MonteCarlo = new MonteCarloSchedule { InitialSamples = 8, Growth = 1.5, MaxSamples = 500 },
        });
        JsonElement model = ReadModel(PathOf("mc.json"));
        Assert.Equal(((GaussianComponents<double>)mixture.Family).Means.ToArray(), model.GetProperty("means").EnumerateArray().Select(e => e.GetDouble()).ToArray());
        Assert.Equal(result.Objective, model.GetProperty("mean_log_likelihood").GetDouble());
        Assert.Contains("8 → 500 draws per point", run.Output);
        Assert.Equal("8:1.5:500", model.GetProperty("options").GetProperty("monte_carlo").GetString());
        Assert.Contains("--monte-carlo", Run("fit", "--monte-carlo", "0").Error);
    }

    [Fact]
    public void TMixtureOptions_AreCheckedWithTheirNames()
    {
        Assert.Contains("--covariance full, tied, diag or spherical", Run("fit", "--model", "t", "--covariance", "VEV").Error);
        Assert.Contains("--nu must be positive", Run("fit", "--model", "t", "--nu", "0").Error);
        Assert.Equal(2, Run("fit", "--model", "t", "--nu-estimate", "sometimes").Exit);
    }

    [Theory]
    [InlineData("full", false)]
    [InlineData("tied", false)]
    [InlineData("diag", false)]
    [InlineData("spherical", false)]
    [InlineData("full", true)]
    [InlineData("diag", true)]
    public void FitOnIrisMatchesTheLibrary(string covariance, bool float32)
    {
        double[] data = Fixture.Load(FixturePath("iris-full-k3")).Data;
        string csv = CsvOf(data, 4, ["sepal length", "sepal width", "petal length", "petal width"]);
        string[] args = ["fit", csv, "-k", "3", "--covariance", covariance, "--seed", "7", "--n-init", "2", "-o", PathOf("m.json")];
        CliRun run = Run(float32 ? [.. args, "--float32"] : args);
        Assert.True(run.Exit == 0, run.Error);
        var options = new GaussianMixtureOptions { Components = 3, CovarianceType = Names.Covariance(covariance, "test"), Seed = 7, Restarts = 2 };
        JsonElement model = ReadModel(PathOf("m.json"));
        if (float32)
        {
            AssertModelEquals(new GaussianMixture<float>(options).Fit(data.Select(v => (float)v).ToArray(), 150, 4), model);
        }
        else
        {
            AssertModelEquals(new GaussianMixture<double>(options).Fit(data, 150, 4), model);
        }

        Assert.Equal(float32, model.GetProperty("float32").GetBoolean());
        Assert.Equal(["sepal length", "sepal width", "petal length", "petal width"], model.GetProperty("columns").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void ColumnsChooseAndOrderTheFittedFeatures()
    {
        double[] data = Fixture.Load(FixturePath("iris-full-k3")).Data;
        string csv = CsvOf(data, 4, ["sl", "sw", "pl", "pw"]);
        Assert.Equal(0, Run("fit", csv, "--columns", "pw,3", "-o", PathOf("m.json")).Exit);
        double[] chosen = Enumerable.Range(0, 150).SelectMany(i => new[] { data[i * 4 + 3], data[i * 4 + 2] }).ToArray();
        AssertModelEquals(new GaussianMixture<double>(new GaussianMixtureOptions { Components = 2, Seed = 0 }).Fit(chosen, 150, 2), ReadModel(PathOf("m.json")));
        Assert.Equal(["pw", "pl"], ReadModel(PathOf("m.json")).GetProperty("columns").EnumerateArray().Select(e => e.GetString()));
    }

    [Theory]
    [InlineData("<f8", false)]
    [InlineData("<f4", false)]
    [InlineData("<f8", true)]
    [InlineData(">f8", false)]
    public void NpyFilesReadAsTheirCsvTwins(string descr, bool fortran)
    {
        double[] data = Fixture.Load(FixturePath("faithful-full-k2")).Data;
        string npy = PathOf("data.npy");
        DataFileTests.WriteNpy(npy, data, 272, 2, descr, fortran);
        double[] expected = descr.EndsWith('4') ? data.Select(v => (double)(float)v).ToArray() : data;
        Assert.Equal(0, Run("fit", npy, "-o", PathOf("npy.json")).Exit);
        Assert.Equal(0, Run("fit", CsvOf(expected, 2, null), "-o", PathOf("csv.json")).Exit);
        Assert.Equal(File.ReadAllText(PathOf("csv.json")).Replace(PathOf("data.csv"), "X", StringComparison.Ordinal), File.ReadAllText(PathOf("npy.json")).Replace(npy, "X", StringComparison.Ordinal));
    }

    [Fact]
    public void PredictScoreAndSampleReadTheModelBackExactly()
    {
        double[] data = Fixture.Load(FixturePath("iris-full-k3")).Data;
        string csv = CsvOf(data, 4, ["a", "b", "c", "d"]);
        string model = PathOf("m.json");
        Assert.Equal(0, Run("fit", csv, "-k", "3", "-o", model).Exit);
        var fitted = new GaussianMixture<double>(new GaussianMixtureOptions { Components = 3, Seed = 0 }).Fit(data, 150, 4);

        CliRun labels = Run("predict", model, csv);
        Assert.Equal(0, labels.Exit);
        string[] lines = Lines(labels.Output);
        Assert.Equal("label", lines[0]);
        Assert.Equal(fitted.Predict(data, 150), lines.Skip(1).Select(int.Parse));

        CliRun proba = Run("predict", model, csv, "--proba");
        lines = Lines(proba.Output);
        Assert.Equal("label,p0,p1,p2", lines[0]);
        double[] probabilities = fitted.PredictProbabilities(data, 150);
        Assert.Equal(probabilities, lines.Skip(1).SelectMany(l => l.Split(',').Skip(1)).Select(s => double.Parse(s, Invariant)));

        Assert.Equal(fitted.Score(data, 150), double.Parse(Run("score", model, csv).Output, Invariant));
        lines = Lines(Run("score", model, csv, "--per-point").Output);
        Assert.Equal("log_likelihood", lines[0]);
        Assert.Equal(fitted.ScoreSamples(data, 150), lines.Skip(1).Select(s => double.Parse(s, Invariant)));

        (double[] points, int[] from) = fitted.Sample(25, 3);
        lines = Lines(Run("sample", model, "--n", "25", "--seed", "3").Output);
        Assert.Equal("a,b,c,d,component", lines[0]);
        Assert.Equal(points, lines.Skip(1).SelectMany(l => l.Split(',').Take(4)).Select(s => double.Parse(s, Invariant)));
        Assert.Equal(from, lines.Skip(1).Select(l => int.Parse(l.Split(',')[4], Invariant)));
    }

    [Theory]
    [InlineData("dirichlet-process", "full", false)]
    [InlineData("dirichlet-distribution", "diag", true)]
    public void BayesianFits_AreTheLibrarysAndReadBackExactly(string weightPrior, string covariance, bool float32)
    {
        double[] data = Fixture.Load(FixturePath("iris-full-k3")).Data;
        string csv = CsvOf(data, 4, ["a", "b", "c", "d"]);
        string model = PathOf("vb.json");
        string[] args = ["fit", csv, "-k", "6", "--bayesian", weightPrior, "--covariance", covariance, "--weight-concentration", "0.01", "--dof", "5", "--seed", "2", "-o", model];
        CliRun run = Run(float32 ? [.. args, "--float32"] : args);
        Assert.True(run.Exit == 0, run.Error);
        var options = new BayesianGaussianMixtureOptions
        {
            Components = 6, Seed = 2, WeightConcentration = 0.01, DegreesOfFreedom = 5,
            WeightPrior = weightPrior == "dirichlet-process" ? WeightPrior.DirichletProcess : WeightPrior.DirichletDistribution,
            CovarianceType = covariance == "full" ? CovarianceType.Full : CovarianceType.Diagonal,
        };
        double[] predicted, scores;
        int[] labels;
        if (float32)
        {
            float[] x = data.Select(v => (float)v).ToArray();
            BayesianGaussianMixtureModel<float> fit = new BayesianGaussianMixture<float>(options).Fit(x, 150, 4);
            AssertVariationalModel(fit.Weights, fit.Means, fit.Covariances, fit.ExpectedCounts, fit.ElboHistory[^1], fit.EffectiveComponents, ReadModel(model));
            Assert.Contains($"{fit.EffectiveComponents} of 6", run.Output, StringComparison.Ordinal);
            predicted = fit.PredictProbabilities(x, 150).Select(v => (double)v).ToArray();
            labels = fit.Predict(x, 150);
            scores = fit.ScoreSamples(x, 150);
        }
        else
        {
            BayesianGaussianMixtureModel<double> fit = new BayesianGaussianMixture<double>(options).Fit(data, 150, 4);
            AssertVariationalModel(fit.Weights, fit.Means, fit.Covariances, fit.ExpectedCounts, fit.ElboHistory[^1], fit.EffectiveComponents, ReadModel(model));
            Assert.Contains($"{fit.EffectiveComponents} of 6", run.Output, StringComparison.Ordinal);
            Assert.Contains(Format.Number(fit.ElboHistory[^1]), run.Output, StringComparison.Ordinal);
            predicted = fit.PredictProbabilities(data, 150);
            labels = fit.Predict(data, 150);
            scores = fit.ScoreSamples(data, 150);
        }

        // predict and score read the variational model back: the variational E-step, the posterior predictive density.
        string[] lines = Lines(Run("predict", model, csv, "--proba").Output);
        Assert.Equal(labels, lines.Skip(1).Select(l => int.Parse(l.Split(',')[0], Invariant)));
        Assert.Equal(predicted, lines.Skip(1).SelectMany(l => l.Split(',').Skip(1)).Select(v => double.Parse(v, Invariant)));
        lines = Lines(Run("score", model, csv, "--per-point").Output);
        Assert.Equal(scores, lines.Skip(1).Select(v => double.Parse(v, Invariant)));
    }

    private static void AssertVariationalModel(
        IReadOnlyList<double> weights, ReadOnlySpan<double> means, ReadOnlySpan<double> covariances, ReadOnlySpan<double> counts, double elbo, int effective, JsonElement model)
    {
        Assert.Equal(4, model.GetProperty("version").GetInt32());
        Assert.Equal(weights, Numbers(model, "weights"));
        Assert.Equal(means.ToArray(), Numbers(model, "means"));
        Assert.Equal(covariances.ToArray(), Numbers(model, "covariances"));
        JsonElement variational = model.GetProperty("variational");
        Assert.Equal(counts.ToArray(), Numbers(variational, "expected_counts"));
        Assert.Equal(elbo, variational.GetProperty("elbo_per_point").GetDouble());
        Assert.Equal(effective, variational.GetProperty("effective_components").GetInt32());
    }

    [Fact]
    public void MclustParameterizations_FitSelectAndReadBack()
    {
        double[] data = Fixture.Load(FixturePath("iris-full-k3")).Data;
        string csv = CsvOf(data, 4, ["a", "b", "c", "d"]);
        string model = PathOf("vev.json");
        CliRun run = Run("fit", csv, "-k", "3", "--covariance", "VEV", "-o", model);
        Assert.True(run.Exit == 0, run.Error);
        GaussianMixtureModel<double> expected = new GaussianMixture<double>(new GaussianMixtureOptions { Components = 3, Seed = 0, Parameterization = ParsimoniousModel.VEV }).Fit(data, 150, 4);
        JsonElement file = ReadModel(model);
        Assert.Equal("VEV", file.GetProperty("covariance_type").GetString());
        Assert.Equal(expected.Covariances.ToArray(), Numbers(file, "covariances"));
        Assert.Equal(expected.TrainingBic, file.GetProperty("bic").GetDouble(), 1e-9 * Math.Abs(expected.TrainingBic));
        Assert.Contains("mclust's VEV", run.Output, StringComparison.Ordinal);
        Assert.Equal(expected.Score(data, 150), double.Parse(Run("score", model, csv).Output, Invariant));

        CliRun select = Run("select", csv, "-k", "2..3", "--covariance", "mclust", "--criterion", "icl");
        Assert.True(select.Exit == 0, select.Error);
        Assert.Contains("by ICL", select.Output, StringComparison.Ordinal);
        string[] uncertain = Lines(Run("predict", model, csv, "--uncertainty").Output);
        Assert.Equal("label,uncertainty", uncertain[0]);
        Assert.Equal(expected.Uncertainty(data, 150), uncertain.Skip(1).Select(l => double.Parse(l.Split(',')[1], Invariant)));
        foreach (string name in new[] { "EII", "VEI", "EVE", "VVE", "VEV", "VVV" })
        {
            Assert.Contains($" {name} ", select.Output, StringComparison.Ordinal);
        }

        AssertBadInput(Run("fit", csv, "--covariance", "E"), "E and V are mclust's models of one column");
        AssertBadInput(Run("fit", csv, "--covariance", "VEV", "--prior"), "--prior is for Gaussian mixtures of the full, tied, diag and spherical");
    }

    [Fact]
    public void TheStoppingRule_IsTheLibrarysAndRecorded()
    {
        double[] counts = [5, 3, 0, 2, 0, 3, 2, 3, 6, 1, 2, 1, 2, 1, 3, 3, 3, 5, 2, 4, 4, 0, 2, 3, 7, 12, 3, 10, 9, 2, 3, 7, 7, 2, 3, 3, 6, 2, 4, 3];
        string csv = CsvOf(counts, 1, ["n"]);
        CliRun run = Run("fit", csv, "--model", "poisson", "-k", "2", "--stop", "relative", "--tol", "1e-5", "--seed", "1", "-o", PathOf("p.json"));
        Assert.True(run.Exit == 0, run.Error);
        DiscreteMixtureModel<double> expected = new PoissonMixture<double>(new DiscreteMixtureOptions
        {
            Components = 2, Seed = 1, Tolerance = 1e-5, StoppingRule = EmKernels.Engine.StoppingRule.RelativeChange,
        }).Fit(counts, counts.Length, 1);
        JsonElement model = ReadModel(PathOf("p.json"));
        Assert.Equal(expected.Iterations, model.GetProperty("iterations").GetInt32());
        Assert.Equal(expected.MeanLogLikelihood, model.GetProperty("mean_log_likelihood").GetDouble());
        Assert.Equal("relative", model.GetProperty("options").GetProperty("stop").GetString());
        AssertBadInput(Run("fit", csv, "--stop", "never"), "--stop");
    }

    [Fact]
    public void SelectWritesItsTableAndEveryModel_TheSameInParallelAsInTurn()
    {
        double[] data = Fixture.Load(FixturePath("iris-full-k3")).Data;
        string csv = CsvOf(data, 4, ["a", "b", "c", "d"]);
        CliRun parallel = Run("select", csv, "-k", "1..3", "--covariance", "diag,VEV", "--table", PathOf("t.csv"), "--save-all", PathOf("all"));
        Assert.True(parallel.Exit == 0, parallel.Error);
        CliRun inTurn = Run("select", csv, "-k", "1..3", "--covariance", "diag,VEV", "--threads", "1", "--table", PathOf("t.json"));
        Assert.True(inTurn.Exit == 0, inTurn.Error);
        string[] rows = Lines(File.ReadAllText(PathOf("t.csv")));
        Assert.Equal("covariance,k,parameters,log_likelihood,mean_log_likelihood,bic,aic,icl,converged,iterations,mclust_na", rows[0]);
        Assert.Equal(7, rows.Length);
        JsonElement[] json = JsonDocument.Parse(File.ReadAllText(PathOf("t.json"))).RootElement.EnumerateArray().ToArray();
        for (int i = 0; i < 6; i++)
        {
            string[] cells = rows[i + 1].Split(',');
            Assert.Equal(json[i].GetProperty("covariance").GetString(), cells[0]);
            Assert.Equal(json[i].GetProperty("bic").GetDouble(), double.Parse(cells[5], Invariant));
            Assert.Equal(json[i].GetProperty("icl").GetDouble(), double.Parse(cells[7], Invariant));
            Assert.True(double.Parse(cells[7], Invariant) >= double.Parse(cells[5], Invariant)); // ICL = BIC + an entropy ≥ 0

            // Every model was saved, and reads back with the table's BIC.
            string saved = Path.Combine(PathOf("all"), $"{cells[0]}-k{cells[1]}.json");
            Assert.Equal(double.Parse(cells[5], Invariant), ReadModel(saved).GetProperty("bic").GetDouble());
        }

        // --init-from and --max-iter 0: the saved model evaluated as it is.
        string start = Path.Combine(PathOf("all"), "VEV-k3.json");
        CliRun evaluated = Run("fit", csv, "-k", "3", "--covariance", "VEV", "--init-from", start, "--max-iter", "0", "-o", PathOf("same.json"));
        Assert.True(evaluated.Exit == 0, evaluated.Error);
        Assert.Equal(Numbers(ReadModel(start), "covariances"), Numbers(ReadModel(PathOf("same.json")), "covariances"));
        Assert.Equal(0, ReadModel(PathOf("same.json")).GetProperty("iterations").GetInt32());
        AssertBadInput(Run("fit", csv, "-k", "2", "--init-from", start), "give the same --model, -k, --covariance and columns");
    }

    [Fact]
    public void BrokenVariationalModelFilesAreBadInput()
    {
        string model = PathOf("vb.json");
        Assert.Equal(0, Run("fit", "-k", "4", "--bayesian", "dirichlet-process", "-o", model).Exit);
        string text = File.ReadAllText(model);
        File.WriteAllText(PathOf("prior.json"), text.Replace("\"weight_prior\": \"dirichlet-process\"", "\"weight_prior\": \"stick\"", StringComparison.Ordinal));
        AssertBadInput(Run("predict", PathOf("prior.json")), "the field 'variational.weight_prior' is 'stick'");
        File.WriteAllText(PathOf("dof.json"), text.Replace("\"degrees_of_freedom_prior\": 2", "\"degrees_of_freedom_prior\": 0.5", StringComparison.Ordinal));
        AssertBadInput(Run("score", PathOf("dof.json")), "variational (prior)");
        File.WriteAllText(PathOf("counts.json"), text.Replace("\"expected_counts\": [", "\"expected_counts\": [-1, ", StringComparison.Ordinal));
        AssertBadInput(Run("sample", PathOf("counts.json"), "--n", "3"), "variational.expected_counts");
    }

    [Theory]
    [InlineData("--bayesian dirichlet-process --prior", "--bayesian and --prior")]
    [InlineData("--bayesian dirichlet-process --online", "--bayesian fits run in batch")]
    [InlineData("--bayesian dirichlet-process --covariance factor:1", "--bayesian is for Gaussian mixtures")]
    [InlineData("--bayesian dirichlet-process --dof 0.5", "--dof must be greater than D − 1 = 1")]
    [InlineData("--bayesian dirichlet-process --weight-concentration 0", "--weight-concentration must be positive")]
    [InlineData("--mean-precision 2", "are for --bayesian fits")]
    [InlineData("--bayesian stick", "--bayesian")]
    public void BayesianOptionsAreChecked(string options, string message)
    {
        AssertBadInput(Run(["fit", .. options.Split(' '), "-o", PathOf("m.json")]), message);
        Assert.False(File.Exists(PathOf("m.json")));
    }

    [Fact]
    public void PredictFindsTheModelsColumnsByNameAndWritesFiles()
    {
        double[] data = Fixture.Load(FixturePath("iris-full-k3")).Data;
        string model = PathOf("m.json");
        Assert.Equal(0, Run("fit", CsvOf(data, 4, ["a", "b", "c", "d"]), "--columns", "c,d", "-o", model).Exit);
        string output = PathOf("labels.csv");
        CliRun run = Run("predict", model, PathOf("data.csv"), "-o", output);
        Assert.Equal(0, run.Exit);
        Assert.Equal("", run.Output);
        double[] chosen = Enumerable.Range(0, 150).SelectMany(i => new[] { data[i * 4 + 2], data[i * 4 + 3] }).ToArray();
        var fitted = new GaussianMixture<double>(new GaussianMixtureOptions { Components = 2, Seed = 0 }).Fit(chosen, 150, 2);
        Assert.Equal(fitted.Predict(chosen, 150), File.ReadAllLines(output).Skip(1).Select(int.Parse));
    }

    [Fact]
    public void SelectRanksEveryCandidateByBicAndWritesTheBest()
    {
        double[] data = Fixture.Load(FixturePath("faithful-full-k2")).Data;
        string best = PathOf("best.json");
        CliRun run = Run("select", "--components", "1..3", "--covariance", "full,diag", "-o", best);
        Assert.True(run.Exit == 0, run.Error);
        var bics = new List<(int K, CovarianceType Type, double Bic)>();
        foreach (int k in new[] { 1, 2, 3 })
        {
            foreach (CovarianceType type in new[] { CovarianceType.Full, CovarianceType.Diagonal })
            {
                // select's defaults for Gaussian mixtures are mclust's: the hierarchical start and the relative rule at 1e-5.
                var model = new GaussianMixture<double>(new GaussianMixtureOptions
                {
                    Components = k, CovarianceType = type, Seed = 0, Initialization = GaussianMixtureInitialization.Hierarchical,
                    StoppingRule = EmKernels.Engine.StoppingRule.RelativeChange, Tolerance = 1e-5,
                }).Fit(data, 272, 2);
                bics.Add((k, type, model.Bic(data, 272)));
                string row = Lines(run.Output).Single(l => l.TrimStart('*', ' ').StartsWith($"{k}  {Names.Of(type)} ", StringComparison.Ordinal));
                Assert.Contains(Format.Fixed(model.Bic(data, 272), 2), row);
                Assert.Contains(Format.Fixed(model.Aic(data, 272), 2), row);
            }
        }

        var winner = bics.MinBy(b => b.Bic);
        Assert.StartsWith($"*  {winner.K}  {Names.Of(winner.Type)}", Lines(run.Output).Single(l => l.StartsWith('*')));
        JsonElement written = ReadModel(best);
        Assert.Equal(winner.K, written.GetProperty("components").GetInt32());
        Assert.Equal(Names.Of(winner.Type), written.GetProperty("covariance_type").GetString());
        Assert.Equal(winner.Bic, written.GetProperty("bic").GetDouble(), 1e-9);
        Assert.Equal(6, Lines(run.Output).Count(l => l.Contains("yes", StringComparison.Ordinal) || l.Contains(" no ", StringComparison.Ordinal)));
    }

    [Fact]
    public void SelectByAicOnADiscreteModel()
    {
        Fixture fixture = Fixture.Load(FixturePath("poisson3d-k3"));
        string csv = CsvOf(fixture.Data, 3, null);
        CliRun run = Run("select", csv, "--model", "poisson", "-k", "1,2,3,4", "--criterion", "aic");
        Assert.True(run.Exit == 0, run.Error);
        double[] aics = new[] { 1, 2, 3, 4 }.Select(k =>
            new PoissonMixture<double>(new DiscreteMixtureOptions { Components = k, Seed = 0 }).Fit(fixture.Data, fixture.Points, 3).Aic(fixture.Data, fixture.Points)).ToArray();
        int best = Array.IndexOf(aics, aics.Min()) + 1;
        Assert.StartsWith($"*  {best} ", Lines(run.Output).Single(l => l.StartsWith('*')));
    }

    [Theory]
    [InlineData("bernoulli", "digits0-499-bernoulli-k10", 10)]
    [InlineData("poisson", "poisson3d-k3", 3)]
    [InlineData("binomial", "binomial-d2-t10-k3", 3)]
    [InlineData("categorical", "categorical-d4-c5-k3", 3)]
    public void DiscreteFitsMatchTheLibrary(string family, string fixtureName, int k)
    {
        Fixture fixture = Fixture.Load(FixturePath(fixtureName));
        int n = fixture.Points, d = fixture.Features;
        string csv = CsvOf(fixture.Data, d, null);
        string[] args = ["fit", csv, "--model", family, "-k", k.ToString(Invariant), "--seed", "5", "--smoothing", "0.01", "-o", PathOf("m.json")];
        if (family == "binomial")
        {
            args = [.. args, "--trials", "10"];
        }

        CliRun run = Run(args);
        Assert.True(run.Exit == 0, run.Error);
        var options = new DiscreteMixtureOptions { Components = k, Seed = 5, Smoothing = 0.01 };
        DiscreteMixtureModel<double> expected = family switch
        {
            "bernoulli" => new BernoulliMixture<double>(options).Fit(fixture.Data, n, d),
            "poisson" => new PoissonMixture<double>(options).Fit(fixture.Data, n, d),
            "binomial" => new BinomialMixture<double>(10, options).Fit(fixture.Data, n, d),
            _ => new CategoricalMixture<double>((int)fixture.Data.Max() + 1, options).Fit(fixture.Data, n, d),
        };
        JsonElement model = ReadModel(PathOf("m.json"));
        Assert.Equal(expected.Weights.ToArray(), Numbers(model, "weights"));
        Assert.Equal(expected.Parameters.ToArray(), Numbers(model, family == "poisson" ? "rates" : "probs"));
        Assert.Equal(expected.MeanLogLikelihood, model.GetProperty("mean_log_likelihood").GetDouble());

        // The file reads back into the same model.
        Assert.Equal(expected.Predict(fixture.Data, n), Lines(Run("predict", PathOf("m.json"), csv).Output).Skip(1).Select(int.Parse));
        Assert.Equal(expected.Score(fixture.Data, n), double.Parse(Run("score", PathOf("m.json"), csv).Output, Invariant));
    }

    [Fact]
    public void PlotDrawsEveryPointByLabelAndTheSigmaEllipsesOfEachComponent()
    {
        double[] data = Fixture.Load(FixturePath("iris-full-k3")).Data;
        string csv = CsvOf(data, 4, ["sl", "sw", "pl", "pw"]);
        string svg = PathOf("fit.svg");
        CliRun run = Run("fit", csv, "-k", "3", "--plot", svg, "--plot-columns", "pl,sw", "-o", PathOf("m.json"));
        Assert.True(run.Exit == 0, run.Error);
        var fitted = new GaussianMixture<double>(new GaussianMixtureOptions { Components = 3, Seed = 0 }).Fit(data, 150, 4);
        int[] labels = fitted.Predict(data, 150);

        XDocument document = XDocument.Load(svg);
        XNamespace ns = "http://www.w3.org/2000/svg";
        XElement root = document.Root!;
        double[] xRange = root.Attribute("data-x-range")!.Value.Split(' ').Select(s => double.Parse(s, Invariant)).ToArray();
        double[] yRange = root.Attribute("data-y-range")!.Value.Split(' ').Select(s => double.Parse(s, Invariant)).ToArray();
        double[] area = root.Attribute("data-plot-area")!.Value.Split(' ').Select(s => double.Parse(s, Invariant)).ToArray();
        double sx = (area[2] - area[0]) / (xRange[1] - xRange[0]), sy = (area[3] - area[1]) / (yRange[1] - yRange[0]);

        // Every point, at its data position, coloured by its label.
        XElement[] points = root.Descendants(ns + "circle").Where(c => (string?)c.Attribute("class") == "point").ToArray();
        Assert.Equal(150, points.Length);
        for (int i = 0; i < 150; i++)
        {
            Assert.Equal(labels[i], (int)points[i].Attribute("data-component")!);
            Assert.Equal(data[i * 4 + 2], xRange[0] + ((double)points[i].Attribute("cx")! - area[0]) / sx, 1e-3);
            Assert.Equal(data[i * 4 + 1], yRange[0] + (area[3] - (double)points[i].Attribute("cy")!) / sy, 1e-3);
        }

        Assert.Equal(3, points.Select(p => (string)p.Attribute("fill")!).Distinct().Count());

        // Each ellipse is the component's marginal covariance in (pl, sw), scaled by 1 or 4, mapped to pixels.
        foreach (int sigma in new[] { 1, 2 })
        {
            XElement[] ellipses = root.Descendants(ns + "ellipse").Where(e => (string?)e.Attribute("class") == $"sigma-{sigma}").ToArray();
            Assert.Equal(3, ellipses.Length);
            foreach (XElement ellipse in ellipses)
            {
                int k = (int)ellipse.Attribute("data-component")!;
                double rx = (double)ellipse.Attribute("rx")!, ry = (double)ellipse.Attribute("ry")!;
                string[] rotate = ellipse.Attribute("transform")!.Value.Replace("rotate(", "", StringComparison.Ordinal).TrimEnd(')').Split(' ');
                double angle = double.Parse(rotate[0], Invariant) * Math.PI / 180;
                double c = Math.Cos(angle), s = Math.Sin(angle);

                // Pixel covariance R diag(rx², ry²) Rᵀ, back to data units through S = diag(sx, −sy).
                double pxx = c * c * rx * rx + s * s * ry * ry, pxy = c * s * (rx * rx - ry * ry), pyy = s * s * rx * rx + c * c * ry * ry;
                double[] full = fitted.Covariances.Slice(k * 16, 16).ToArray();
                double scale = sigma * sigma;
                Assert.Equal(full[2 * 4 + 2] * scale, pxx / (sx * sx), 1e-3 * scale);
                Assert.Equal(full[2 * 4 + 1] * scale, -pxy / (sx * sy), 1e-3 * scale);
                Assert.Equal(full[1 * 4 + 1] * scale, pyy / (sy * sy), 1e-3 * scale);
                Assert.Equal(fitted.Means[k * 4 + 2], xRange[0] + ((double)ellipse.Attribute("cx")! - area[0]) / sx, 1e-3);
            }
        }

        // Axes name the columns; ticks and a legend entry per component.
        Assert.Equal(["pl", "sw"], root.Descendants(ns + "text").Where(t => (string?)t.Attribute("class") == "axis-title").Select(t => t.Value));
        Assert.True(root.Descendants(ns + "text").Count(t => (string?)t.Attribute("class") == "tick") >= 6);
        XElement legend = root.Descendants(ns + "g").Single(g => (string?)g.Attribute("class") == "legend");
        Assert.Equal(3, legend.Elements(ns + "text").Count(t => t.Value.StartsWith("component", StringComparison.Ordinal)));
    }

    [Fact]
    public void ATerminalGetsTablesAndTheSameNumbers()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.Equal(0, Emk.Run(["fit"], output, error, interactive: true));
        double[] data = Fixture.Load(FixturePath("faithful-full-k2")).Data;
        var expected = new GaussianMixture<double>(new GaussianMixtureOptions { Components = 2, Seed = 0 }).Fit(data, 272, 2);
        string text = output.ToString();
        Assert.Contains(Format.Fixed(expected.Weights[1], 4), text);
        Assert.Contains(Format.Number(expected.Means[2]), text);
        Assert.Contains("│", text); // a Spectre table border
    }

    [Fact]
    public void VerboseFitsReportProgressOnStderr()
    {
        CliRun run = Run("fit", "--verbose", "--n-init", "2", "-k", "3");
        Assert.Equal(0, run.Exit);
        string[] progress = Lines(run.Error);
        Assert.Contains(progress, l => l.Contains("restart 1 of 2, iteration 1,", StringComparison.Ordinal));
        Assert.Contains(progress, l => l.Contains("restart 2 of 2, iteration 1,", StringComparison.Ordinal));
        Assert.All(progress, l => Assert.Contains("mean log-likelihood", l));
        Assert.Equal("", Run("fit").Error);
    }

    public static TheoryData<string, string> BadCsvFiles => new()
    {
        { "a,b\n1,2\n3,x\n", "line 3, column 'b': 'x' is not a number" },
        { "a,b\n1,2\n3\n", "line 3: 1 fields, but the header has 2" },
        { "1,2\n3,4,5\n", "line 2: 3 fields, but the first row has 2" },
        { "a,b\n1,2\nNaN,4\n", "line 3, column 'a': 'NaN' is not a finite number" },
        { "a,b\n1,2\n,4\n", "line 3, column 'a': the cell is empty" },
        { "a,b\n", "has a header line but no data rows" },
        { "", "is empty" },
    };

    [Theory]
    [MemberData(nameof(BadCsvFiles))]
    public void BadCsvIsOneMessageAndNoOutputFile(string content, string message)
    {
        string csv = PathOf("bad.csv");
        File.WriteAllText(csv, content);
        AssertBadInput(Run("fit", csv, "-k", "1", "-o", PathOf("m.json"), "--plot", PathOf("p.svg")), message);
        Assert.False(File.Exists(PathOf("m.json")));
        Assert.False(File.Exists(PathOf("p.svg")));
        Assert.Empty(_folder.GetFiles("*.tmp"));
    }

    [Fact]
    public void MissingAndUnreadableFilesAreBadInput()
    {
        AssertBadInput(Run("fit", PathOf("nope.csv")), "cannot read");
        AssertBadInput(Run("fit", _folder.FullName), "cannot read");
        AssertBadInput(Run("predict", PathOf("nope.json")), "cannot read");
    }

    [Theory]
    [InlineData("fit", "--covariance", "banana")]
    [InlineData("fit", "--model", "gamma")]
    [InlineData("fit", "--bogus")]
    [InlineData("fit", "--components", "two")]
    [InlineData("frobnicate")]
    [InlineData("select", "--criterion", "hqic")]
    [InlineData("sample")]
    public void UnknownOptionsAndValuesAreBadInput(params string[] args) => AssertBadInput(Run(args), "");

    [Theory]
    [InlineData("-k", "273", "272 rows but --components is 273")]
    [InlineData("-k", "0", "--components must be at least 1")]
    [InlineData("--tol", "-1", "--tol must be finite and non-negative")]
    [InlineData("--max-iter", "0", "--max-iter must be at least 1")]
    [InlineData("--threads", "0", "--threads must be at least 1")]
    [InlineData("--model", "binomial", "--model binomial needs --trials")]
    [InlineData("--model", "bernoulli", "column 'eruptions': 3.6 is not 0 or 1")]
    [InlineData("--init", "kmeans2", "--init")]
    [InlineData("--plot-columns", "waiting", "--plot-columns needs --plot")]
    public void OptionsThatDoNotFitTheDataAreBadInput(string option, string value, string message)
    {
        AssertBadInput(Run("fit", option, value, "-o", PathOf("m.json")), message);
        Assert.False(File.Exists(PathOf("m.json")));
    }

    [Fact]
    public void SelectChecksItsRangesBeforeFitting()
    {
        AssertBadInput(Run("select", "-k", "1..300"), "up to 300, but the data have 272 rows");
        AssertBadInput(Run("select", "-k", "3..1"), "the range 3..1 is empty");
        AssertBadInput(Run("select", "-k", "a"), "'a' is not a positive whole number");
        AssertBadInput(Run("select", "--covariance", "full,round"), "unknown covariance type 'round'");
    }

    [Fact]
    public void ModelFilesOfAnotherFormatOrVersionAreBadInput()
    {
        string model = PathOf("m.json");
        Assert.Equal(0, Run("fit", "-o", model).Exit);
        string text = File.ReadAllText(model);

        AssertBadInput(Run("predict", FixturePath("faithful-full-k2")), "is not an emk model file (its format is 'emk-fixture/1'");
        File.WriteAllText(PathOf("v3.json"), text.Replace("\"version\": 2", "\"version\": 5", StringComparison.Ordinal));
        AssertBadInput(Run("score", PathOf("v3.json")), "format version 5; this emk reads versions 1 to 4");
        File.WriteAllText(PathOf("junk.json"), "{ not json");
        AssertBadInput(Run("sample", PathOf("junk.json"), "--n", "3"), "not valid JSON");
        File.WriteAllText(PathOf("nomeans.json"), text.Replace("\"means\"", "\"centres\"", StringComparison.Ordinal));
        AssertBadInput(Run("sample", PathOf("nomeans.json"), "--n", "3"), "the field 'means' is missing");
        File.WriteAllText(PathOf("weights.json"), text.Replace("\"weights\": [", "\"weights\": [0.5, ", StringComparison.Ordinal).Replace("\"components\": 2", "\"components\": 3", StringComparison.Ordinal));
        AssertBadInput(Run("sample", PathOf("weights.json"), "--n", "3"), $"{PathOf("weights.json")}: the field 'weights' is invalid: The weights sum to ");

        string output = PathOf("labels.csv");
        AssertBadInput(Run("predict", PathOf("v3.json"), "-o", output), "version 5");
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void DataThatDoNotMatchTheModelAreBadInput()
    {
        string model = PathOf("m.json");
        Assert.Equal(0, Run("fit", "-o", model).Exit);
        File.WriteAllText(PathOf("three.csv"), "p,q,r\n1,2,3\n");
        AssertBadInput(Run("predict", model, PathOf("three.csv")), "has 3 columns (p, q, r) but the model has 2 features (eruptions, waiting)");

        Assert.Equal(0, Run("fit", CsvOf([0, 1, 1, 0, 1, 1], 2, null), "--model", "bernoulli", "-k", "1", "-o", model).Exit);
        File.WriteAllText(PathOf("half.csv"), "x1,x2\n0,1\n0.5,1\n");
        AssertBadInput(Run("score", model, PathOf("half.csv")), "is not 0 or 1");
    }

    [Fact]
    public void TheExecutableExitsWithTwoAndNoStackTrace()
    {
        string emk = Path.Combine(AppContext.BaseDirectory, "emk.dll");
        var start = new ProcessStartInfo("dotnet", [emk, "fit", PathOf("missing.csv")])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.Equal(2, process.ExitCode);
        Assert.Equal("", output);
        Assert.Single(Lines(error));
        Assert.StartsWith("emk: cannot read", error);
    }

    [Theory]
    [InlineData("csv")]
    [InlineData("npy")]
    public void StreamedFits_AreBitwiseTheInMemoryFit(string format)
    {
        // 50,000 × 3 doubles take more than 1 MB in memory, so --memory-budget 1 streams them.
        double[] values = Models.Data("full", 50_000, 3, new Random(1));
        string data = format == "csv" ? CsvOf(values, 3, ["a", "b", "c"]) : PathOf("x.npy");
        if (format == "npy")
        {
            DataFileTests.WriteNpy(data, values, 50_000, 3, "<f8", false);
        }

        Assert.Equal(0, Run("fit", data, "-k", "3", "--n-init", "2", "-o", PathOf("memory.json")).Exit);
        Assert.Equal(0, Run("fit", data, "-k", "3", "--n-init", "2", "--out-of-core", "-o", PathOf("streamed.json")).Exit);
        Assert.Equal(0, Run("fit", data, "-k", "3", "--n-init", "2", "--memory-budget", "1", "-o", PathOf("budget.json")).Exit);
        JsonElement memory = ReadModel(PathOf("memory.json"));
        foreach (string other in new[] { "streamed.json", "budget.json" })
        {
            JsonElement streamed = ReadModel(PathOf(other));
            foreach (string key in new[] { "weights", "means", "covariances" })
            {
                Assert.Equal(Numbers(memory, key), Numbers(streamed, key));
            }

            Assert.Equal(memory.GetProperty("mean_log_likelihood").GetDouble(), streamed.GetProperty("mean_log_likelihood").GetDouble());
            Assert.True(streamed.GetProperty("options").GetProperty("out_of_core").GetBoolean());
        }

        Assert.False(memory.GetProperty("options").GetProperty("out_of_core").GetBoolean());
    }

    [Fact]
    public void ParquetFilesReadAsTheirCsvTwins()
    {
        Fixture iris = Fixture.Load(FixturePath("iris-full-k3"));
        double[] x = iris.Data;
        int n = iris.Points;
        string parquet = PathOf("iris.parquet");
        DataFileTests.WriteParquet(parquet, Enumerable.Range(0, n).Select(i => x[i * 4]).ToArray(), null, null, rowGroup: 64,
            Enumerable.Range(0, n).Select(i => x[i * 4 + 1]).ToArray(), Enumerable.Range(0, n).Select(i => x[i * 4 + 2]).ToArray());
        double[] three = Enumerable.Range(0, n).SelectMany(i => new[] { x[i * 4], x[i * 4 + 1], x[i * 4 + 2] }).ToArray();
        Assert.Equal(0, Run("fit", parquet, "-k", "3", "-o", PathOf("parquet.json")).Exit);
        Assert.Equal(0, Run("fit", parquet, "-k", "3", "--out-of-core", "-o", PathOf("streamed.json")).Exit);
        Assert.Equal(0, Run("fit", CsvOf(three, 3, ["x", "y", "z"]), "-k", "3", "-o", PathOf("csv.json")).Exit);
        JsonElement csv = ReadModel(PathOf("csv.json"));
        foreach (string name in new[] { "parquet.json", "streamed.json" })
        {
            JsonElement model = ReadModel(PathOf(name));
            Assert.Equal(Numbers(csv, "means"), Numbers(model, "means"));
            Assert.Equal(Numbers(csv, "covariances"), Numbers(model, "covariances"));
            Assert.Equal(["x", "y", "z"], model.GetProperty("columns").EnumerateArray().Select(c => c.GetString()!).ToArray());
        }

        Assert.Equal(0, Run("predict", PathOf("parquet.json"), parquet, "-o", PathOf("labels.csv")).Exit);
        Assert.Equal(n + 1, File.ReadAllLines(PathOf("labels.csv")).Length);
    }

    [Fact]
    public void OnlineFits_ResumeBitwise_InMemoryOrStreamed()
    {
        double[] data = Fixture.Load(FixturePath("faithful-full-k2")).Data;
        string npy = PathOf("faithful.npy");
        DataFileTests.WriteNpy(npy, data, 272, 2, "<f8", false);
        CliRun straight = Run("fit", npy, "--online", "--epochs", "3", "--batch-size", "40", "--seed", "3", "-o", PathOf("straight.json"));
        Assert.Equal(0, straight.Exit);
        Assert.Contains("3 epochs, 21 steps of 40 points", straight.Output);
        Assert.Equal(0, Run("fit", npy, "--online", "--epochs", "1", "--batch-size", "40", "--seed", "3", "-o", PathOf("first.json")).Exit);
        Assert.Equal(0, Run("fit", npy, "--resume", PathOf("first.json"), "--epochs", "3", "-o", PathOf("resumed.json")).Exit);
        Assert.Equal(0, Run("fit", npy, "--resume", PathOf("first.json"), "--epochs", "3", "--out-of-core", "-o", PathOf("streamed.json")).Exit);
        JsonElement expected = ReadModel(PathOf("straight.json"));
        foreach (string name in new[] { "resumed.json", "streamed.json" })
        {
            JsonElement resumed = ReadModel(PathOf(name));
            foreach (string key in new[] { "weights", "means", "covariances" })
            {
                Assert.Equal(Numbers(expected, key), Numbers(resumed, key));
            }

            Assert.Equal(expected.GetProperty("online").GetProperty("checkpoint").GetString(), resumed.GetProperty("online").GetProperty("checkpoint").GetString());
            Assert.Equal(21, resumed.GetProperty("online").GetProperty("steps").GetInt64());
        }

        // The online fit is a model like any other.
        Assert.Equal(0, Run("score", PathOf("resumed.json"), npy).Exit);
    }

    [Theory]
    [InlineData("--online --kappa 0.4", "--kappa must satisfy 0.5 < κ ≤ 1")]
    [InlineData("--online --batch-size 0", "--batch-size must be at least 1")]
    [InlineData("--online --epochs 0", "--epochs must be at least 1")]
    [InlineData("--online --t0 -1", "--t0 must be finite and non-negative")]
    [InlineData("--online --n-init 2", "--n-init is for batch EM")]
    [InlineData("--epochs 2", "are for --online fits")]
    [InlineData("--memory-budget 0", "--memory-budget must be at least 1")]
    public void OnlineAndStreamingOptionsAreChecked(string options, string message)
    {
        AssertBadInput(Run(["fit", .. options.Split(' '), "-o", PathOf("m.json")]), message);
        Assert.False(File.Exists(PathOf("m.json")));
    }

    [Fact]
    public void StreamingAndResumingRefuseWhatTheyCannotDo()
    {
        string data = CsvOf(Fixture.Load(FixturePath("faithful-full-k2")).Data, 2, ["eruptions", "waiting"]);
        AssertBadInput(Run("fit", data, "--out-of-core", "--plot", PathOf("p.svg")), "--plot needs the data in memory");
        Assert.Equal(0, Run("fit", data, "-o", PathOf("batch.json")).Exit);
        AssertBadInput(Run("fit", data, "--resume", PathOf("batch.json")), "is not an online fit");
        Assert.Equal(0, Run("fit", data, "--online", "-o", PathOf("online.json")).Exit);
        AssertBadInput(Run("fit", data, "--columns", "waiting", "--resume", PathOf("online.json")), "the fit to resume was of eruptions, waiting");
    }

    [Fact]
    public void ModelFilesOfVersionOneStillRead()
    {
        string data = CsvOf(Fixture.Load(FixturePath("faithful-full-k2")).Data, 2, ["eruptions", "waiting"]);
        Assert.Equal(0, Run("fit", data, "-k", "3", "-o", PathOf("v2.json")).Exit);
        var document = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(PathOf("v2.json")))!.AsObject();
        document["version"] = 1;
        var options = document["options"]!.AsObject();
        options.Remove("out_of_core");
        options.Remove("online");
        File.WriteAllText(PathOf("v1.json"), document.ToJsonString());
        CliRun v1 = Run("predict", PathOf("v1.json"), data, "--proba");
        CliRun v2 = Run("predict", PathOf("v2.json"), data, "--proba");
        Assert.Equal(0, v1.Exit);
        Assert.Equal(v2.Output, v1.Output);
    }

    private static void AssertBadInput(CliRun run, string message)
    {
        Assert.Equal(2, run.Exit);
        Assert.Equal("", run.Output);
        string[] lines = Lines(run.Error);
        Assert.Single(lines);
        Assert.StartsWith("emk: ", lines[0]);
        Assert.Contains(message, lines[0]);
        Assert.DoesNotMatch(@"\bat [\w.`]+\(|Exception", lines[0]); // no stack frame, no exception type
    }

    private static void AssertModelEquals<T>(GaussianMixtureModel<T> expected, JsonElement model)
        where T : unmanaged, System.Numerics.IBinaryFloatingPointIeee754<T>
    {
        Assert.Equal("emk-model", model.GetProperty("format").GetString());
        Assert.Equal(2, model.GetProperty("version").GetInt32());
        Assert.Equal(expected.Weights.ToArray(), Numbers(model, "weights"));
        Assert.Equal(expected.Means.ToArray(), Numbers(model, "means"));
        Assert.Equal(expected.Covariances.ToArray(), Numbers(model, "covariances"));
        Assert.Equal(expected.MeanLogLikelihood, model.GetProperty("mean_log_likelihood").GetDouble());
        Assert.Equal(expected.Iterations, model.GetProperty("iterations").GetInt32());
        Assert.Equal(expected.Converged, model.GetProperty("converged").GetBoolean());
    }

    private static double[] Numbers(JsonElement model, string key) => model.GetProperty(key).EnumerateArray().Select(e => e.GetDouble()).ToArray();

    private static JsonElement ReadModel(string path) => JsonDocument.Parse(File.ReadAllText(path)).RootElement.Clone();

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();

    private static string FixturePath(string name) => Path.Combine(Fixture.Folder(), name + ".json");

    private static CliRun Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = Emk.Run(args, output, error, interactive: false);
        return new CliRun(exit, output.ToString(), error.ToString());
    }

    private string PathOf(string name) => Path.Combine(_folder.FullName, name);

    /// <summary>Writes data.csv (shortest round-trip numbers, so the CLI parses back the same doubles) and returns its path.</summary>
    private string CsvOf(double[] values, int d, string[]? header)
    {
        var text = new StringBuilder();
        if (header is not null)
        {
            text.AppendLine(string.Join(",", header));
        }

        for (int i = 0; i < values.Length / d; i++)
        {
            text.AppendLine(string.Join(",", values.Skip(i * d).Take(d).Select(v => v.ToString("R", Invariant))));
        }

        string path = PathOf("data.csv");
        File.WriteAllText(path, text.ToString());
        return path;
    }

    private sealed record CliRun(int Exit, string Output, string Error);
}
