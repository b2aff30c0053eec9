using System.Text.Json;
using EmKernels.Mixtures;

namespace EmKernels.Cli;

/// <summary>
/// The model file: versioned JSON that <c>emk fit</c> and <c>emk select</c> write and <c>predict</c>,
/// <c>score</c> and <c>sample</c> read back exactly (doubles are written shortest-round-trip). The
/// layout of the parameter arrays is that of the fixtures' FORMAT.md §4; README.md documents every field.
/// </summary>
internal sealed record ModelFile
{
    public const string FormatName = "emk-model";
    public const int FormatVersion = 1;

    private IMixture? _mixture;

    /// <summary>gaussian, bernoulli, categorical, binomial or poisson.</summary>
    public required string Model { get; init; }

    /// <summary>Gaussian only.</summary>
    public CovarianceType? Covariance { get; init; }

    public required string[] Columns { get; init; }

    public int Categories { get; init; } = 1;

    public int Trials { get; init; } = 1;

    public required double[] Weights { get; init; }

    /// <summary>Gaussian: K × D means; otherwise empty.</summary>
    public double[] Means { get; init; } = [];

    /// <summary>Gaussian: covariances in the type's layout; discrete: probabilities or rates.</summary>
    public required double[] Parameters { get; init; }

    /// <summary>Whether the model was fitted, and is evaluated, in float32.</summary>
    public bool Float32 { get; init; }

    public required FitSummary Fit { get; init; }

    public required FitSettings Options { get; init; }

    public int Components => Weights.Length;

    public int Features => Columns.Length;

    /// <summary>The JSON key of a model's <see cref="Parameters"/>: covariances, probs or rates (FORMAT.md §4).</summary>
    private static string ParameterKey(string model) => model switch
    {
        "gaussian" => "covariances",
        "poisson" => "rates",
        _ => "probs",
    };

    /// <summary>Writes the file, or nothing: the JSON goes to a temporary file that is renamed over <paramref name="path"/> when complete.</summary>
    public void Write(string path) => OutputFile.Write(path, stream =>
    {
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("format", FormatName);
        json.WriteNumber("version", FormatVersion);
        json.WriteString("model", Model);
        if (Covariance is { } covariance)
        {
            json.WriteString("covariance_type", Names.Of(covariance));
        }

        json.WriteNumber("components", Components);
        json.WriteNumber("features", Features);
        WriteArray(json, "columns", Columns);
        if (Model == "categorical")
        {
            json.WriteNumber("categories", Categories);
        }

        if (Model == "binomial")
        {
            json.WriteNumber("trials", Trials);
        }

        json.WriteBoolean("float32", Float32);
        WriteArray(json, "weights", Weights);
        if (Model == "gaussian")
        {
            WriteArray(json, "means", Means);
        }

        WriteArray(json, ParameterKey(Model), Parameters);
        json.WriteNumber("mean_log_likelihood", Fit.MeanLogLikelihood);
        json.WriteNumber("bic", Fit.Bic);
        json.WriteNumber("aic", Fit.Aic);
        json.WriteBoolean("converged", Fit.Converged);
        json.WriteNumber("iterations", Fit.Iterations);
        json.WriteNumber("training_points", Fit.Points);
        json.WriteString("data", Fit.Data);
        json.WritePropertyName("options");
        Options.Write(json);
        json.WriteEndObject();
    });

    /// <summary>Reads and validates a model file; any problem is a <see cref="UsageException"/> naming the file.</summary>
    public static ModelFile Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new UsageException($"cannot read '{path}': {e.Message}");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes);
        }
        catch (JsonException e)
        {
            throw new UsageException($"{path} is not an emk model file: it is not valid JSON ({e.Message})");
        }

        using (document)
        {
            var root = new JsonFields(document.RootElement, path);
            string? format = root.OptionalString("format");
            if (format != FormatName)
            {
                throw new UsageException($"{path} is not an emk model file (its format is {(format is null ? "not given" : $"'{format}'")}, expected '{FormatName}').");
            }

            int version = root.Int("version");
            if (version != FormatVersion)
            {
                throw new UsageException($"{path} is an emk model of format version {version}; this emk reads version {FormatVersion}.");
            }

            string model = root.String("model");
            if (!Names.Models.Contains(model))
            {
                throw new UsageException($"{path}: unknown model '{model}' (expected {string.Join(", ", Names.Models)}).");
            }

            CovarianceType? covariance = model == "gaussian" ? Names.Covariance(root.String("covariance_type"), path) : null;
            string[] columns = root.Strings("columns");
            double[] weights = root.Numbers("weights");
            int components = root.Int("components"), features = root.Int("features");
            if (components != weights.Length || features != columns.Length)
            {
                throw new UsageException($"{path}: components ({components}) and features ({features}) do not match the {weights.Length} weights and {columns.Length} columns.");
            }

            var file = new ModelFile
            {
                Model = model,
                Covariance = covariance,
                Columns = columns,
                Categories = model == "categorical" ? root.Int("categories") : 1,
                Trials = model == "binomial" ? root.Int("trials") : 1,
                Weights = weights,
                Means = model == "gaussian" ? root.Numbers("means") : [],
                Parameters = root.Numbers(ParameterKey(model)),
                Float32 = root.Bool("float32"),
                Fit = new FitSummary(
                    root.Number("mean_log_likelihood"), root.Number("bic"), root.Number("aic"), root.Bool("converged"),
                    root.Int("iterations"), root.Int("training_points"), root.String("data"), TimeSpan.Zero),
                Options = FitSettings.Read(root.Object("options")),
            };
            file.Mixture(); // validates the parameters now, with the file named
            return file;
        }
    }

    /// <summary>The library model with these parameters, in the precision the model was fitted in; built (and validated) once.</summary>
    public IMixture Mixture()
    {
        try
        {
            return _mixture ??= Float32 ? Build<float>() : Build<double>();
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"the model's parameters are invalid: {Messages.Of(e)}");
        }
    }

    private Mixture<T> Build<T>()
        where T : unmanaged, System.Numerics.IBinaryFloatingPointIeee754<T>
    {
        MixtureModel<T> model = Model == "gaussian"
            ? GaussianMixtureModel<T>.FromParameters(Covariance!.Value, Features, Weights, Means, Parameters)
            : DiscreteMixtureModel<T>.FromParameters(Names.Distribution(Model), Features, Weights, Parameters, Categories, Trials);
        return new Mixture<T>(model);
    }

    private static void WriteArray(Utf8JsonWriter json, string name, IEnumerable<double> values)
    {
        json.WriteStartArray(name);
        foreach (double value in values)
        {
            json.WriteNumberValue(value);
        }

        json.WriteEndArray();
    }

    private static void WriteArray(Utf8JsonWriter json, string name, IEnumerable<string> values)
    {
        json.WriteStartArray(name);
        foreach (string value in values)
        {
            json.WriteStringValue(value);
        }

        json.WriteEndArray();
    }
}

/// <summary>How a fit went: what the summary prints and the model file records.</summary>
internal sealed record FitSummary(double MeanLogLikelihood, double Bic, double Aic, bool Converged, int Iterations, int Points, string Data, TimeSpan Time);

/// <summary>Typed access to a JSON object's fields; a missing or mistyped field is a <see cref="UsageException"/> naming the file and field.</summary>
internal sealed class JsonFields(JsonElement element, string path)
{
    public string String(string name) => Get(name, JsonValueKind.String).GetString()!;

    public string? OptionalString(string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public int Int(string name) => Get(name, JsonValueKind.Number).TryGetInt32(out int value) ? value : throw Bad(name, "an integer");

    public int? OptionalInt(string name) => Has(name) ? Int(name) : null;

    public double Number(string name) => Get(name, JsonValueKind.Number).GetDouble();

    public double? OptionalNumber(string name) => Has(name) ? Number(name) : null;

    public bool Bool(string name)
    {
        JsonElement value = Get(name, null);
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Bad(name, "true or false"),
        };
    }

    public double[] Numbers(string name) =>
        Get(name, JsonValueKind.Array).EnumerateArray().Select(v => v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw Bad(name, "an array of numbers")).ToArray();

    public string[] Strings(string name) =>
        Get(name, JsonValueKind.Array).EnumerateArray().Select(v => v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Bad(name, "an array of strings")).ToArray();

    public JsonFields Object(string name) => new(Get(name, JsonValueKind.Object), path);

    private bool Has(string name) => element.TryGetProperty(name, out JsonElement value) && value.ValueKind != JsonValueKind.Null;

    private JsonElement Get(string name, JsonValueKind? kind)
    {
        if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(name, out JsonElement value))
        {
            throw new UsageException($"{path}: the field '{name}' is missing.");
        }

        return kind is null || value.ValueKind == kind ? value : throw Bad(name, kind switch
        {
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            JsonValueKind.Array => "an array",
            _ => "an object",
        });
    }

    private UsageException Bad(string name, string expected) => new($"{path}: the field '{name}' must be {expected}.");
}
