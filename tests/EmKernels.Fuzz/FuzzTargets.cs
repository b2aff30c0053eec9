using EmKernels.Cli;

namespace EmKernels.Fuzz;

/// <summary>
/// What the fuzzer feeds and what counts as a finding. Each target writes the input to a file and runs the
/// whole <c>emk</c> program on it in-process, as a user would: <c>csv</c> and <c>npy</c> fit the file with a Gaussian
/// and with a categorical mixture (the CSV and .npy readers, validation, inferred categories and a short fit), and the CSV
/// with a hidden Markov model; <c>model</c> scores the embedded data with it and samples from it (the model-file reader and
/// the model it builds); <c>hmm</c> does the same with <c>emk hmm</c> and decodes (the emk-hmm model-file reader). A finding is anything but exit code 0, or 2 with
/// exactly one line on stderr that names no exception type and quotes no more than a short excerpt: an
/// internal error (exit 1), an exception escaping, a stack trace, a flood of echoed input.
/// </summary>
public static class FuzzTargets
{
    /// <summary>The targets, as the fuzzer's first argument names them (and the corpus folders are named).</summary>
    public static readonly string[] Names = ["csv", "npy", "model", "hmm"];

    /// <summary>Runs <paramref name="target"/> on <paramref name="input"/>; throws <see cref="FuzzFindingException"/> on a finding.</summary>
    /// <param name="target">csv, npy, model or hmm.</param>
    /// <param name="input">The file's bytes.</param>
    /// <param name="folder">A folder for the input and output files (reused between runs).</param>
    public static void Run(string target, byte[] input, string folder)
    {
        string file = Path.Combine(folder, target switch { "csv" => "input.csv", "npy" => "input.npy", _ => "model.json" });
        File.WriteAllBytes(file, input);
        string output = Path.Combine(folder, "output.json");
        string[][] runs = target switch
        {
            "csv" => [["fit", file, "-k", "2", "--max-iter", "5", "--threads", "1", "-o", output], ["fit", file, "--model", "categorical", "-k", "2", "--max-iter", "3", "--threads", "1"],
                ["hmm", "fit", file, "--states", "2", "--max-iter", "3", "--threads", "1"]],
            "npy" => [["fit", file, "-k", "2", "--max-iter", "5", "--threads", "1", "-o", output], ["fit", file, "--model", "categorical", "-k", "2", "--max-iter", "3", "--threads", "1"]],
            "model" => [["score", file], ["sample", file, "-n", "5"]],
            "hmm" => [["hmm", "score", file], ["hmm", "decode", file], ["hmm", "sample", file, "-n", "5"]],
            _ => throw new ArgumentException($"Unknown target '{target}' (expected {string.Join(", ", Names)}).", nameof(target)),
        };
        foreach (string[] args in runs)
        {
            Check(args);
        }
    }

    private static void Check(string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit;
        try
        {
            exit = Emk.Run(args, output, error, interactive: false);
        }
        catch (Exception e) when (e is not FuzzFindingException)
        {
            throw new FuzzFindingException($"emk {string.Join(' ', args)} threw {e.GetType().Name}: {e.Message}", e);
        }

        string stderr = error.ToString();
        string[] lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        bool clean = exit switch
        {
            0 => !stderr.Contains("Exception", StringComparison.Ordinal),
            2 => lines.Length == 1 && lines[0].StartsWith("emk: ", StringComparison.Ordinal) && !lines[0].Contains("Exception", StringComparison.Ordinal)
                && !lines[0].Contains("   at ", StringComparison.Ordinal) && lines[0].Length < 2000,
            _ => false,
        };
        if (!clean)
        {
            throw new FuzzFindingException($"emk {string.Join(' ', args)} exited {exit} with: {stderr[..Math.Min(stderr.Length, 500)]}");
        }
    }
}

/// <summary>A fuzz finding: the input made emk misbehave (the message says how).</summary>
public sealed class FuzzFindingException : Exception
{
    /// <summary>Creates the finding.</summary>
    public FuzzFindingException()
    {
    }

    /// <summary>Creates the finding.</summary>
    /// <param name="message">What happened.</param>
    public FuzzFindingException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the finding.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="inner">The exception that escaped.</param>
    public FuzzFindingException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
