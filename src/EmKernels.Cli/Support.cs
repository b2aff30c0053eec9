using EmKernels.Mixtures;

namespace EmKernels.Cli;

/// <summary>Bad input from the user (a file, a value, an option): one line on stderr, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>Files written completely or not at all.</summary>
internal static class OutputFile
{
    /// <summary>Writes to a temporary file beside <paramref name="path"/> and renames it over the target when the writer returns.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        string full;
        try
        {
            full = Path.GetFullPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new UsageException($"cannot write '{path}': {e.Message}");
        }

        string temporary = Path.Combine(Path.GetDirectoryName(full) ?? ".", $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write))
            {
                write(stream);
            }

            File.Move(temporary, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            File.Delete(temporary);
            throw new UsageException($"cannot write '{path}': {e.Message}");
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>Writes text to the file, or to <paramref name="console"/> when <paramref name="path"/> is null.</summary>
    public static void WriteText(string? path, TextWriter console, Action<TextWriter> write)
    {
        if (path is null)
        {
            write(console);
            return;
        }

        Write(path, stream =>
        {
            using var writer = new StreamWriter(stream);
            write(writer);
        });
    }
}

/// <summary>The names the command line and the model file use for models and covariance types.</summary>
internal static class Names
{
    public static readonly string[] Models = ["gaussian", "bernoulli", "categorical", "binomial", "poisson"];

    public static readonly string[] CovarianceTypes = ["full", "tied", "diag", "spherical"];

    public static string Of(CovarianceType type) => type switch
    {
        CovarianceType.Full => "full",
        CovarianceType.Tied => "tied",
        CovarianceType.Diagonal => "diag",
        _ => "spherical",
    };

    public static CovarianceType Covariance(string name, string where) => name switch
    {
        "full" => CovarianceType.Full,
        "tied" => CovarianceType.Tied,
        "diag" or "diagonal" => CovarianceType.Diagonal,
        "spherical" => CovarianceType.Spherical,
        _ => throw new UsageException($"{where}: unknown covariance type '{name}' (expected {string.Join(", ", CovarianceTypes)})."),
    };

    public static DiscreteDistribution Distribution(string model) => model switch
    {
        "bernoulli" => DiscreteDistribution.Bernoulli,
        "categorical" => DiscreteDistribution.Categorical,
        "binomial" => DiscreteDistribution.Binomial,
        _ => DiscreteDistribution.Poisson,
    };

    /// <summary>"Gaussian mixture, K = 2, full covariance".</summary>
    public static string Describe(string model, CovarianceType? covariance, int components) => model switch
    {
        "gaussian" => $"Gaussian mixture, K = {components}, {Of(covariance!.Value)} covariance",
        _ => $"{char.ToUpperInvariant(model[0])}{model[1..]} mixture, K = {components}",
    };
}

/// <summary>Library exception messages without the "(Parameter 'x')" suffix, for one-line reports.</summary>
internal static class Messages
{
    public static string Of(ArgumentException e)
    {
        string message = e.Message;
        int suffix = e.ParamName is null ? -1 : message.LastIndexOf($" (Parameter '{e.ParamName}')", StringComparison.Ordinal);
        return suffix >= 0 ? message[..suffix] : message;
    }
}
