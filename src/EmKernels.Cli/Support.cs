using EmKernels.IO;
using System.Text.Json;
using EmKernels.Mixtures;

namespace EmKernels.Cli;

/// <summary>Bad input from the user (a file, a value, an option): one line on stderr, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>The names the command line and the model file use for models and covariance types.</summary>
internal static class Names
{
    public static readonly string[] Models = ["gaussian", "t", "bernoulli", "categorical", "binomial", "poisson"];

    /// <summary>Whether a model is of continuous data with a location and a covariance (or scale) matrix: Gaussian or t.</summary>
    public static bool IsContinuous(string model) => model is "gaussian" or "t";

    /// <summary>How a t mixture's ν is estimated (--nu-estimate).</summary>
    public static readonly string[] NuEstimates = ["per-component", "shared", "fixed"];

    public static DegreesOfFreedomEstimate NuEstimate(string name) => name switch
    {
        "shared" => DegreesOfFreedomEstimate.Shared,
        "fixed" => DegreesOfFreedomEstimate.Fixed,
        _ => DegreesOfFreedomEstimate.PerComponent,
    };

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
        _ => throw new UsageException($"{where}: unknown covariance type '{Quoted.Of(name)}' (expected {string.Join(", ", CovarianceTypes)}, factor:Q or one of mclust's {string.Join(" ", Parameterizations)})."),
    };

    /// <summary>mclust's parameterizations by name (EII … VVV; E and V for one feature).</summary>
    public static readonly string[] Parameterizations = [.. Enum.GetNames<ParsimoniousModel>()];

    /// <summary>
    /// A covariance type, <c>factor:Q</c> (a mixture of factor analyzers with Q factors per component), or one of mclust's
    /// parameterizations (EII … VVV, E, V: full D × D covariances under its constraints).
    /// </summary>
    public static (CovarianceType Type, int? Factors, ParsimoniousModel? Parameterization) CovarianceChoice(string name, string where)
    {
        if (Enum.TryParse(name, ignoreCase: false, out ParsimoniousModel parameterization) && Parameterizations.Contains(name))
        {
            return (CovarianceType.Full, null, parameterization);
        }

        if (!name.StartsWith("factor:", StringComparison.Ordinal))
        {
            return (Covariance(name, where), null, null);
        }

        string count = name["factor:".Length..];
        if (!int.TryParse(count, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int q) || q < 1)
        {
            throw new UsageException($"{where}: '{Quoted.Of(name)}' needs a number of factors of at least 1 (factor:Q, for example factor:4).");
        }

        return (CovarianceType.Full, q, null);
    }

    /// <summary>"full", "diag", …, "factor:Q" or mclust's "VEV".</summary>
    public static string Of(CovarianceType type, int? factors, ParsimoniousModel? parameterization = null) =>
        parameterization is { } p ? p.ToString() : factors is { } q ? $"factor:{q}" : Of(type);

    public static DiscreteDistribution Distribution(string model) => model switch
    {
        "bernoulli" => DiscreteDistribution.Bernoulli,
        "categorical" => DiscreteDistribution.Categorical,
        "binomial" => DiscreteDistribution.Binomial,
        _ => DiscreteDistribution.Poisson,
    };

    /// <summary>"Gaussian mixture, K = 2, full covariance".</summary>
    public static string Describe(string model, CovarianceType? covariance, int components, int? factors = null, ParsimoniousModel? parameterization = null) => model switch
    {
        "gaussian" when factors is { } q => $"Mixture of factor analyzers, K = {components}, q = {q}",
        "gaussian" when parameterization is { } p => $"Gaussian mixture, K = {components}, mclust's {p}",
        "gaussian" => $"Gaussian mixture, K = {components}, {Of(covariance!.Value)} covariance",
        "t" => $"t mixture, K = {components}, {Of(covariance!.Value)} scale",
        _ => $"{char.ToUpperInvariant(model[0])}{model[1..]} mixture, K = {components}",
    };
}

/// <summary>Text from files and users as messages quote it: short, escaped, never a flood (<see cref="EmKernels.IO.Excerpt"/>).</summary>
internal static class Quoted
{
    /// <summary>One value: at most 40 characters, control characters escaped.</summary>
    public static string Of(string value) => EmKernels.IO.Excerpt.Of(value);

    /// <summary>A list of names: the first eight, then how many there are in all.</summary>
    public static string List(IReadOnlyList<string> names) =>
        string.Join(", ", names.Take(8).Select(Of)) + (names.Count > 8 ? $", … ({names.Count} in all)" : "");
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

/// <summary>The model files' array fields, written one way.</summary>
internal static class JsonFields
{
    public static void Strings(Utf8JsonWriter json, string name, IEnumerable<string> values)
    {
        json.WriteStartArray(name);
        foreach (string value in values)
        {
            json.WriteStringValue(value);
        }

        json.WriteEndArray();
    }

    public static void Numbers(Utf8JsonWriter json, string name, ReadOnlySpan<double> values)
    {
        json.WriteStartArray(name);
        foreach (double value in values)
        {
            json.WriteNumberValue(value);
        }

        json.WriteEndArray();
    }
}

/// <summary>The library's refusals of the user's data or options, as one-line usage errors (exit code 2).</summary>
internal static class UsageErrors
{
    /// <summary>Runs <paramref name="work"/>; an invalid value or shape (ArgumentException), a malformed file (DataFormatException) or a case the library does not take (NotSupportedException) becomes a usage error naming <paramref name="source"/>.</summary>
    public static T Of<T>(string source, Func<T> work)
    {
        try
        {
            return work();
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"{source}: {Messages.Of(e)}");
        }
        catch (DataFormatException e)
        {
            throw new UsageException(e.Message);
        }
        catch (NotSupportedException e)
        {
            throw new UsageException($"{source}: {e.Message}");
        }
    }
}
