using System.Diagnostics;
using System.Text.Json;
using EmKernels.Cli;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// What `-o PATH` does to whatever is at PATH: a regular file is replaced whole or not at all, a symbolic
/// link's target is replaced and the link kept, a FIFO or device is written in place, and nothing of
/// another kind is ever replaced; every failure is exit code 2 with one line and no temporary file left,
/// also when the process is stopped by a signal while writing.
/// </summary>
public sealed class CliOutputFileTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("emk-output-tests-");

    public void Dispose() => _folder.Delete(recursive: true);

    [Fact]
    public void ASymbolicLinksTargetIsReplacedAndTheLinkKept()
    {
        string target = PathOf("target.json");
        File.WriteAllText(target, "old");
        File.CreateSymbolicLink(PathOf("link.json"), "target.json");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        }

        Assert.Equal(0, Run("fit", "-o", PathOf("link.json")).Exit);
        Assert.Equal("target.json", new FileInfo(PathOf("link.json")).LinkTarget);
        Assert.Equal("emk-model", ReadModel(target).GetProperty("format").GetString());
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(target));
        }

        AssertNoTemporaryFiles();
    }

    [Fact]
    public void ADanglingLinkGetsItsTargetCreated()
    {
        File.CreateSymbolicLink(PathOf("link.json"), "made.json");
        Assert.Equal(0, Run("fit", "-o", PathOf("link.json")).Exit);
        Assert.Equal("made.json", new FileInfo(PathOf("link.json")).LinkTarget);
        Assert.Equal("emk-model", ReadModel(PathOf("made.json")).GetProperty("format").GetString());
    }

    [SkippableFact]
    public void AFifoIsWrittenInPlace()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "FIFOs are made with mkfifo(1).");
        string fifo = PathOf("pipe");
        Command("mkfifo", fifo);
        Task<string> reader = Task.Run(() => File.ReadAllText(fifo));
        Assert.Equal(0, Run("fit", "-o", fifo).Exit);
        Assert.True(reader.Wait(TimeSpan.FromSeconds(30)));
        Assert.Equal("emk-model", JsonDocument.Parse(reader.Result).RootElement.GetProperty("format").GetString());
        Assert.Equal(OutputFile.Kind.Fifo, OutputFile.KindOf(fifo));
        AssertNoTemporaryFiles();
    }

    [SkippableFact]
    public void DevicesAreWrittenInPlaceAndAFullOneIsAnError()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && File.Exists("/dev/full"), "Needs /dev/null and /dev/full.");
        Assert.Equal(0, Run("fit", "-o", "/dev/null").Exit);
        Assert.Equal(OutputFile.Kind.CharacterDevice, OutputFile.KindOf("/dev/null"));
        AssertBadInput(Run("fit", "-o", "/dev/full"), "cannot write '/dev/full'");
        Assert.Equal(OutputFile.Kind.CharacterDevice, OutputFile.KindOf("/dev/full"));
    }

    [Fact]
    public void AMissingFolderOrADirectoryIsBadInput()
    {
        AssertBadInput(Run("fit", "-o", PathOf(Path.Combine("nodir", "m.json"))), "does not exist");
        AssertBadInput(Run("fit", "-o", _folder.FullName), "is a directory");
        Directory.CreateDirectory(PathOf("sub"));
        File.CreateSymbolicLink(PathOf("to-sub"), "sub");
        AssertBadInput(Run("fit", "-o", PathOf("to-sub")), "is a directory");
        Assert.True(Directory.Exists(PathOf("sub")));
        Assert.Equal(OutputFile.Kind.SymbolicLink, OutputFile.KindOf(PathOf("to-sub")));
        AssertNoTemporaryFiles();
    }

    [Fact]
    public void ALoopOfLinksIsBadInput()
    {
        File.CreateSymbolicLink(PathOf("a"), "b");
        File.CreateSymbolicLink(PathOf("b"), "a");
        AssertBadInput(Run("fit", "-o", PathOf("a")), "symbolic links");
        Assert.Equal("b", new FileInfo(PathOf("a")).LinkTarget);
    }

    [SkippableFact]
    public void StandardOutputIsAppendedToNotReplaced()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "Needs /bin/sh and /dev/stdout.");
        string log = PathOf("log.txt");
        File.WriteAllText(log, "before\n");
        string emk = Path.Combine(AppContext.BaseDirectory, "emk.dll");
        (int exit, _, string error) = Command("sh", "-c", $"dotnet '{emk}' fit -o /dev/stdout >> '{log}'");
        Assert.True(exit == 0, error);
        string text = File.ReadAllText(log);
        Assert.StartsWith("before\n{", text);
        Assert.Contains("\"format\": \"emk-model\"", text);
    }

    [SkippableTheory]
    [InlineData("TERM")]
    [InlineData("INT")]
    public void ASignalWhileWritingLeavesNoTemporaryFile(string signal)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "Signals are sent with kill(1).");
        string model = PathOf("m.json");
        Assert.Equal(0, Run("fit", "-o", model).Exit);
        string emk = Path.Combine(AppContext.BaseDirectory, "emk.dll");
        string output = PathOf("drawn.csv");

        // 50 million points take a minute to write: the signal comes while the temporary file grows.
        using var process = Process.Start(new ProcessStartInfo("dotnet", [emk, "sample", model, "-n", "50000000", "-o", output]) { RedirectStandardError = true })!;
        try
        {
            Interrupt(process, signal);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }

        AssertNoTemporaryFiles();
        Assert.False(File.Exists(output));
    }

    private void Interrupt(Process process, string signal)
    {
        var clock = Stopwatch.StartNew();
        while (!_folder.GetFiles("*.tmp", new EnumerationOptions { AttributesToSkip = 0 }).Any(f => f.Length > 0) && clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            Thread.Sleep(20);
        }

        Assert.NotEmpty(_folder.GetFiles("*.tmp", new EnumerationOptions { AttributesToSkip = 0 }));
        Command("kill", $"-{signal}", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(process.WaitForExit(30_000));
        Assert.NotEqual(0, process.ExitCode);
    }

    [Fact]
    public void SampledPointsAreStreamedInBlocksThatEqualOneDraw()
    {
        string model = PathOf("m.json");
        Assert.Equal(0, Run("fit", "-o", model).Exit);
        var fitted = ModelFile.Read(model).Mixture();
        CliRun run = Run("sample", model, "-n", "70000", "--seed", "5", "-o", PathOf("drawn.csv"));
        Assert.Equal(0, run.Exit);
        string[] lines = File.ReadAllLines(PathOf("drawn.csv"));
        Assert.Equal(70_001, lines.Length);

        double[] points = new double[70_000 * 2];
        int[] labels = new int[70_000];
        fitted.Sample(points, labels, new Random(5));
        Assert.Equal(points[^2..], lines[^1].Split(',').Take(2).Select(s => double.Parse(s, System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(labels[65_536], int.Parse(lines[65_537].Split(',')[2], System.Globalization.CultureInfo.InvariantCulture));
    }

    private void AssertNoTemporaryFiles() =>
        Assert.Empty(_folder.GetFiles("*.tmp", new EnumerationOptions { AttributesToSkip = 0, RecurseSubdirectories = true }));

    private static void AssertBadInput(CliRun run, string message)
    {
        Assert.Equal(2, run.Exit);
        string[] lines = run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("emk: ", lines[0]);
        Assert.Contains(message, lines[0]);
        Assert.DoesNotContain("Exception", lines[0]);
    }

    private static JsonElement ReadModel(string path) => JsonDocument.Parse(File.ReadAllText(path)).RootElement.Clone();

    private static (int Exit, string Output, string Error) Command(string file, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        string output = process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output, error);
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
