using EmKernels.Fuzz;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// Every input of the fuzzing corpus (tests/EmKernels.Fuzz/corpus: seeds, the inputs of every defect issue 12
/// listed, and whatever afl-fuzz found and was fixed) through the fuzz targets, deterministically: each is a
/// success or one clear line of bad input, never an internal error, an exception or a stack trace.
/// </summary>
public sealed class FuzzCorpusTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("emk-corpus-");

    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (string target in FuzzTargets.Names)
        {
            foreach (string file in Directory.GetFiles(Path.Combine(Corpus(), target)).Order(StringComparer.Ordinal))
            {
                data.Add(target, Path.GetFileName(file));
            }
        }

        return data;
    }

    public void Dispose() => _folder.Delete(recursive: true);

    [Theory]
    [MemberData(nameof(Inputs))]
    public void CorpusInput_IsASuccessOrOneClearLine(string target, string file) =>
        FuzzTargets.Run(target, File.ReadAllBytes(Path.Combine(Corpus(), target, file)), _folder.FullName);

    [Fact]
    public void EveryTargetHasACorpus()
    {
        foreach (string target in FuzzTargets.Names)
        {
            Assert.True(Directory.GetFiles(Path.Combine(Corpus(), target)).Length >= 10, target);
        }
    }

    /// <summary>tests/EmKernels.Fuzz/corpus, found from the test assembly's folder upwards.</summary>
    private static string Corpus()
    {
        for (DirectoryInfo? folder = new(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            string candidate = Path.Combine(folder.FullName, "tests", "EmKernels.Fuzz", "corpus");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("tests/EmKernels.Fuzz/corpus not found above " + AppContext.BaseDirectory);
    }
}
