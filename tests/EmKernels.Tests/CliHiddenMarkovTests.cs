using System.Globalization;
using System.Text;
using System.Text.Json;
using EmKernels.Cli;
using EmKernels.Sequences;
using Xunit;

namespace EmKernels.Tests;

/// <summary><c>emk hmm fit | decode | score | sample</c> end to end: every number written is the library's own fit of the same sequences and options; bad input is one line and exit code 2, with no output file.</summary>
public sealed class CliHiddenMarkovTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("emk-cli-hmm-");

    public void Dispose() => _folder.Delete(recursive: true);

    /// <summary>Two-feature observations in sequences of the given lengths, with a leading id column.</summary>
    private (string Path, double[] X, int[] Lengths) Sequences(int[] lengths, int seed)
    {
        var random = new Random(seed);
        var text = new StringBuilder("id,a,b\n");
        var x = new List<double>();
        for (int s = 0; s < lengths.Length; s++)
        {
            int state = random.Next(2);
            for (int t = 0; t < lengths[s]; t++)
            {
                state = random.NextDouble() < 0.9 ? state : 1 - state;
                double a = (state == 0 ? -3 : 3) + random.NextDouble(), b = state * 2 + random.NextDouble();
                x.Add(a);
                x.Add(b);
                text.Append(CultureInfo.InvariantCulture, $"{10 + s},{a.ToString("R", CultureInfo.InvariantCulture)},{b.ToString("R", CultureInfo.InvariantCulture)}\n");
            }
        }

        string path = PathOf("seq.csv");
        File.WriteAllText(path, text.ToString());
        return (path, x.ToArray(), lengths);
    }

    [Fact]
    public void FitDecodeScoreSample_AreTheLibrarysResults()
    {
        (string csv, double[] x, int[] lengths) = Sequences([40, 1, 25, 60], seed: 1);
        int n = lengths.Sum();
        CliRun fit = Run("hmm", "fit", csv, "--sequence-column", "id", "--states", "2", "--covariance", "full", "--seed", "3", "-o", PathOf("m.json"));
        Assert.True(fit.Exit == 0, fit.Error);
        HiddenMarkovFit<double> expected = new HiddenMarkov<double>(new HiddenMarkovOptions { States = 2, CovarianceType = Mixtures.CovarianceType.Full, Seed = 3 }).Fit(x, n, 2, lengths);
        JsonElement model = JsonDocument.Parse(File.ReadAllText(PathOf("m.json"))).RootElement;
        Assert.Equal("emk-hmm", model.GetProperty("format").GetString());
        Assert.Equal(["a", "b"], model.GetProperty("columns").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(expected.Transitions.ToArray(), model.GetProperty("transmat").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal(expected.Means, model.GetProperty("means").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal(expected.MeanLogLikelihood, model.GetProperty("mean_log_likelihood").GetDouble());

        CliRun decode = Run("hmm", "decode", PathOf("m.json"), csv, "--sequence-column", "id");
        Assert.True(decode.Exit == 0, decode.Error);
        int[] path = expected.Decode(x, n, lengths, out _);
        Assert.Equal(["state", .. path.Select(s => s.ToString(CultureInfo.InvariantCulture))], decode.Output.TrimEnd('\n').Split('\n'));

        CliRun score = Run("hmm", "score", PathOf("m.json"), csv, "--sequence-column", "id");
        Assert.True(score.Exit == 0, score.Error);
        Assert.Equal(expected.Score(x, n, lengths), double.Parse(score.Output, CultureInfo.InvariantCulture), 1e-12);

        File.WriteAllText(PathOf("lengths.txt"), string.Join("\n", lengths));
        CliRun byLengths = Run("hmm", "score", PathOf("m.json"), csv, "--lengths", PathOf("lengths.txt"), "--columns", "a,b");
        Assert.Equal(score.Output, byLengths.Output);

        CliRun sample = Run("hmm", "sample", PathOf("m.json"), "-n", "500", "--seed", "2");
        Assert.True(sample.Exit == 0, sample.Error);
        string[] rows = sample.Output.TrimEnd('\n').Split('\n');
        Assert.Equal("a,b,state", rows[0]);
        Assert.Equal(501, rows.Length);
    }

    [Fact]
    public void BadInput_IsOneLineAndExitCode2_WithNoOutputFile()
    {
        (string csv, _, _) = Sequences([20, 20], seed: 2);
        string output = PathOf("out.json");
        AssertBad(Run("hmm", "fit", csv, "--states", "0", "-o", output), "--states");
        AssertBad(Run("hmm", "fit", csv, "--emission", "gamma", "-o", output), "--emission");
        AssertBad(Run("hmm", "fit", csv, "--covariance", "blocky", "-o", output), "--covariance");
        AssertBad(Run("hmm", "fit", csv, "--sequence-column", "id", "--lengths", "x", "-o", output), "not both");
        File.WriteAllText(PathOf("split.csv"), "id,a\n1,0.5\n2,0.1\n1,0.3\n");
        AssertBad(Run("hmm", "fit", PathOf("split.csv"), "--sequence-column", "id", "-o", output), "line 4");
        File.WriteAllText(PathOf("lengths.txt"), "10\nten\n");
        AssertBad(Run("hmm", "fit", csv, "--lengths", PathOf("lengths.txt"), "-o", output), "line 2");
        File.WriteAllText(PathOf("short.txt"), "10\n");
        AssertBad(Run("hmm", "fit", csv, "--lengths", PathOf("short.txt"), "-o", output), "sum to 10");
        File.WriteAllText(PathOf("codes.csv"), "c\n0\n1.5\n");
        AssertBad(Run("hmm", "fit", PathOf("codes.csv"), "--emission", "categorical", "-o", output), "line 3");
        File.WriteAllText(PathOf("bad.json"), "{\"format\":\"emk-hmm\",\"version\":1,\"emission\":\"gaussian\",\"states\":2,\"columns\":[\"a\",\"b\"],\"startprob\":[0.5,0.6],\"transmat\":[1,0,0,1],\"covariance_type\":\"diag\",\"means\":[0,0,1,1],\"covariances\":[1,1,1,1]}");
        AssertBad(Run("hmm", "score", PathOf("bad.json"), csv, "--sequence-column", "id"), "sums to");
        File.WriteAllText(PathOf("notpd.json"), "{\"format\":\"emk-hmm\",\"version\":1,\"emission\":\"gaussian\",\"states\":1,\"columns\":[\"a\",\"b\"],\"startprob\":[1],\"transmat\":[1],\"covariance_type\":\"full\",\"means\":[0,0],\"covariances\":[1,2,2,1]}");
        AssertBad(Run("hmm", "score", PathOf("notpd.json"), csv, "--sequence-column", "id"), "notpd.json");
        File.WriteAllText(PathOf("garbage.json"), "{\"format\":");
        AssertBad(Run("hmm", "decode", PathOf("garbage.json"), csv), "not a model file");
        Assert.False(File.Exists(output));
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

    private sealed record CliRun(int Exit, string Output, string Error);
}
