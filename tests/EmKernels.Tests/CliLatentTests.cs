using System.Globalization;
using System.Text;
using System.Text.Json;
using EmKernels.Cli;
using EmKernels.Latent;
using EmKernels.Tests.Infrastructure;
using Xunit;

namespace EmKernels.Tests;

/// <summary><c>emk fa</c> and <c>emk regress</c> end to end: every number written is the library's own fit of the same data and options; bad input is one line and exit code 2.</summary>
public sealed class CliLatentTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("emk-cli-latent-");

    public void Dispose() => _folder.Delete(recursive: true);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FactorAnalysis_WritesTheLibrarysFit(bool ppca)
    {
        var fixture = Fixture.Load(Path.Combine(Fixture.Folder(), "latent", "wine-std-fa-q3.json"));
        int n = fixture.Points, d = fixture.Features;
        string csv = CsvOf(fixture.Data, d, Enumerable.Range(1, d).Select(j => $"c{j}").ToArray());
        string[] args = ["fa", csv, "--factors", "2", "--seed", "4", "--columns", "c1,c2,c3,c5,c8", "-o", PathOf("fa.json")];
        CliRun run = Run(ppca ? [.. args, "--ppca"] : args);
        Assert.True(run.Exit == 0, run.Error);
        int[] chosen = [0, 1, 2, 4, 7];
        double[] x = new double[n * chosen.Length];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < chosen.Length; j++)
            {
                x[i * chosen.Length + j] = fixture.Data[i * d + chosen[j]];
            }
        }

        var expected = new FactorAnalysis<double>(new FactorAnalysisOptions { LatentDimensions = 2, Seed = 4, Noise = ppca ? FactorNoise.Isotropic : FactorNoise.Diagonal })
            .Fit(x, n, chosen.Length);
        JsonElement model = JsonDocument.Parse(File.ReadAllText(PathOf("fa.json"))).RootElement;
        Assert.Equal("emk-factor-analysis", model.GetProperty("format").GetString());
        Assert.Equal(["c1", "c2", "c3", "c5", "c8"], model.GetProperty("columns").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(expected.Loadings.ToArray(), model.GetProperty("loadings").EnumerateArray().SelectMany(r => r.EnumerateArray()).Select(e => e.GetDouble()));
        Assert.Equal(expected.NoiseVariances.ToArray(), model.GetProperty("noise_variances").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal(expected.MeanLogLikelihood, model.GetProperty("mean_log_likelihood").GetDouble());
        Assert.Equal(expected.Iterations, model.GetProperty("iterations").GetInt32());
        Assert.Contains(Format.Number(expected.MeanLogLikelihood), run.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Regression_WritesTheLibrarysFit(bool intercept)
    {
        var random = new Random(3);
        const int n = 80;
        double[] table = new double[n * 4];
        for (int i = 0; i < n; i++)
        {
            double a = random.NextDouble(), b = random.NextDouble() * 3, c = random.NextDouble();
            table[i * 4] = a;
            table[i * 4 + 1] = 2 + 1.5 * a - 0.7 * b + 0.3 * (random.NextDouble() - 0.5); // the target, second column
            table[i * 4 + 2] = b;
            table[i * 4 + 3] = c;
        }

        string csv = CsvOf(table, 4, ["a", "y", "b", "c"]);
        string[] args = ["regress", csv, "--target", "y", "--columns", "a,b", "-o", PathOf("r.json")];
        CliRun run = Run(intercept ? args : [.. args, "--no-intercept"]);
        Assert.True(run.Exit == 0, run.Error);
        double[] x = new double[n * 2], y = new double[n];
        for (int i = 0; i < n; i++)
        {
            x[i * 2] = table[i * 4];
            x[i * 2 + 1] = table[i * 4 + 2];
            y[i] = table[i * 4 + 1];
        }

        var expected = new BayesianLinearRegression<double>(new BayesianLinearRegressionOptions { Intercept = intercept }).Fit(x, y, n, 2);
        JsonElement model = JsonDocument.Parse(File.ReadAllText(PathOf("r.json"))).RootElement;
        Assert.Equal(expected.Alpha, model.GetProperty("alpha").GetDouble());
        Assert.Equal(expected.Beta, model.GetProperty("beta").GetDouble());
        Assert.Equal(expected.Coefficients.ToArray(), model.GetProperty("posterior_mean").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal(intercept ? ["(intercept)", "a", "b"] : ["a", "b"], model.GetProperty("weights").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(expected.LogEvidence, model.GetProperty("log_evidence_per_point").GetDouble());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RegressionMixtures_WriteTheLibrarysFit(bool experts)
    {
        var fixture = Fixture.Load(Path.Combine(Fixture.Folder(), "latent", experts ? "synth-moe-k2.json" : "lines3-mixreg-k3.json"));
        JsonElement data = fixture.Root.GetProperty("data");
        int n = data.GetProperty("n").GetInt32(), p = data.GetProperty("p").GetInt32(), k = fixture.Components;
        double[] design = data.GetProperty("x").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        double[] y = data.GetProperty("y").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        double[] table = new double[n * p], inputs = new double[n * (p - 1)];
        for (int i = 0; i < n; i++)
        {
            for (int c = 1; c < p; c++)
            {
                table[i * p + c - 1] = design[i * p + c];
                inputs[i * (p - 1) + c - 1] = design[i * p + c];
            }

            table[i * p + p - 1] = y[i];
        }

        string csv = CsvOf(table, p, [.. Enumerable.Range(1, p - 1).Select(c => $"x{c}"), "y"]);
        string[] args = ["regress", csv, "--target", "y", "-k", k.ToString(CultureInfo.InvariantCulture), "--seed", "3", "--n-init", "2", "-o", PathOf("mix.json")];
        CliRun run = Run(experts ? [.. args, "--gating"] : args);
        Assert.True(run.Exit == 0, run.Error);
        var options = new RegressionMixtureOptions { Components = k, Seed = 3, Restarts = 2 };
        RegressionMixtureModel<double> expected = experts
            ? new MixtureOfExperts<double>(options).Fit(inputs, y, n, p - 1)
            : new MixtureOfRegressions<double>(options).Fit(inputs, y, n, p - 1);
        JsonElement model = JsonDocument.Parse(File.ReadAllText(PathOf("mix.json"))).RootElement;
        Assert.Equal("emk-regression-mixture", model.GetProperty("format").GetString());
        Assert.Equal(experts ? "softmax" : "constant", model.GetProperty("gating").GetString());
        Assert.Equal(expected.Gate.ToArray(), model.GetProperty(experts ? "gate_rows" : "weights").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal(expected.Coefficients.ToArray(), model.GetProperty("coefficients").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal(expected.Variances.ToArray(), model.GetProperty("variances").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal(expected.MeanLogLikelihood, model.GetProperty("mean_log_likelihood").GetDouble());
        Assert.Contains(Format.Number(expected.MeanLogLikelihood), run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void FactorCovariance_WritesTheLibrarysMixtureAndEvaluatesIt()
    {
        var fixture = Fixture.Load(Path.Combine(Fixture.Folder(), "latent", "wine-std-fa-q3.json"));
        int n = fixture.Points, d = fixture.Features;
        string csv = CsvOf(fixture.Data, d, Enumerable.Range(1, d).Select(j => $"c{j}").ToArray());
        CliRun run = Run("fit", csv, "-k", "3", "--covariance", "factor:2", "--seed", "5", "-o", PathOf("mfa.json"));
        Assert.True(run.Exit == 0, run.Error);
        var expected = new MixtureOfFactorAnalyzers<double>(new MixtureOfFactorAnalyzersOptions { Components = 3, LatentDimensions = 2, Seed = 5 }).Fit(fixture.Data, n, d);
        JsonElement model = JsonDocument.Parse(File.ReadAllText(PathOf("mfa.json"))).RootElement;
        Assert.Equal("factor", model.GetProperty("covariance_type").GetString());
        Assert.Equal(2, model.GetProperty("factors").GetInt32());
        Assert.Equal(expected.Weights.ToArray(), model.GetProperty("weights").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal(expected.Means.ToArray(), model.GetProperty("means").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal(expected.Loadings.ToArray(), model.GetProperty("loadings").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal(expected.NoiseVariances.ToArray(), model.GetProperty("noise_variances").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal(expected.MeanLogLikelihood, model.GetProperty("mean_log_likelihood").GetDouble());
        Assert.Contains("Mixture of factor analyzers, K = 3, q = 2", run.Output, StringComparison.Ordinal);

        // The model file is read back: scores and labels are the library model's.
        CliRun score = Run("score", PathOf("mfa.json"), csv);
        Assert.True(score.Exit == 0, score.Error);
        Assert.Equal(expected.Score(fixture.Data, n), double.Parse(score.Output.Trim(), CultureInfo.InvariantCulture), 1e-12 * Math.Abs(expected.MeanLogLikelihood));
        CliRun predict = Run("predict", PathOf("mfa.json"), csv);
        Assert.Equal(expected.Predict(fixture.Data, n), predict.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(int.Parse));

        // Selection takes factor:Q beside the covariance types.
        CliRun select = Run("select", csv, "-k", "2..3", "--covariance", "diag,factor:2");
        Assert.True(select.Exit == 0, select.Error);
        Assert.Contains("factor:2", select.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void BadInput_IsOneLineAndExitCode2()
    {
        string csv = CsvOf([1, 2, 3, 4, 5, 7, 7, 8, 10], 3, ["a", "b", "c"]);
        AssertBad(Run("fa", csv, "--factors", "4"), "--factors is 4");
        AssertBad(Run("fa", csv, "--columns", "a,zz"), "zz");
        AssertBad(Run("regress", csv, "--target", "b", "--columns", "a,b"), "includes the target");
        AssertBad(Run("regress", csv, "--target", "q"), "q");
        AssertBad(Run("fa", csv, "--max-iter", "-1"), "--max-iter");
        AssertBad(Run("fit", csv, "--covariance", "factor:0"), "factor:0");
        AssertBad(Run("fit", csv, "--covariance", "factor:4"), "more factors than the 3 columns");
        AssertBad(Run("fit", csv, "--covariance", "factor"), "unknown covariance type");
        AssertBad(Run("select", csv, "-k", "1..2", "--covariance", "full,factor:-1"), "factor:-1");
        File.WriteAllText(PathOf("nan.csv"), "a,b\n1,2\n3,NaN\n");
        AssertBad(Run("fa", PathOf("nan.csv")), "line 3");
        AssertBad(Run("regress", PathOf("nan.csv"), "--target", "a"), "line 3");
        AssertBad(Run("regress", PathOf("nan.csv"), "--target", "a", "-k", "2"), "line 3");
        AssertBad(Run("regress", csv, "--target", "a", "--experts"), "give --components K");
        AssertBad(Run("regress", csv, "--target", "a", "-k", "0"), "--components must be at least 1");
        AssertBad(Run("regress", csv, "--target", "a", "-k", "4"), "a mixture needs at least as many points as components");
        Assert.False(File.Exists(PathOf("out.json")));
    }

    private static void AssertBad(CliRun run, string expected)
    {
        Assert.Equal(2, run.Exit);
        Assert.Single(run.Error.TrimEnd('\n').Split('\n'));
        Assert.Contains(expected, run.Error, StringComparison.Ordinal);
    }

    private static CliRun Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = Emk.Run(args, output, error, interactive: false);
        return new CliRun(exit, output.ToString(), error.ToString());
    }

    private string PathOf(string name) => Path.Combine(_folder.FullName, name);

    private string CsvOf(double[] values, int d, string[] header)
    {
        var text = new StringBuilder();
        text.AppendLine(string.Join(",", header));
        for (int i = 0; i < values.Length / d; i++)
        {
            text.AppendLine(string.Join(",", values.Skip(i * d).Take(d).Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
        }

        string path = PathOf("data.csv");
        File.WriteAllText(path, text.ToString());
        return path;
    }

    private sealed record CliRun(int Exit, string Output, string Error);
}
