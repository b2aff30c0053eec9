using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// <c>emk fit --distributed</c> under MPICH's <c>mpiexec.mpich</c> with 1, 2 and 3 processes (3 oversubscribe the 2
/// cores), through the MPI binding itself: the model file is bitwise the one-process fit's for a full and a diagonal
/// Gaussian mixture, a Bernoulli mixture and stepwise (online) EM; bad data in one process's rows and a missing file end every process
/// promptly with exit code 2, a message naming the rank (and the row and column), and no model file. CI installs
/// MPICH; on a machine without <c>mpiexec.mpich</c> these tests report skipped.
/// </summary>
public sealed class MpiTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("emk-mpi-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private const string Mpich = "mpiexec.mpich", OpenMpi = "mpirun.openmpi";

    private static string? Launcher(string name = Mpich) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(p => Path.Combine(p, name)).FirstOrDefault(File.Exists);

    private static (int Exit, string Output, string Error, TimeSpan Time) Run(int? processes, params string[] arguments) => Run(Mpich, processes, arguments);

    private static (int Exit, string Output, string Error, TimeSpan Time) Run(string launcher, int? processes, params string[] arguments)
    {
        string emk = Path.Combine(AppContext.BaseDirectory, "emk.dll");
        var start = new ProcessStartInfo(processes is null ? "dotnet" : Launcher(launcher)!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (processes is { } p)
        {
            if (launcher == OpenMpi)
            {
                start.ArgumentList.Add("--oversubscribe"); // 3 processes on 2 cores
                start.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"; // CI runs as root
                start.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
            }

            foreach (string argument in (string[])["-n", p.ToString(CultureInfo.InvariantCulture), "dotnet"])
            {
                start.ArgumentList.Add(argument);
            }
        }

        start.ArgumentList.Add(emk);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var clock = Stopwatch.StartNew();
        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"emk {string.Join(' ', arguments)} on {processes} processes hung");
        }

        return (process.ExitCode, output.Result, error.Result, clock.Elapsed);
    }

    /// <summary>A NumPy .npy file of n × d doubles (C order).</summary>
    private static void WriteNpy(string path, double[] values, int n, int d)
    {
        string header = $"{{'descr': '<f8', 'fortran_order': False, 'shape': ({n}, {d}), }}";
        int total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + ((64 - (total % 64)) % 64)) + "\n";
        using var stream = File.Create(path);
        stream.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        stream.Write(BitConverter.GetBytes((ushort)header.Length));
        stream.Write(Encoding.ASCII.GetBytes(header));
        foreach (double value in values)
        {
            stream.Write(BitConverter.GetBytes(value));
        }
    }

    private string Data(string name, bool binary, int n = 12_000, int d = 4)
    {
        var random = new Random(3);
        double[] x = new double[n * d];
        for (int i = 0; i < n; i++)
        {
            int cluster = random.Next(3);
            for (int f = 0; f < d; f++)
            {
                x[i * d + f] = binary
                    ? (random.NextDouble() < (cluster == f % 3 ? 0.85 : 0.1) ? 1 : 0)
                    : 3 * cluster * (f == cluster ? 1 : 0.4) + Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            }
        }

        string path = Path.Combine(_directory, name);
        WriteNpy(path, x, n, d);
        return path;
    }

    private static string Parameters(string modelPath)
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(modelPath));
        JsonElement root = document.RootElement;
        return string.Join("|", new[] { "weights", "means", "covariances", "parameters", "mean_log_likelihood", "iterations" }
            .Where(name => root.TryGetProperty(name, out _)).Select(name => root.GetProperty(name).GetRawText()));
    }

    [SkippableTheory]
    [InlineData("gaussian", "full")]
    [InlineData("gaussian", "diag")]
    [InlineData("bernoulli", null)]
    [InlineData("online", "diag")]
    public void DistributedFits_OnOneTwoAndThreeProcesses_AreBitwiseTheOneProcessFit(string model, string? covariance)
    {
        Skip.If(Launcher() is null, "mpiexec.mpich is not installed (CI installs MPICH)");
        bool online = model == "online";
        model = online ? "gaussian" : model;
        string data = Data($"{model}.npy", binary: model != "gaussian");
        string[] options = ["fit", data, "--model", model, "-k", "3", "--seed", "5",
            .. online ? ["--online", "--batch-size", "3000", "--epochs", "2"] : (string[])["--tol", "1e-6"],
            .. covariance is null ? Array.Empty<string>() : ["--covariance", covariance]];
        string single = Path.Combine(_directory, "single.json");
        var one = Run(null, [.. options, "-o", single]);
        Assert.True(one.Exit == 0, one.Error);
        string expected = Parameters(single);
        foreach (int processes in new[] { 1, 2, 3 })
        {
            string path = Path.Combine(_directory, $"p{processes}.json");
            var run = Run(processes, [.. options, "--distributed", "-o", path]);
            Assert.True(run.Exit == 0, run.Error);
            Assert.Equal(expected, Parameters(path));
            Assert.Contains("model written to", run.Output); // rank 0 prints …
            Assert.Equal(1, run.Output.Split("mean log-likelihood").Length - 1); // … and no other rank does
        }
    }

    [SkippableFact]
    public void BadDataInOneProcesssRows_EndsEveryProcess_NamingTheRankRowAndColumn()
    {
        Skip.If(Launcher() is null, "mpiexec.mpich is not installed (CI installs MPICH)");
        int n = 12_000, d = 4;
        string clean = Data("clean.npy", binary: false, n, d);
        byte[] bytes = File.ReadAllBytes(clean);
        int header = bytes.Length - n * d * 8;
        (long first, _) = EmKernels.Distributed.DistributedExpectationMaximization.Shard(n, 3, 2);
        BitConverter.GetBytes(double.NaN).CopyTo(bytes, header + (int)((first + 7) * d + 2) * 8);
        string bad = Path.Combine(_directory, "bad.npy");
        File.WriteAllBytes(bad, bytes);
        string model = Path.Combine(_directory, "bad.json");
        var run = Run(3, "fit", bad, "-k", "2", "--distributed", "-o", model);
        Assert.Equal(2, run.Exit); // the code the failing process aborted with
        Assert.Contains("emk: rank 2:", run.Error);
        Assert.Contains($"row {first + 8}", run.Error);
        Assert.Contains("column 'x3'", run.Error);
        Assert.False(File.Exists(model));
        Assert.True(run.Time < TimeSpan.FromSeconds(60));
    }

    [SkippableFact]
    public void UnderOpenMpi_TheFitIsBitwiseTheOneProcessFit_AndBadDataEndsEveryProcess()
    {
        Skip.If(Launcher(OpenMpi) is null, "Open MPI's mpirun.openmpi is not installed (CI installs openmpi-bin)");
        int n = 12_000, d = 4;
        string data = Data("open.npy", binary: false, n, d);
        string single = Path.Combine(_directory, "single.json");
        string[] options = ["fit", data, "-k", "3", "--seed", "2", "--tol", "1e-6"];
        var one = Run(null, [.. options, "-o", single]);
        Assert.True(one.Exit == 0, one.Error);
        foreach (int processes in new[] { 2, 3 })
        {
            string path = Path.Combine(_directory, $"open{processes}.json");
            var run = Run(OpenMpi, processes, [.. options, "--distributed", "-o", path]);
            Assert.True(run.Exit == 0, run.Error);
            Assert.Equal(Parameters(single), Parameters(path));
        }

        byte[] bytes = File.ReadAllBytes(data);
        (long first, _) = EmKernels.Distributed.DistributedExpectationMaximization.Shard(n, 3, 1);
        BitConverter.GetBytes(double.PositiveInfinity).CopyTo(bytes, bytes.Length - n * d * 8 + (int)(first * d) * 8);
        string bad = Path.Combine(_directory, "open-bad.npy");
        File.WriteAllBytes(bad, bytes);
        string model = Path.Combine(_directory, "open-bad.json");
        var failed = Run(OpenMpi, 3, "fit", bad, "--distributed", "-o", model);
        Assert.Equal(2, failed.Exit);
        Assert.Contains($"emk: rank 1: {bad}, row {first + 1}, column 'x1'", failed.Error);
        Assert.False(File.Exists(model));
    }

    [SkippableFact]
    public void OneFilePerProcess_OfAnySizes_GivesTheOneProcessFit_AndAMissingOneEndsEveryProcess()
    {
        Skip.If(Launcher() is null, "mpiexec.mpich is not installed (CI installs MPICH)");
        int n = 12_000, d = 4;
        string whole = Data("whole.npy", binary: false, n, d);
        byte[] bytes = File.ReadAllBytes(whole);
        int header = bytes.Length - n * d * 8;
        double[] values = new double[n * d];
        Buffer.BlockCopy(bytes, header, values, 0, n * d * 8);
        int[] cuts = [0, 1_500, 9_100, n]; // not the shards' sizes: rows must move
        for (int r = 0; r < 3; r++)
        {
            WriteNpy(Path.Combine(_directory, $"part-{r}.npy"), values[(cuts[r] * d)..(cuts[r + 1] * d)], cuts[r + 1] - cuts[r], d);
        }

        string single = Path.Combine(_directory, "single.json");
        Assert.Equal(0, Run(null, "fit", whole, "-k", "3", "--seed", "3", "-o", single).Exit);
        string parts = Path.Combine(_directory, "parts.json");
        var run = Run(3, "fit", Path.Combine(_directory, "part-{rank}.npy"), "-k", "3", "--seed", "3", "--distributed", "-o", parts);
        Assert.True(run.Exit == 0, run.Error);
        Assert.Equal(Parameters(single), Parameters(parts));

        string missing = Path.Combine(_directory, "missing.json");
        var failed = Run(4, "fit", Path.Combine(_directory, "part-{rank}.npy"), "--distributed", "-o", missing);
        Assert.Equal(2, failed.Exit);
        Assert.Contains("emk: rank 3: cannot read", failed.Error);
        Assert.Contains("part-3.npy", failed.Error);
        Assert.False(File.Exists(missing));
    }

    [SkippableFact]
    public void AMissingFile_EndsEveryProcess_WithOneLinePerProcessAndNoModel()
    {
        Skip.If(Launcher() is null, "mpiexec.mpich is not installed (CI installs MPICH)");
        string model = Path.Combine(_directory, "missing.json");
        var run = Run(2, "fit", Path.Combine(_directory, "missing.npy"), "--distributed", "-o", model);
        Assert.NotEqual(0, run.Exit);
        Assert.Matches("emk: rank [01]: cannot read", run.Error);
        Assert.False(File.Exists(model));
    }
}
