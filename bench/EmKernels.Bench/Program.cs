using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Exporters.Csv;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;

namespace EmKernels.Bench;

/// <summary>
/// Runs the kernel benchmarks. Results go to perf-results/ (GitHub markdown and CSV, with BenchmarkDotNet's
/// machine and runtime header); pass BenchmarkDotNet's usual arguments, e.g. <c>--filter *LogSumExp*</c>.
/// <c>iterate ...</c> runs the side-by-side timing command instead (see <see cref="IterateCommand"/>).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "iterate")
        {
            return IterateCommand.Run(args);
        }

        if (args.Length > 0 && args[0] == "kernel-rate")
        {
            return KernelRateCommand.Run(args);
        }

        if (args.Length > 0 && args[0] == "stream")
        {
            return StreamCommand.RunStream(args);
        }

        if (args.Length > 0 && args[0] == "online")
        {
            return StreamCommand.RunOnline(args);
        }

        if (args.Length > 0 && args[0] == "vb")
        {
            return VariationalCommand.Run(args);
        }

        if (args.Length > 0 && args[0] == "mfa")
        {
            return FactorMixtureCommand.Run(args);
        }

        if (args.Length > 0 && args[0] == "hmm-lanes")
        {
            return MarkovLanesCommand.Run(args);
        }

        if (args.Length > 0 && args[0] == "hmm")
        {
            return HiddenMarkovCommand.Run(args);
        }

        if (args.Length > 0 && args[0] == "fa")
        {
            return FactorAnalysisCommand.Run(args);
        }

        if (args.Length > 0 && args[0] is "distributed" or "exchange")
        {
            return DistributedCommand.Run(args);
        }

        if (args.Length > 0 && args[0] == "probe")
        {
            return ProbeCommand.Run(args);
        }

        string artifacts = Path.Combine(FindRepositoryRoot(), "perf-results", "kernels");
        IConfig config = ManualConfig.CreateEmpty()
            .AddJob(Job.Default.WithWarmupCount(4).WithIterationCount(10).WithLaunchCount(1))
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .AddLogger(BenchmarkDotNet.Loggers.ConsoleLogger.Default)
            .AddExporter(MarkdownExporter.GitHub, CsvExporter.Default)
            .WithArtifactsPath(artifacts)
            .WithOptions(ConfigOptions.DisableLogFile);
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
        return summaries.Any(s => s.HasCriticalValidationErrors) ? 1 : 0;
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EmKernels.sln")))
            {
                return dir.FullName;
            }
        }

        return Directory.GetCurrentDirectory();
    }
}
