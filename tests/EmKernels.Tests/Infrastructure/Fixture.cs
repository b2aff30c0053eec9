using System.Text.Json;

namespace EmKernels.Tests.Infrastructure;

/// <summary>One reference case of ../shared/fixtures (format emk-fixture/1, see FORMAT.md there).</summary>
public sealed class Fixture
{
    private Fixture(string path, JsonElement root)
    {
        Path = path;
        Root = root;
    }

    public string Path { get; }

    public JsonElement Root { get; }

    public string Name => Root.GetProperty("name").GetString()!;

    public string Model => Root.GetProperty("model").GetString()!;

    public int Points => Root.GetProperty("data").GetProperty("n").GetInt32();

    public int Features => Root.GetProperty("data").GetProperty("d").GetInt32();

    public int Components => Root.GetProperty("k").GetInt32();

    public int Iterations => Root.GetProperty("iterations").GetInt32();

    public double RelativeTolerance => Root.GetProperty("tolerance").GetProperty("rel").GetDouble();

    public double AbsoluteTolerance => Root.GetProperty("tolerance").GetProperty("abs").GetDouble();

    public double[] Data => Numbers(Root.GetProperty("data").GetProperty("x"));

    public double[] Init(string key) => Numbers(Root.GetProperty("init").GetProperty(key));

    public double[] Expected(string key) => Numbers(Root.GetProperty("expected").GetProperty(key));

    public bool HasExpected(string key) => Root.GetProperty("expected").TryGetProperty(key, out _);

    public static Fixture Load(string path)
    {
        using var stream = File.OpenRead(path);
        using var document = JsonDocument.Parse(stream);
        return new Fixture(path, document.RootElement.Clone());
    }

    /// <summary>The fixture folder: $EMK_FIXTURES, else ../shared/fixtures beside the repository.</summary>
    public static string Folder()
    {
        string? configured = Environment.GetEnvironmentVariable("EMK_FIXTURES");
        if (!string.IsNullOrEmpty(configured))
        {
            return configured;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "EmKernels.sln")))
            {
                return System.IO.Path.GetFullPath(System.IO.Path.Combine(dir.FullName, "..", "shared", "fixtures"));
            }
        }

        throw new DirectoryNotFoundException("Cannot find the repository root (EmKernels.sln) to locate ../shared/fixtures; set EMK_FIXTURES.");
    }

    /// <summary>
    /// Every fixture file under the folder, recursively, by its path relative to the folder without
    /// ".json" (for example <c>iris-full-k3</c>, <c>latent/faithful-online-full-k2</c>). Throws if the folder is
    /// missing; empty if it holds none.
    /// </summary>
    public static IEnumerable<string> All()
    {
        string folder = Folder();
        return Directory.GetFiles(folder, "*.json", SearchOption.AllDirectories)
            .Select(f => System.IO.Path.GetRelativePath(folder, f)[..^".json".Length].Replace('\\', '/'))
            .Order(StringComparer.Ordinal);
    }

    /// <summary>The <c>format</c> field.</summary>
    public string Format => Root.GetProperty("format").GetString()!;

    /// <summary>An integer array of arrays (the online fixtures' <c>batches</c>).</summary>
    public long[][] Batches(string key) =>
        Root.GetProperty(key).EnumerateArray().Select(batch => batch.EnumerateArray().Select(e => e.GetInt64()).ToArray()).ToArray();

    /// <summary>An integer array at the top level.</summary>
    public int[] Integers(string key) => Root.GetProperty(key).EnumerateArray().Select(e => e.GetInt32()).ToArray();

    /// <summary>The numbers of an array; a null element (a missing value of gaussian-mixture-missing) is NaN.</summary>
    private static double[] Numbers(JsonElement array) => array.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Null ? double.NaN : e.GetDouble()).ToArray();
}

/// <summary>Compares arrays as FORMAT.md §7 says and remembers the worst |diff| / allowed.</summary>
public sealed class FixtureComparison(Fixture fixture)
{
    private readonly List<string> _failures = [];

    public double WorstRatio { get; private set; }

    public string WorstWhere { get; private set; } = "";

    public IReadOnlyList<string> Failures => _failures;

    public void Values(string key, double[] expected, ReadOnlySpan<double> actual)
    {
        if (expected.Length != actual.Length)
        {
            _failures.Add($"{key}: expected {expected.Length} values, got {actual.Length}");
            return;
        }

        for (int i = 0; i < expected.Length; i++)
        {
            double allowed = fixture.AbsoluteTolerance + fixture.RelativeTolerance * Math.Abs(expected[i]);
            double diff = Math.Abs(actual[i] - expected[i]);
            double ratio = double.IsNaN(diff) ? double.PositiveInfinity : diff / allowed;
            if (ratio > WorstRatio)
            {
                WorstRatio = ratio;
                WorstWhere = $"{key}[{i}]";
            }

            if (!(diff <= allowed))
            {
                _failures.Add($"{key}[{i}]: expected {expected[i]:R}, got {actual[i]:R} (|diff| {diff:E2} > allowed {allowed:E2})");
            }
        }
    }

    public void Labels(double[] expected, ReadOnlySpan<int> actual)
    {
        if (expected.Length != actual.Length)
        {
            _failures.Add($"labels: expected {expected.Length}, got {actual.Length}");
            return;
        }

        for (int i = 0; i < expected.Length; i++)
        {
            if ((int)expected[i] != actual[i])
            {
                _failures.Add($"labels[{i}]: expected {(int)expected[i]}, got {actual[i]}");
            }
        }
    }
}
