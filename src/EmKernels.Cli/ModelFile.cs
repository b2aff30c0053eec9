using System.Text.Json;
using System.Text.Json.Serialization;
using EmKernels.Mixtures;

namespace EmKernels.Cli;

/// <summary>
/// The model file: versioned JSON that <c>emk fit</c> and <c>emk select</c> write and <c>predict</c>,
/// <c>score</c> and <c>sample</c> read back exactly (doubles are written shortest-round-trip), through a
/// source-generated <see cref="JsonSerializerContext"/> and then validated field by field. Version 2 adds
/// the state of an online fit (to resume it) and how the data were read; version 1 files still read.
/// The layout of the parameter arrays is that of the fixtures' FORMAT.md §4; README.md documents every field.
/// </summary>
internal sealed record ModelFile
{
    public const string FormatName = "emk-model";
    public const int FormatVersion = 2;

    /// <summary>Version 3 is version 2 with <c>covariance_scale_exponent</c>, written only when it is not 0 (so older readers refuse such a file rather than misread it).</summary>
    public const int ScaledFormatVersion = 3;

    /// <summary>Version 4 adds the <c>variational</c> object of a variational Bayesian fit (older readers refuse it rather than evaluate it as a plain mixture).</summary>
    public const int VariationalFormatVersion = 4;

    private IMixture? _mixture;
    private GaussianMixtureModel<double>? _gaussian;
    private Latent.FactorMixtureModel<double>? _factors;

    /// <summary>The file it was read from (for messages), or null for a model made by a fit.</summary>
    public string? SourcePath { get; init; }

    /// <summary>gaussian, bernoulli, categorical, binomial or poisson.</summary>
    public required string Model { get; init; }

    /// <summary>Gaussian only.</summary>
    public CovarianceType? Covariance { get; init; }

    /// <summary>Gaussian: mclust's parameterization of the (full) covariances, or null.</summary>
    public ParsimoniousModel? Parameterization { get; init; }

    /// <summary>Gaussian: q of a mixture of factor analyzers (then <see cref="Parameters"/> are the K × D × q loadings and the K × D noise variances); null otherwise.</summary>
    public int? Factors { get; init; }

    public required string[] Columns { get; init; }

    public int Categories { get; init; } = 1;

    public int Trials { get; init; } = 1;

    public required double[] Weights { get; init; }

    /// <summary>Gaussian: K × D means; otherwise empty.</summary>
    public double[] Means { get; init; } = [];

    /// <summary>Gaussian: covariances in the type's layout; discrete: probabilities or rates.</summary>
    public required double[] Parameters { get; init; }

    /// <summary>t: the degrees of freedom ν_k (K); otherwise null.</summary>
    public double[]? DegreesOfFreedom { get; init; }

    /// <summary>Gaussian: q, the covariances being Σ·2^−2q (0 unless Σ is beyond double's range).</summary>
    public int CovarianceScaleExponent { get; init; }

    /// <summary>Whether the model was fitted, and is evaluated, in float32.</summary>
    public bool Float32 { get; init; }

    public required FitSummary Fit { get; init; }

    public required FitSettings Options { get; init; }

    /// <summary>An online fit's state (the stepwise driver's checkpoint), or null.</summary>
    public OnlineState? Online { get; init; }

    /// <summary>A variational Bayesian fit's prior and expected counts (then <see cref="Weights"/>, <see cref="Means"/> and the covariances are q's posterior means), or null.</summary>
    public VariationalState? Variational { get; init; }

    public int Components => Weights.Length;

    /// <summary>Gaussian with mclust's noise component: log(1/V), its constant log-density (the last weight is its); null without.</summary>
    public double? NoiseLogDensity { get; init; }

    /// <summary>The Gaussian (or other parametric) components: all of them, or all but the noise component.</summary>
    public int Gaussians => NoiseLogDensity is null ? Components : Components - 1;

    public int Features => Columns.Length;

    /// <summary>Writes the file, or nothing: the JSON goes to a temporary file that is renamed over <paramref name="path"/> when complete.</summary>
    public void Write(string path) => OutputFile.Write(path, stream => JsonSerializer.Serialize(stream, ToDocument(), ModelJson.Default.ModelDocument));

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

        if (bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            bytes = bytes[3..]; // a UTF-8 byte-order mark, as some editors write
        }

        ModelDocument? document;
        try
        {
            // Well-formed JSON of this format and a version this emk reads, before any field is interpreted.
            using JsonDocument json = JsonDocument.Parse(bytes);
            JsonElement root = json.RootElement;
            string? format = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("format", out JsonElement f) && f.ValueKind == JsonValueKind.String ? f.GetString() : null;
            if (format != FormatName)
            {
                throw new UsageException($"{path} is not an emk model file (its format is {(format is null ? "not given" : $"'{Quoted.Of(format)}'")}, expected '{FormatName}').");
            }

            if (root.TryGetProperty("version", out JsonElement v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int version) && version is not (1 or 2 or 3 or 4))
            {
                throw new UsageException($"{path} is an emk model of format version {version}; this emk reads versions 1 to 4.");
            }
        }
        catch (JsonException e)
        {
            // Where, not what: the reader's message quotes the file, lines of it.
            throw new UsageException($"{path} is not an emk model file: it is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}).");
        }
        catch (InvalidOperationException)
        {
            throw new UsageException($"{path} is not an emk model file: a string in it is not valid UTF-8.");
        }

        try
        {
            document = JsonSerializer.Deserialize(bytes, ModelJson.Default.ModelDocument);
        }
        catch (JsonException e)
        {
            string field = e.Path is { Length: > 2 } p ? p[2..].Split('.', '[')[0] : "?";
            throw new UsageException($"{path}: the field '{Quoted.Of(field)}' has a value of the wrong type ({Quoted.Of(e.Path ?? "?")}).");
        }
        catch (InvalidOperationException)
        {
            throw new UsageException($"{path} is not an emk model file: a string in it is not valid UTF-8.");
        }

        if (document is null)
        {
            throw new UsageException($"{path} is not an emk model file (it is not a JSON object).");
        }

        ModelFile file = FromDocument(document, path) with { SourcePath = path };
        file.Mixture(); // validates the parameters now, with the file named
        return file;
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
            string field = e.ParamName switch
            {
                "weights" => "weights",
                "means" => "means",
                "covariances" => "covariances",
                "loadings" => "loadings",
                "noiseVariances" => "noise_variances",
                "logNoiseDensity" => "noise_log_density",
                "parameters" => Model == "poisson" ? "rates" : "probs",
                _ => e.ParamName ?? "?",
            };
            throw new UsageException($"{SourcePath ?? "the model"}: the field '{field}' is invalid: {Messages.Of(e)}");
        }
    }

    /// <summary>A Gaussian model's parameters as a library model in double, for summaries (covariances, log-determinants); built once.</summary>
    public GaussianMixtureModel<double> GaussianInDouble() =>
        _gaussian ??= _mixture is Mixture<double> { Model: GaussianMixtureModel<double> built }
            ? built
            : GaussianOf<double>();

    /// <summary>A Gaussian model's parameters as a library model, with its noise component if it has one.</summary>
    private GaussianMixtureModel<T> GaussianOf<T>()
        where T : unmanaged, System.Numerics.IBinaryFloatingPointIeee754<T>
    {
        if (NoiseLogDensity is { } logDensity)
        {
            if (Parameterization is not { } parameterization)
            {
                throw new ArgumentException("A noise component belongs to one of mclust's parameterizations (covariance_type EII … VVV, E, V).", "noise_log_density");
            }

            return GaussianMixtureModel<T>.FromNoiseParameters(parameterization, logDensity, Features, Weights, Means, Parameters, CovarianceScaleExponent);
        }

        return GaussianMixtureModel<T>.FromParameters(Covariance!.Value, Features, Weights, Means, Parameters, CovarianceScaleExponent, Parameterization);
    }

    /// <summary>A mixture of factor analyzers' parameters as a library model in double, for summaries; built once.</summary>
    public Latent.FactorMixtureModel<double> FactorsInDouble() =>
        _factors ??= _mixture is Mixture<double> { Model: Latent.FactorMixtureModel<double> built } ? built : Factor<double>();

    /// <summary>The loadings (K × D × q) of a mixture of factor analyzers.</summary>
    public ReadOnlySpan<double> Loadings => Parameters.AsSpan(0, Components * Features * (Factors ?? 0));

    /// <summary>The noise variances (K × D) of a mixture of factor analyzers.</summary>
    public ReadOnlySpan<double> NoiseVariances => Parameters.AsSpan(Components * Features * (Factors ?? 0));

    private Latent.FactorMixtureModel<T> Factor<T>()
        where T : unmanaged, System.Numerics.IBinaryFloatingPointIeee754<T>
    {
        int loadings = Components * Features * Factors!.Value;
        if (Parameters.Length != loadings + Components * Features)
        {
            throw new ArgumentException($"Expected {loadings} loadings and {Components * Features} noise variances, got {Parameters.Length} values.", "loadings");
        }

        return Latent.FactorMixtureModel<T>.FromParameters(Features, Factors!.Value, Latent.FactorNoise.Diagonal, Weights, Means, Parameters[..loadings], Parameters[loadings..]);
    }

    private IMixture Build<T>()
        where T : unmanaged, System.Numerics.IBinaryFloatingPointIeee754<T>
    {
        if (Variational is { } v)
        {
            BayesianGaussianMixtureModel<T> variational;
            try
            {
                variational = BayesianGaussianMixtureModel<T>.FromParameters(
                    Covariance!.Value, Features, v.WeightPrior, v.Prior, v.ExpectedCounts, Means, Parameters, v.RegCovar, CovarianceScaleExponent, v.EffectiveCountThreshold);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException(e.Message, e.ParamName switch
                {
                    "prior" => "variational (prior)",
                    "expectedCounts" => "variational.expected_counts",
                    _ => e.ParamName,
                }, e);
            }

            return new VariationalMixture<T>(variational);
        }

        MixtureModel<T> model = Model == "t"
            ? StudentTMixtureModel<T>.FromParameters(Covariance!.Value, Features, Weights, Means, Parameters, DegreesOfFreedom ?? [])
            : Model != "gaussian"
            ? DiscreteMixtureModel<T>.FromParameters(Names.Distribution(Model), Features, Weights, Parameters, Categories, Trials)
            : Factors is not null
                ? Factor<T>()
                : Options.Missing
                ? GaussianMixtureModel<T>.FromParameters(Covariance!.Value, Features, Weights, Means, Parameters, CovarianceScaleExponent, Parameterization).WithMissingValues(MissingValues.Marginalize)
                : GaussianOf<T>();
        return new Mixture<T>(model);
    }

    private ModelDocument ToDocument() => new()
    {
        Format = FormatName,
        Version = Variational is not null ? VariationalFormatVersion : CovarianceScaleExponent != 0 ? ScaledFormatVersion : FormatVersion,
        CovarianceScaleExponent = CovarianceScaleExponent != 0 ? CovarianceScaleExponent : null,
        Model = Model,
        CovarianceType = Factors is not null ? "factor" : Parameterization is { } parameterization ? parameterization.ToString() : Covariance is { } covariance ? Names.Of(covariance) : null,
        Factors = Factors,
        Loadings = Factors is not null ? Loadings.ToArray() : null,
        NoiseVariances = Factors is not null ? NoiseVariances.ToArray() : null,
        Components = Components,
        NoiseLogDensity = NoiseLogDensity,
        Features = Features,
        Columns = Columns,
        Categories = Model == "categorical" ? Categories : null,
        Trials = Model == "binomial" ? Trials : null,
        Float32 = Float32,
        Weights = Weights,
        Means = Names.IsContinuous(Model) ? Means : null,
        Covariances = Names.IsContinuous(Model) && Factors is null ? Parameters : null,
        DegreesOfFreedom = DegreesOfFreedom,
        Rates = Model == "poisson" ? Parameters : null,
        Probs = Model is "bernoulli" or "categorical" or "binomial" ? Parameters : null,
        MeanLogLikelihood = Fit.MeanLogLikelihood,
        Bic = Fit.Bic,
        Aic = Fit.Aic,
        Converged = Fit.Converged,
        Iterations = Fit.Iterations,
        TrainingPoints = Fit.Points,
        Data = Fit.Data,
        Options = Options.ToDocument(),
        Online = Online is { } online ? new OnlineDocument
        {
            Steps = online.Steps,
            Epoch = online.Epoch,
            BatchInEpoch = online.BatchInEpoch,
            Checkpoint = Convert.ToBase64String(online.Checkpoint),
        } : null,
        Variational = Variational is { } v ? new VariationalDocument
        {
            WeightPrior = v.WeightPrior == WeightPrior.DirichletProcess ? "dirichlet-process" : "dirichlet-distribution",
            WeightConcentration = v.Prior.WeightConcentration,
            MeanPrecision = v.Prior.MeanPrecision,
            Mean = v.Prior.Mean,
            DegreesOfFreedom = v.Prior.DegreesOfFreedom,
            Covariance = v.Prior.Covariance,
            RegCovar = v.RegCovar,
            ExpectedCounts = v.ExpectedCounts,
            ElboPerPoint = v.ElboPerPoint,
            ScikitLearnLowerBound = v.ScikitLearnLowerBound,
            EffectiveCountThreshold = v.EffectiveCountThreshold,
            EffectiveComponents = v.EffectiveComponents,
        } : null,
    };

    private static ModelFile FromDocument(ModelDocument d, string path)
    {
        T Required<T>(T? value, string name)
            where T : class => value ?? throw new UsageException($"{path}: the field '{name}' is missing.");
        T Value<T>(T? value, string name)
            where T : struct => value ?? throw new UsageException($"{path}: the field '{name}' is missing.");

        if (d.Format != FormatName)
        {
            throw new UsageException($"{path} is not an emk model file (its format is {(d.Format is null ? "not given" : $"'{Quoted.Of(d.Format)}'")}, expected '{FormatName}').");
        }

        int version = Value(d.Version, "version");
        if (version is not (1 or 2 or 3 or 4))
        {
            throw new UsageException($"{path} is an emk model of format version {version}; this emk reads versions 1 to 4.");
        }

        string model = Required(d.Model, "model");
        if (!Names.Models.Contains(model))
        {
            throw new UsageException($"{path}: unknown model '{Quoted.Of(model)}' (expected {string.Join(", ", Names.Models)}).");
        }

        bool factor = model == "gaussian" && d.CovarianceType == "factor";
        ParsimoniousModel? parameterization = model == "gaussian" && !factor && d.CovarianceType is { } typeName && Names.Parameterizations.Contains(typeName)
            ? Enum.Parse<ParsimoniousModel>(typeName)
            : null;
        CovarianceType? covariance = !Names.IsContinuous(model) ? null : factor || parameterization is not null ? CovarianceType.Full : Names.Covariance(Required(d.CovarianceType, "covariance_type"), path);
        int? factors = factor ? Value(d.Factors, "factors") : null;
        if (factors is < 0 || factors > d.Features)
        {
            throw new UsageException($"{path}: the field 'factors' is {factors}; it must be in 0 … the number of features.");
        }
        string[] columns = Required(d.Columns, "columns");
        double[] weights = Required(d.Weights, "weights");
        int components = Value(d.Components, "components"), features = Value(d.Features, "features");
        if (components != weights.Length || features != columns.Length)
        {
            throw new UsageException($"{path}: components ({components}) and features ({features}) do not match the {weights.Length} weights and {columns.Length} columns.");
        }

        if (d.NoiseLogDensity is not null && parameterization is null)
        {
            throw new UsageException($"{path}: a 'noise_log_density' belongs to a Gaussian mixture of one of mclust's parameterizations (covariance_type EII … VVV, E, V).");
        }

        string key = model switch { "gaussian" or "t" => "covariances", "poisson" => "rates", _ => "probs" };
        OnlineState? online = null;
        if (d.Online is { } o)
        {
            byte[] checkpoint;
            try
            {
                checkpoint = Convert.FromBase64String(Required(o.Checkpoint, "online.checkpoint"));
            }
            catch (FormatException)
            {
                throw new UsageException($"{path}: the field 'online.checkpoint' is not base64.");
            }

            online = new OnlineState(Value(o.Steps, "online.steps"), Value(o.Epoch, "online.epoch"), Value(o.BatchInEpoch, "online.batch_in_epoch"), checkpoint);
        }

        VariationalState? variational = null;
        if (d.Variational is { } vb)
        {
            if (model != "gaussian" || factor)
            {
                throw new UsageException($"{path}: a 'variational' object belongs to a Gaussian mixture of the full, tied, diag or spherical type.");
            }

            string weightPrior = Required(vb.WeightPrior, "variational.weight_prior");
            variational = new VariationalState(
                weightPrior switch
                {
                    "dirichlet-process" => WeightPrior.DirichletProcess,
                    "dirichlet-distribution" => WeightPrior.DirichletDistribution,
                    _ => throw new UsageException($"{path}: the field 'variational.weight_prior' is '{Quoted.Of(weightPrior)}'; expected dirichlet-process or dirichlet-distribution."),
                },
                new BayesianMixturePrior(
                    Value(vb.WeightConcentration, "variational.weight_concentration_prior"), Value(vb.MeanPrecision, "variational.mean_precision_prior"),
                    Required(vb.Mean, "variational.mean_prior"), Value(vb.DegreesOfFreedom, "variational.degrees_of_freedom_prior"), Required(vb.Covariance, "variational.covariance_prior")),
                Value(vb.RegCovar, "variational.reg_covar"),
                Required(vb.ExpectedCounts, "variational.expected_counts"),
                Value(vb.ElboPerPoint, "variational.elbo_per_point"),
                vb.ScikitLearnLowerBound ?? double.NaN,
                Value(vb.EffectiveCountThreshold, "variational.effective_count_threshold"),
                Value(vb.EffectiveComponents, "variational.effective_components"));
        }

        return new ModelFile
        {
            Model = model,
            Covariance = covariance,
            Factors = factors,
            Parameterization = parameterization,
            NoiseLogDensity = d.NoiseLogDensity,
            Columns = columns,
            Categories = model == "categorical" ? Value(d.Categories, "categories") : 1,
            Trials = model == "binomial" ? Value(d.Trials, "trials") : 1,
            Weights = weights,
            Means = Names.IsContinuous(model) ? Required(d.Means, "means") : [],
            CovarianceScaleExponent = model == "gaussian" ? d.CovarianceScaleExponent ?? 0 : 0,
            Parameters = factor
                ? [.. Required(d.Loadings, "loadings"), .. Required(d.NoiseVariances, "noise_variances")]
                : Required(model switch { "gaussian" or "t" => d.Covariances, "poisson" => d.Rates, _ => d.Probs }, key),
            DegreesOfFreedom = model == "t" ? Required(d.DegreesOfFreedom, "degrees_of_freedom") : null,
            Float32 = Value(d.Float32, "float32"),
            Fit = new FitSummary(
                Value(d.MeanLogLikelihood, "mean_log_likelihood"), Value(d.Bic, "bic"), Value(d.Aic, "aic"), Value(d.Converged, "converged"),
                Value(d.Iterations, "iterations"), Value(d.TrainingPoints, "training_points"), Required(d.Data, "data"), TimeSpan.Zero),
            Options = FitSettings.FromDocument(Required(d.Options, "options"), path),
            Online = online,
            Variational = variational,
        };
    }
}

/// <summary>How a fit went: what the summary prints and the model file records.</summary>
internal sealed record FitSummary(double MeanLogLikelihood, double Bic, double Aic, bool Converged, long Iterations, long Points, string Data, TimeSpan Time)
{
    /// <summary>Monte-Carlo EM: the draws per point and the last standard error, for the summary; null for exact EM.</summary>
    public string? MonteCarlo { get; init; }
}

/// <summary>A variational Bayesian fit: its weight prior, prior and reg_covar, q's expected counts, the ELBO per point, scikit-learn's bound, and the effective components.</summary>
internal sealed record VariationalState(
    WeightPrior WeightPrior, BayesianMixturePrior Prior, double RegCovar, double[] ExpectedCounts, double ElboPerPoint, double ScikitLearnLowerBound, double EffectiveCountThreshold, int EffectiveComponents);

/// <summary>Where an online fit stands: steps taken, epochs completed, minibatches into the current epoch, and the driver's checkpoint.</summary>
internal sealed record OnlineState(long Steps, int Epoch, long BatchInEpoch, byte[] Checkpoint);

/// <summary>The model file as JSON (every field optional here; <see cref="ModelFile"/> checks what is required).</summary>
internal sealed class ModelDocument
{
    [JsonPropertyName("format")]
    public string? Format { get; set; }

    [JsonPropertyName("version")]
    public int? Version { get; set; }

    [JsonPropertyName("model")]
    public string? Model { get; set; }

    [JsonPropertyName("covariance_type")]
    public string? CovarianceType { get; set; }

    [JsonPropertyName("components")]
    public int? Components { get; set; }

    [JsonPropertyName("noise_log_density")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? NoiseLogDensity { get; set; }

    [JsonPropertyName("features")]
    public int? Features { get; set; }

    [JsonPropertyName("columns")]
    public string[]? Columns { get; set; }

    [JsonPropertyName("categories")]
    public int? Categories { get; set; }

    [JsonPropertyName("trials")]
    public int? Trials { get; set; }

    [JsonPropertyName("float32")]
    public bool? Float32 { get; set; }

    [JsonPropertyName("weights")]
    public double[]? Weights { get; set; }

    [JsonPropertyName("means")]
    public double[]? Means { get; set; }

    [JsonPropertyName("covariances")]
    public double[]? Covariances { get; set; }

    [JsonPropertyName("degrees_of_freedom")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double[]? DegreesOfFreedom { get; set; }

    [JsonPropertyName("factors")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Factors { get; set; }

    [JsonPropertyName("loadings")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double[]? Loadings { get; set; }

    [JsonPropertyName("noise_variances")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double[]? NoiseVariances { get; set; }

    [JsonPropertyName("covariance_scale_exponent")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? CovarianceScaleExponent { get; set; }

    [JsonPropertyName("probs")]
    public double[]? Probs { get; set; }

    [JsonPropertyName("rates")]
    public double[]? Rates { get; set; }

    [JsonPropertyName("mean_log_likelihood")]
    public double? MeanLogLikelihood { get; set; }

    [JsonPropertyName("bic")]
    public double? Bic { get; set; }

    [JsonPropertyName("aic")]
    public double? Aic { get; set; }

    [JsonPropertyName("converged")]
    public bool? Converged { get; set; }

    [JsonPropertyName("iterations")]
    public long? Iterations { get; set; }

    [JsonPropertyName("training_points")]
    public long? TrainingPoints { get; set; }

    [JsonPropertyName("data")]
    public string? Data { get; set; }

    [JsonPropertyName("options")]
    public OptionsDocument? Options { get; set; }

    [JsonPropertyName("online")]
    public OnlineDocument? Online { get; set; }

    [JsonPropertyName("variational")]
    public VariationalDocument? Variational { get; set; }
}

/// <summary>Every fit option used (the <c>options</c> object).</summary>
internal sealed class OptionsDocument
{
    [JsonPropertyName("model")]
    public string? Model { get; set; }

    [JsonPropertyName("noise")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? Noise { get; set; }

    [JsonPropertyName("noise_init")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? NoiseInit { get; set; }

    [JsonPropertyName("covariance")]
    public string? Covariance { get; set; }

    [JsonPropertyName("reg_covar")]
    public double? RegCovar { get; set; }

    [JsonPropertyName("smoothing")]
    public double? Smoothing { get; set; }

    [JsonPropertyName("missing")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Missing { get; set; }

    [JsonPropertyName("monte_carlo")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? MonteCarlo { get; set; }

    [JsonPropertyName("nu")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? Nu { get; set; }

    [JsonPropertyName("nu_estimate")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? NuEstimate { get; set; }

    [JsonPropertyName("components")]
    public int? Components { get; set; }

    [JsonPropertyName("columns")]
    public string? Columns { get; set; }

    [JsonPropertyName("max_iter")]
    public int? MaxIterations { get; set; }

    [JsonPropertyName("tol")]
    public double? Tolerance { get; set; }

    [JsonPropertyName("stop")]
    public string? Stop { get; set; }

    [JsonPropertyName("init")]
    public string? Init { get; set; }

    [JsonPropertyName("n_init")]
    public int? Restarts { get; set; }

    [JsonPropertyName("seed")]
    public int? Seed { get; set; }

    [JsonPropertyName("float32")]
    public bool? Float32 { get; set; }

    [JsonPropertyName("threads")]
    public int? Threads { get; set; }

    [JsonPropertyName("trials")]
    public int? Trials { get; set; }

    [JsonPropertyName("categories")]
    public int? Categories { get; set; }

    [JsonPropertyName("out_of_core")]
    public bool? OutOfCore { get; set; }

    [JsonPropertyName("online")]
    public bool? Online { get; set; }

    [JsonPropertyName("batch_size")]
    public int? BatchSize { get; set; }

    [JsonPropertyName("kappa")]
    public double? Kappa { get; set; }

    [JsonPropertyName("t0")]
    public double? StepOffset { get; set; }

    [JsonPropertyName("epochs")]
    public int? Epochs { get; set; }

    [JsonPropertyName("bayesian")]
    public string? Bayesian { get; set; }

    [JsonPropertyName("weight_concentration")]
    public double? WeightConcentration { get; set; }

    [JsonPropertyName("mean_precision")]
    public double? MeanPrecision { get; set; }

    [JsonPropertyName("degrees_of_freedom")]
    public double? DegreesOfFreedom { get; set; }
}

/// <summary>A variational Bayesian fit's state (the <c>variational</c> object, version 4): the prior and q's expected counts; the means and covariances are the file's.</summary>
internal sealed class VariationalDocument
{
    [JsonPropertyName("weight_prior")]
    public string? WeightPrior { get; set; }

    [JsonPropertyName("weight_concentration_prior")]
    public double? WeightConcentration { get; set; }

    [JsonPropertyName("mean_precision_prior")]
    public double? MeanPrecision { get; set; }

    [JsonPropertyName("mean_prior")]
    public double[]? Mean { get; set; }

    [JsonPropertyName("degrees_of_freedom_prior")]
    public double? DegreesOfFreedom { get; set; }

    [JsonPropertyName("covariance_prior")]
    public double[]? Covariance { get; set; }

    [JsonPropertyName("reg_covar")]
    public double? RegCovar { get; set; }

    [JsonPropertyName("expected_counts")]
    public double[]? ExpectedCounts { get; set; }

    [JsonPropertyName("elbo_per_point")]
    public double? ElboPerPoint { get; set; }

    [JsonPropertyName("scikit_learn_lower_bound")]
    public double? ScikitLearnLowerBound { get; set; }

    [JsonPropertyName("effective_count_threshold")]
    public double? EffectiveCountThreshold { get; set; }

    [JsonPropertyName("effective_components")]
    public int? EffectiveComponents { get; set; }
}

/// <summary>An online fit's state (the <c>online</c> object, version 2).</summary>
internal sealed class OnlineDocument
{
    [JsonPropertyName("steps")]
    public long? Steps { get; set; }

    [JsonPropertyName("epoch")]
    public int? Epoch { get; set; }

    [JsonPropertyName("batch_in_epoch")]
    public long? BatchInEpoch { get; set; }

    [JsonPropertyName("checkpoint")]
    public string? Checkpoint { get; set; }
}

/// <summary>The source-generated serializer of the model file (no reflection at run time).</summary>
[JsonSourceGenerationOptions(WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ModelDocument))]
internal sealed partial class ModelJson : JsonSerializerContext;
