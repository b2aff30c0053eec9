using System.Diagnostics;
using System.Text;
using System.Text.Json;
using EmKernels.Cli;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// Bad or huge input costs one clear line and exit code 2 — never memory, time, an exception's name or a
/// flood of echoed text — and messages name the file, the line or row, the column, or the model file's field.
/// </summary>
public sealed class CliBadInputTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("emk-bad-input-tests-");

    public void Dispose() => _folder.Delete(recursive: true);

    [Fact]
    public void CategoriesAreInferredOnlyUpToABound()
    {
        File.WriteAllText(PathOf("codes.csv"), "a\n1\n2\n50000000\n");
        AssertBadInput(Run("fit", PathOf("codes.csv"), "--model", "categorical", "-k", "2"), "would make 50000001 categories");
        File.WriteAllText(PathOf("codes.csv"), "a\n1\n2\n2000000000\n");
        AssertBadInput(Run("fit", PathOf("codes.csv"), "--model", "categorical", "-k", "2", "--out-of-core"), "give --categories C");
        File.WriteAllText(PathOf("codes.csv"), "a\n1\n2\n999\n");
        AssertBadInput(Run("fit", PathOf("codes.csv"), "--model", "categorical", "-k", "2", "--categories", "2000000000"), "use fewer categories or features");
        Assert.Equal(0, Run("fit", PathOf("codes.csv"), "--model", "categorical", "-k", "1", "-o", PathOf("m.json")).Exit);
        Assert.Equal(1000, JsonDocument.Parse(File.ReadAllText(PathOf("m.json"))).RootElement.GetProperty("categories").GetInt32());
    }

    [Fact]
    public void AHugeComponentRangeIsRefusedBeforeItIsExpanded()
    {
        var clock = Stopwatch.StartNew();
        AssertBadInput(Run("select", "--components", "1..2000000000"), "up to 2000000000, but the data have 272 rows");
        AssertBadInput(Run("select", "--components", "2,1..2000000000,3"), "up to 2000000000");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"{clock.Elapsed}"); // expanding the range first ran out of memory
    }

    [Fact]
    public void ALineLongerThanTheBoundIsOneMessage()
    {
        var text = new StringBuilder("a,b\n1,2\n");
        text.Append('1', 64 << 20).Append(",3\n");
        File.WriteAllText(PathOf("long.csv"), text.ToString());
        text.Clear();
        AssertBadInput(Run("fit", PathOf("long.csv")), "line 3: the line is longer than 64 MiB");
    }

    [Fact]
    public void CellsAreQuotedAsShortEscapedExcerpts()
    {
        File.WriteAllBytes(PathOf("binary.csv"), [.. "a,b\n1,2\n"u8, 0x01, 0x02, 0x1B, .. "[31mred"u8, 0x00, 0xFF, .. ",3\n"u8]);
        CliRun run = Run("fit", PathOf("binary.csv"));
        AssertBadInput(run, @"'\x01\x02\x1B[31mred\x00\xFF' is not a number");
        Assert.DoesNotContain(run.Error.TrimEnd('\n'), c => char.IsControl(c));

        File.WriteAllText(PathOf("cell.csv"), $"a,b\n1,2\n{new string('x', 1_000_000)},3\n");
        run = Run("fit", PathOf("cell.csv"));
        AssertBadInput(run, "… (1000000 bytes)' is not a number");
        Assert.True(run.Error.Length < 300, run.Error[..Math.Min(300, run.Error.Length)]);

        File.WriteAllText(PathOf("names.csv"), $"{new string('n', 100_000)},b\n1,2\n");
        run = Run("fit", PathOf("names.csv"), "--columns", "zzz");
        AssertBadInput(run, "has no column 'zzz'");
        Assert.True(run.Error.Length < 300, run.Error[..Math.Min(300, run.Error.Length)]);
    }

    [Theory]
    [InlineData("{'descr': '<f8', 'fortran_order': False, 'shape': (-5, 2), }", "cannot read the .npy shape")]
    [InlineData("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999, 2), }", "cannot read the .npy shape")]
    [InlineData("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", "truncated")]
    [InlineData("{'descr': '<f99999999999', 'fortran_order': False, 'shape': (2, 2), }", "is not supported")]
    [InlineData("", "cannot read the .npy header")]
    public void MalformedNpyHeadersAreOneMessage(string header, string message)
    {
        string padded = header.PadRight(117) + "\n";
        File.WriteAllBytes(PathOf("bad.npy"), [0x93, .. "NUMPY"u8, 1, 0, (byte)padded.Length, 0, .. Encoding.ASCII.GetBytes(padded), .. new byte[32]]);
        AssertBadInput(Run("fit", PathOf("bad.npy")), message);
        File.WriteAllBytes(PathOf("magic.npy"), [0x93, .. "NUMPY"u8]);
        AssertBadInput(Run("fit", PathOf("magic.npy")), "is not a .npy file");
    }

    [Fact]
    public void AFullCovarianceBeyondMemoryIsRefusedWithAWayOut()
    {
        DataFileTests.WriteNpy(PathOf("wide.npy"), new double[3 * 50_000].Select((_, i) => Math.Sin(i)).ToArray(), 3, 50_000, "<f8", false);
        var clock = Stopwatch.StartNew();
        AssertBadInput(Run("fit", PathOf("wide.npy"), "-k", "2"), "use --covariance diag or spherical");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"{clock.Elapsed}");
        Assert.Equal(0, Run("fit", PathOf("wide.npy"), "-k", "2", "--covariance", "diag", "--max-iter", "2").Exit);
    }

    [SkippableFact]
    public void DataOverTwoGibibytes_Stream()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "Needs a sparse file.");

        // 140,000,000 × 2 doubles: 2.09 GiB of zeros (a sparse file), read by position beyond 2³¹ bytes.
        string path = PathOf("big.npy");
        string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (140000000, 2), }".PadRight(117) + "\n";
        using (var file = new FileStream(path, FileMode.CreateNew))
        {
            file.Write([0x93, .. "NUMPY"u8, 1, 0, (byte)header.Length, 0, .. Encoding.ASCII.GetBytes(header)]);
            file.SetLength(128 + 140_000_000L * 2 * 8);
        }

        CliRun run = Run("fit", path, "-k", "1", "--max-iter", "1", "--out-of-core", "--covariance", "diag", "-o", PathOf("m.json"));
        Assert.True(run.Exit == 0, run.Error);
        JsonElement model = JsonDocument.Parse(File.ReadAllText(PathOf("m.json"))).RootElement;
        Assert.Equal(140_000_000, model.GetProperty("training_points").GetInt64());
        Assert.Equal([0.0, 0.0], model.GetProperty("means").EnumerateArray().Select(m => m.GetDouble()));
    }

    [SkippableFact]
    public void SamplingAnyNumberOfPointsStreams()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && File.Exists("/dev/full"), "Needs /dev/full.");
        Assert.Equal(0, Run("fit", "-o", PathOf("m.json")).Exit);

        // Two billion points once overflowed an array size before anything was written; now the first block
        // is drawn and written, and the full device refuses it.
        AssertBadInput(Run("sample", PathOf("m.json"), "-n", "2000000000", "-o", "/dev/full"), "No space left on device");
    }

    [Fact]
    public void ModelFileProblemsNameTheFileAndTheField()
    {
        string model = PathOf("m.json");
        Assert.Equal(0, Run("fit", "-o", model).Exit);
        string text = File.ReadAllText(model);

        File.WriteAllBytes(PathOf("bom.json"), [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(text)]);
        Assert.Equal(0, Run("score", PathOf("bom.json")).Exit);

        var edited = System.Text.Json.Nodes.JsonNode.Parse(text)!;
        edited["weights"] = new System.Text.Json.Nodes.JsonArray(-0.5, 1.5);
        File.WriteAllText(PathOf("negative.json"), edited.ToJsonString());
        AssertBadInput(Run("score", PathOf("negative.json")), $"{PathOf("negative.json")}: the field 'weights' is invalid: Weight 0 is -0.5");

        // JSON has no NaN: a string there is a value of the wrong type, named by its field.
        edited = System.Text.Json.Nodes.JsonNode.Parse(text)!;
        edited["covariances"]![0] = "NaN";
        File.WriteAllText(PathOf("nan.json"), edited.ToJsonString());
        AssertBadInput(Run("score", PathOf("nan.json")), "the field 'covariances' has a value of the wrong type");

        var nanModel = Assert.Throws<ArgumentException>(() => EmKernels.Mixtures.GaussianMixtureModel<double>.FromParameters(
            EmKernels.Mixtures.CovarianceType.Full, 2, [1.0], [0, 0], [double.NaN, 0, 0, 1]));
        Assert.Contains("NaN at row 0, column 0", nanModel.Message);
    }

    [Fact]
    public void PredictAndScoreNameLinesAndColumnsAsFitDoes()
    {
        Assert.Equal(0, Run("fit", "-o", PathOf("m.json")).Exit);
        File.WriteAllText(PathOf("bad.csv"), "eruptions,waiting\n1,50\n# a comment\n2,x\n");
        AssertBadInput(Run("predict", PathOf("m.json"), PathOf("bad.csv")), "bad.csv, line 4, column 'waiting': 'x' is not a number");
        AssertBadInput(Run("score", PathOf("m.json"), PathOf("bad.csv")), "bad.csv, line 4, column 'waiting': 'x' is not a number");
        AssertBadInput(Run("fit", PathOf("bad.csv")), "bad.csv, line 4, column 'waiting': 'x' is not a number");

        File.WriteAllText(PathOf("half.csv"), "a,b\n0,1\n1,0\n0.5,1\n1,1\n");
        foreach (string[] streaming in new[] { Array.Empty<string>(), ["--out-of-core"] })
        {
            AssertBadInput(Run(["fit", PathOf("half.csv"), "--model", "bernoulli", "-k", "1", .. streaming]), "half.csv, line 4, column 'a': 0.5 is not 0 or 1");
        }
    }

    [Fact]
    public void RowNamesAsRWritesThemAreLeftOutWithANote()
    {
        File.WriteAllText(PathOf("r.csv"), "\"\",\"a\",\"b\"\n\"Mazda RX4\",1.5,2\n\"Datsun 710\",3,4.5\n\"Valiant\",5,6\n");
        CliRun run = Run("fit", PathOf("r.csv"), "-k", "1", "-o", PathOf("m.json"));
        Assert.Equal(0, run.Exit);
        Assert.Contains("emk: note:", run.Error);
        Assert.Contains("row names", run.Error);
        JsonElement model = JsonDocument.Parse(File.ReadAllText(PathOf("m.json"))).RootElement;
        Assert.Equal(["a", "b"], model.GetProperty("columns").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal([(1.5 + 3 + 5) / 3, (2 + 4.5 + 6) / 3], model.GetProperty("means").EnumerateArray().Select(m => m.GetDouble()).ToArray(), new ToleranceComparer(1e-12));
    }

    private static void AssertBadInput(CliRun run, string message)
    {
        Assert.True(run.Exit == 2, $"exit {run.Exit}: {run.Error}");
        string[] lines = run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("emk: ", lines[0]);
        Assert.Contains(message, lines[0]);
        Assert.DoesNotMatch(@"\bat [\w.`]+\(|Exception", lines[0]);
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

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance * Math.Max(1, Math.Abs(x));

        public int GetHashCode(double obj) => 0;
    }
}
