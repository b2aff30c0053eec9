using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using EmKernels.Engine;
using EmKernels.IO;
using EmKernels.Mixtures;

namespace EmKernels.Cli;

/// <summary>The fit options of <c>emk fit</c> and <c>emk select</c>, validated with the command line's names, and recorded in the model file.</summary>
internal sealed record FitSettings
{
    public string Model { get; init; } = "gaussian";

    public CovarianceType Covariance { get; init; } = CovarianceType.Full;

    /// <summary>Gaussian: q for a mixture of factor analyzers (<c>--covariance factor:q</c>), covariances W_k W_kᵀ + Ψ_k; null for <see cref="Covariance"/>.</summary>
    public int? Factors { get; init; }

    /// <summary>Gaussian: one of mclust's parameterizations (<c>--covariance VEV</c>), full covariances under its constraints; null for none.</summary>
    public ParsimoniousModel? Parameterization { get; init; }

    public int Components { get; init; } = 2;

    /// <summary>Gaussian: mclust's noise component after the Gaussian ones (<c>--noise</c>).</summary>
    public bool Noise { get; init; }

    /// <summary>A file of the initial noise flags, one per data row (<c>--noise-init</c>); null: nearest-neighbour clutter of the data.</summary>
    public string? NoiseInit { get; init; }

    /// <summary>The initial noise flags, read or detected once for the fits of a selection (not recorded); null: each fit finds its own.</summary>
    public bool[]? NoiseFlagValues { get; init; }

    /// <summary>Whether NaN (and a CSV's empty, NA and NaN cells) are missing values, marginalised (--missing marginalize).</summary>
    public bool Missing { get; init; }

    /// <summary>Monte-Carlo EM's schedule S₁[:g[:max]] (--monte-carlo), or null for exact EM.</summary>
    public string? MonteCarlo { get; init; }

    /// <summary>The schedule of <see cref="MonteCarlo"/>, checked.</summary>
    public MonteCarloSchedule? MonteCarloSchedule()
    {
        if (MonteCarlo is null)
        {
            return null;
        }

        string[] parts = MonteCarlo.Split(':');
        var schedule = new MonteCarloSchedule();
        try
        {
            schedule = schedule with { InitialSamples = int.Parse(parts[0], CultureInfo.InvariantCulture) };
            if (parts.Length > 1)
            {
                schedule = schedule with { Growth = double.Parse(parts[1], CultureInfo.InvariantCulture) };
            }

            if (parts.Length > 2)
            {
                schedule = schedule with { MaxSamples = int.Parse(parts[2], CultureInfo.InvariantCulture) };
            }
            else
            {
                schedule = schedule with { MaxSamples = Math.Max(schedule.MaxSamples, schedule.InitialSamples) };
            }
        }
        catch (FormatException)
        {
            throw new UsageException($"--monte-carlo '{Quoted.Of(MonteCarlo)}': expected S1[:GROWTH[:MAX]], for example 10:1.25:10000.");
        }
        catch (OverflowException)
        {
            throw new UsageException($"--monte-carlo '{Quoted.Of(MonteCarlo)}': a number is out of range.");
        }

        Require(parts.Length <= 3 && schedule.InitialSamples >= 1 && schedule.Growth >= 1 && double.IsFinite(schedule.Growth) && schedule.MaxSamples >= schedule.InitialSamples,
            "--monte-carlo S1[:GROWTH[:MAX]] needs S1 ≥ 1, a finite GROWTH ≥ 1 and MAX ≥ S1.");
        return schedule;
    }

    /// <summary>t: the starting ν of every component (--nu).</summary>
    public double Nu { get; init; } = 10;

    /// <summary>t: how ν is estimated (--nu-estimate).</summary>
    public string NuEstimate { get; init; } = "per-component";

    /// <summary>A continuous model (Gaussian or t): covariance types, k-means starts, means.</summary>
    public bool Continuous => Names.IsContinuous(Model);

    public string? Columns { get; init; }

    public int MaxIterations { get; init; } = 100;

    public double Tolerance { get; init; } = 1e-3;

    /// <summary>When a run has converged (<c>--stop</c>).</summary>
    public StoppingRule StoppingRule { get; init; } = StoppingRule.AbsoluteChange;

    public static readonly string[] StoppingRuleNames = ["absolute", "relative", "aitken"];

    public static StoppingRule StoppingRuleOf(string name) => name switch
    {
        "relative" => StoppingRule.RelativeChange,
        "aitken" => StoppingRule.Aitken,
        _ => StoppingRule.AbsoluteChange,
    };

    public static string NameOf(StoppingRule rule) => StoppingRuleNames[(int)rule];

    public double RegCovar { get; init; } = 1e-6;

    /// <summary>MAP with mclust's default conjugate prior (<c>--prior</c>; Gaussian covariance types only).</summary>
    public bool Prior { get; init; }

    /// <summary>Variational Bayes with this weight prior (<c>--bayesian dirichlet-process|dirichlet-distribution</c>), or null for EM.</summary>
    public string? Bayesian { get; init; }

    /// <summary>Variational Bayes: γ, or null for 1/K.</summary>
    public double? WeightConcentration { get; init; }

    /// <summary>Variational Bayes: β₀, or null for 1.</summary>
    public double? MeanPrecision { get; init; }

    /// <summary>Variational Bayes: ν₀, or null for D.</summary>
    public double? DegreesOfFreedom { get; init; }

    public static readonly string[] BayesianNames = ["dirichlet-process", "dirichlet-distribution"];

    /// <summary>kmeans, random or random-points; null for the model's default (kmeans for Gaussian, random otherwise).</summary>
    public string? Init { get; init; }

    public int Restarts { get; init; } = 1;

    public int Seed { get; init; }

    public bool Float32 { get; init; }

    public int? Threads { get; init; }

    public double Smoothing { get; init; }

    public int? Trials { get; init; }

    public int? Categories { get; init; }

    /// <summary>Whether the data were streamed from the file every iteration rather than held in memory (the fit is the same).</summary>
    public bool OutOfCore { get; init; }

    /// <summary>A model file whose parameters every run starts from (<c>--init-from</c>); with <see cref="MaxIterations"/> 0 they are only evaluated.</summary>
    public ModelFile? StartFrom { get; init; }

    /// <summary>The hierarchical start's agglomeration shared by the fits of one selection (not recorded).</summary>
    public AgglomerationCache? AgglomerationCache { get; init; }

    /// <summary>Stepwise (online) EM instead of batch EM.</summary>
    public bool Online { get; init; }

    public int BatchSize { get; init; } = 1000;

    public double Kappa { get; init; } = 0.6;

    public double StepOffset { get; init; } = 1;

    public int Epochs { get; init; } = 1;

    public static readonly string[] InitNames = ["kmeans", "random", "random-points", "hierarchical"];

    /// <summary>The initialization actually used.</summary>
    public string InitName => Init ?? (Continuous ? "kmeans" : "random");

    /// <summary>Checks the options that do not depend on the data, naming the option.</summary>
    public void ValidateOptions()
    {
        Require(Components >= 1, "--components must be at least 1.");
        Require(MaxIterations >= 1 || (MaxIterations == 0 && StartFrom is not null), "--max-iter must be at least 1 (0 evaluates the parameters of --init-from).");
        Require(Tolerance >= 0 && double.IsFinite(Tolerance), "--tol must be finite and non-negative.");
        Require(RegCovar >= 0 && double.IsFinite(RegCovar), "--reg-covar must be finite and non-negative.");
        Require(Restarts >= 1, "--n-init must be at least 1.");
        Require(!Prior || (Model == "gaussian" && Factors is null && Parameterization is null), "--prior is for Gaussian mixtures of the full, tied, diag and spherical covariance types.");
        Require(Bayesian is null || BayesianNames.Contains(Bayesian), $"--bayesian must be one of {string.Join(", ", BayesianNames)}.");
        Require(Bayesian is null || (Model == "gaussian" && Factors is null && Parameterization is null), "--bayesian is for Gaussian mixtures of the full, tied, diag and spherical covariance types.");
        Require(Bayesian is null || !Prior, "--bayesian and --prior are two different estimates (variational Bayes, MAP); give one.");
        Require(Bayesian is null || !Online, "--bayesian fits run in batch; --online is for EM.");
        Require(Bayesian is not null || (WeightConcentration is null && MeanPrecision is null && DegreesOfFreedom is null), "--weight-concentration, --mean-precision and --dof are for --bayesian fits.");
        Require(WeightConcentration is null or > 0 && double.IsFinite(WeightConcentration ?? 1), "--weight-concentration must be positive and finite.");
        Require(MeanPrecision is null or > 0 && double.IsFinite(MeanPrecision ?? 1), "--mean-precision must be positive and finite.");
        Require(DegreesOfFreedom is null || double.IsFinite(DegreesOfFreedom.Value), "--dof must be finite.");
        Require(Threads is null or >= 1, "--threads must be at least 1.");
        Require(Smoothing >= 0 && double.IsFinite(Smoothing), "--smoothing must be finite and non-negative.");
        Require(Init is null || InitNames.Contains(Init), $"--init must be one of {string.Join(", ", InitNames)}.");
        Require(Continuous || Init is not ("kmeans" or "hierarchical"), $"--init {Init} is for Gaussian and t mixtures; discrete mixtures start from random or random-points.");
        Require(Model != "t" || (Factors is null && Parameterization is null), "--model t takes --covariance full, tied, diag or spherical (the structure of its scale matrices).");
        Require(Model != "t" || (Nu > 0 && double.IsFinite(Nu)), "--nu must be positive and finite.");
        Require(Names.NuEstimates.Contains(NuEstimate), $"--nu-estimate must be one of {string.Join(", ", Names.NuEstimates)}.");
        Require(Model == "binomial" || Trials is null, "--trials is for --model binomial.");
        Require(Model == "categorical" || Categories is null, "--categories is for --model categorical.");
        Require(Model != "binomial" || Trials is >= 1, "--model binomial needs --trials (the number of trials behind every count, at least 1).");
        Require(Categories is null or >= 1, "--categories must be at least 1.");
        Require(BatchSize >= 1, "--batch-size must be at least 1.");
        Require(Kappa > 0.5 && Kappa <= 1, "--kappa must satisfy 0.5 < κ ≤ 1.");
        Require(StepOffset >= 0 && double.IsFinite(StepOffset), "--t0 must be finite and non-negative.");
        Require(Epochs >= 1, "--epochs must be at least 1.");
        Require(!Online || Restarts == 1, "--n-init is for batch EM; an online fit runs once.");
        Require(StartFrom is null || (!Online && Bayesian is null), "--init-from starts batch EM of a mixture; not --online or --bayesian fits.");
        Require(MonteCarlo is null || (!Online && Bayesian is null), "--monte-carlo estimates batch EM's E-step by sampling; not --online or --bayesian fits.");
        Require(!Missing || (Model == "gaussian" && Factors is null && Parameterization is null && !Prior && Bayesian is null),
            "--missing marginalize is for Gaussian mixtures of the full, tied, diag and spherical types (no --prior or --bayesian).");
        Require(NoiseInit is null || Noise, "--noise-init gives the starting noise points of --noise.");
        Require(!Noise || (Model == "gaussian" && Factors is null && !Prior && Bayesian is null && !Missing && !Online && MonteCarlo is null),
            "--noise adds mclust's noise component to a Gaussian mixture fitted by batch EM (no factor covariances, --prior, --bayesian, --missing, --online or --monte-carlo).");
        MonteCarloSchedule();
    }

    /// <summary>Checks every option against in-memory data, naming the option; the library's own checks then cannot fire on options.</summary>
    public void Validate(DataTable data)
    {
        ValidateOptions();
        Require(Components <= data.Rows, $"{data.Source} has {data.Rows} rows but --components is {Components}; a mixture needs at least as many points as components.");
        Require(Parameterization is null || ((Parameterization is ParsimoniousModel.E or ParsimoniousModel.V) == (data.Columns.Length == 1)),
            $"--covariance {Parameterization}: E and V are mclust's models of one column, the other 14 of two or more; the data have {data.Columns.Length}.");
        Require(DegreesOfFreedom is null || DegreesOfFreedom > data.Columns.Length - 1, $"--dof must be greater than D − 1 = {data.Columns.Length - 1}.");
        if (!Continuous)
        {
            CheckOutcomes(data);
        }
    }

    /// <summary>Discrete models take the library's outcomes (whole numbers in the family's range); the first offender is named by line and column.</summary>
    private void CheckOutcomes(DataTable data)
    {
        DiscreteDistribution distribution = Names.Distribution(Model);
        int categories = Categories ?? int.MaxValue, trials = Trials ?? 1; // without --categories, any code is a category
        int d = data.Columns.Length;
        for (int i = 0; i < data.Rows; i++)
        {
            for (int j = 0; j < d; j++)
            {
                double v = data[i, j];
                if (!DiscreteOutcomes.IsValid(v, distribution, categories, trials))
                {
                    throw new UsageException(
                        $"{data.Source}, {data.Locate(i)}, column '{Quoted.Of(data.Columns[j])}': {v.ToString(CultureInfo.InvariantCulture)} is not {DiscreteOutcomes.Expected(distribution, categories, trials)} (--model {Model}).");
                }
            }
        }
    }

    private static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new UsageException(message);
        }
    }

    public OptionsDocument ToDocument() => new()
    {
        Model = Model,
        Noise = Noise ? true : null,
        NoiseInit = NoiseInit,
        Covariance = Continuous ? Names.Of(Covariance, Factors, Parameterization) : null,
        RegCovar = Continuous ? RegCovar : null,
        Smoothing = Continuous ? null : Smoothing,
        Nu = Model == "t" ? Nu : null,
        NuEstimate = Model == "t" ? NuEstimate : null,
        MonteCarlo = MonteCarlo,
        Missing = Missing ? "marginalize" : null,
        Components = Components,
        Columns = Columns,
        MaxIterations = MaxIterations,
        Tolerance = Tolerance,
        Stop = StoppingRule == StoppingRule.AbsoluteChange ? null : NameOf(StoppingRule),
        Init = InitName,
        Restarts = Restarts,
        Seed = Seed,
        Float32 = Float32,
        Threads = Threads,
        Trials = Trials,
        Categories = Categories,
        OutOfCore = OutOfCore,
        Online = Online,
        BatchSize = Online ? BatchSize : null,
        Kappa = Online ? Kappa : null,
        StepOffset = Online ? StepOffset : null,
        Epochs = Online ? Epochs : null,
        Bayesian = Bayesian,
        WeightConcentration = WeightConcentration,
        MeanPrecision = MeanPrecision,
        DegreesOfFreedom = DegreesOfFreedom,
    };

    public static FitSettings FromDocument(OptionsDocument o, string path)
    {
        T Value<T>(T? value, string name)
            where T : struct => value ?? throw new UsageException($"{path}: the field 'options.{name}' is missing.");
        string model = o.Model ?? throw new UsageException($"{path}: the field 'options.model' is missing.");
        (CovarianceType Type, int? Factors, ParsimoniousModel? Parameterization) choice = Names.IsContinuous(model)
            ? Names.CovarianceChoice(o.Covariance ?? throw new UsageException($"{path}: the field 'options.covariance' is missing."), "options")
            : (CovarianceType.Full, null, null);
        return new FitSettings
        {
            Model = model,
            Covariance = choice.Type,
            Factors = choice.Factors,
            Parameterization = choice.Parameterization,
            RegCovar = Names.IsContinuous(model) ? Value(o.RegCovar, "reg_covar") : 0,
            Smoothing = Names.IsContinuous(model) ? 0 : Value(o.Smoothing, "smoothing"),
            Nu = model == "t" ? Value(o.Nu, "nu") : 10,
            NuEstimate = model == "t" ? o.NuEstimate ?? "per-component" : "per-component",
            MonteCarlo = o.MonteCarlo,
            Missing = o.Missing == "marginalize",
            Noise = o.Noise ?? false,
            NoiseInit = o.NoiseInit,
            Components = Value(o.Components, "components"),
            Columns = o.Columns,
            MaxIterations = Value(o.MaxIterations, "max_iter"),
            Tolerance = Value(o.Tolerance, "tol"),
            StoppingRule = o.Stop is null ? StoppingRule.AbsoluteChange : StoppingRuleNames.Contains(o.Stop) ? StoppingRuleOf(o.Stop) : throw new UsageException($"{path}: the field 'options.stop' is '{Quoted.Of(o.Stop)}'; expected {string.Join(", ", StoppingRuleNames)}."),
            Init = o.Init ?? throw new UsageException($"{path}: the field 'options.init' is missing."),
            Restarts = Value(o.Restarts, "n_init"),
            Seed = Value(o.Seed, "seed"),
            Float32 = Value(o.Float32, "float32"),
            Threads = o.Threads,
            Trials = o.Trials,
            Categories = o.Categories,
            OutOfCore = o.OutOfCore ?? false,
            Online = o.Online ?? false,
            BatchSize = o.BatchSize ?? 1000,
            Kappa = o.Kappa ?? 0.6,
            StepOffset = o.StepOffset ?? 1,
            Epochs = o.Epochs ?? 1,
            Bayesian = o.Bayesian,
            WeightConcentration = o.WeightConcentration,
            MeanPrecision = o.MeanPrecision,
            DegreesOfFreedom = o.DegreesOfFreedom,
        };
    }
}

/// <summary>A fit's results: the model file's content and the model.</summary>
internal sealed record FitOutcome(ModelFile File, IMixture Mixture)
{
    /// <summary>For one of mclust's parameterizations: why mclust would report this fit as NA (its selection skips it); null otherwise.</summary>
    public string? Failure { get; init; }
}

/// <summary>
/// Fits for the command line through the library's public engine: the model is a <see cref="FiniteMixture{T}"/> of
/// the chosen family, fitted by batch EM (in memory, or streamed from the file every iteration: the same fit) or by
/// stepwise EM. A problem with the data is a <see cref="UsageException"/> naming the file.
/// </summary>
internal static class Fitter
{
    /// <summary>Fits data held in memory.</summary>
    public static FitOutcome Fit(DataTable data, FitSettings settings, IProgress<FitProgress>? progress, ModelFile? resume = null)
    {
        settings.Validate(data);
        int categories = Categories(settings, settings.Model == "categorical" && settings.Categories is null ? data.Values.Max() : 0, data.Source);
        CheckSize(settings, data.Columns.Length, categories, data.Source);
        try
        {
            return settings.Float32
                ? Fit(new InMemoryDataSource<float>(data.Values.Select(v => (float)v).ToArray(), data.Rows, data.Columns.Length), data.Source, data.Columns, settings, categories, progress, resume)
                : Fit(data.Source64, data.Source, data.Columns, settings, categories, progress, resume);
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"{data.Source}: {Messages.Of(e)}");
        }
    }

    /// <summary>
    /// Fits a file: streamed in chunks every iteration (memory does not grow with its number of rows), or with
    /// <paramref name="hold"/> read once into memory — one feature-major copy in the fit's precision, nothing else.
    /// </summary>
    public static FitOutcome FitStreamed<T>(FileDataSource<T> file, string[] columns, FitSettings settings, IProgress<FitProgress>? progress, ModelFile? resume = null, bool hold = false)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        settings.ValidateOptions();
        if (settings.Components > file.Points && !Cluster.FilePerRank)
        {
            throw new UsageException($"{file.Name} has {file.Points} rows but --components is {settings.Components}; a mixture needs at least as many points as components.");
        }

        try
        {
            int categories = Categories(settings, settings.Model == "categorical" && settings.Categories is null ? LargestValue(file) : 0, file.Name);
            CheckSize(settings, file.Features, categories, file.Name);
            if (Cluster.FilePerRank)
            {
                // One file per process: each checks its own, then the rows move to the processes whose shards they fall in.
                CheckValues(file, columns, settings, categories, 0, file.Points);
                return Fit(Cluster.Redistribute(file), file.Name, columns, settings, categories, progress, resume);
            }

            // Distributed, this process checks, reads and holds only its own rows.
            (long first, long rows) = Cluster.Shard(file.Points);
            CheckValues(file, columns, settings, categories, first, rows);
            DataSource<T> data = !hold ? file
                : Cluster.Communicator is null ? InMemoryDataSource<T>.Load(file)
                : new Cluster.HeldShard<T>(InMemoryDataSource<T>.Load(new Cluster.RowRange<T>(file, first, rows)), file.Points);
            return Fit(data, file.Name, columns, settings, categories, progress, resume);
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"{file.Name}: {Messages.Of(e)}");
        }
        catch (DataFormatException e)
        {
            throw new UsageException(e.Message);
        }
    }

    /// <summary>The most categories inferred from the data (as the largest value + 1); beyond it, --categories must say so.</summary>
    public const int MaxInferredCategories = 1000;

    /// <summary>
    /// C for the settings: --categories, or for a categorical model without it the largest value + 1, at most
    /// <see cref="MaxInferredCategories"/> (one stray huge code must not make a model of millions of categories).
    /// </summary>
    private static int Categories(FitSettings settings, double largest, string source)
    {
        if (settings.Model != "categorical")
        {
            return 1;
        }

        if (settings.Categories is { } given)
        {
            return given;
        }

        if (largest + 1 > MaxInferredCategories)
        {
            throw new UsageException(
                $"{source}: the largest value is {largest.ToString(CultureInfo.InvariantCulture)}, which would make {(largest + 1).ToString(CultureInfo.InvariantCulture)} categories; "
                + $"emk infers at most {MaxInferredCategories} (codes 0 … {MaxInferredCategories - 1}): give --categories C if the data really have that many.");
        }

        return Math.Max(1, (int)largest + 1);
    }

    /// <summary>
    /// Refuses, before anything is allocated, a fit whose parameters would not fit in memory: a full covariance
    /// has K·D² values and a categorical model K·D·C, and a fit keeps about eight copies of them (statistics,
    /// factors, the best restart, the model file's own).
    /// </summary>
    private static void CheckSize(FitSettings s, int d, int categories, string source)
    {
        double k = s.Components;
        double parameters = s.Model switch
        {
            "gaussian" when s.Factors is { } q => k * d * (2.0 + q) + k * (double)d * d, // the loadings and noise, and the per-component scatter its M-step takes
            "gaussian" or "t" => k * d + s.Covariance switch { CovarianceType.Full => k * d * d, CovarianceType.Tied => (double)d * d, CovarianceType.Diagonal => k * d, _ => k },
            "categorical" => k * d * categories,
            _ => k * d,
        };
        double bytes = 8.0 * 8 * parameters;
        double available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (parameters <= Array.MaxLength / 2 && bytes <= available)
        {
            return;
        }

        string gigabytes = (bytes / (1 << 30)).ToString("0.#", CultureInfo.InvariantCulture);
        string have = (available / (1 << 30)).ToString("0.#", CultureInfo.InvariantCulture);
        throw new UsageException(s.Continuous
            ? $"{source}: {Names.Of(s.Covariance, s.Factors, s.Parameterization)} covariance of {d} features and {s.Components} components has {parameters:N0} parameters, about {gigabytes} GB with the copies a fit keeps; this machine has {have} GB: use --covariance diag or spherical, or fewer features (--columns)."
            : $"{source}: {s.Components} components × {d} features × {categories} categories are {parameters:N0} parameters, about {gigabytes} GB with the copies a fit keeps; this machine has {have} GB: use fewer categories or features.");
    }

    /// <summary>The engine's model for the settings: a finite mixture of the chosen family, with the chosen initialization.</summary>
    public static FiniteMixture<T> Model<T>(FitSettings s, int features, int categories, double? logNoiseDensity = null)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        // The noise component needs a parameterization: the covariance type's own unless one is given.
        ParsimoniousModel? parameterization = s.Parameterization ?? (s.Noise && s.Factors is null ? ParsimoniousComponents<T>.OfCovarianceType(s.Covariance, features) : null);
        if (s.Factors is { } q && q > features)
        {
            throw new UsageException($"--covariance factor:{q} has more factors than the {features} columns.");
        }

        ComponentFamily<T> family = s.Model == "t"
            ? new StudentTComponents<T>(s.Covariance, s.Components, features, s.Nu, Names.NuEstimate(s.NuEstimate), s.RegCovar)
            : s.Model != "gaussian"
            ? DiscreteComponents<T>.Create(Names.Distribution(s.Model), s.Components, features, categories, s.Trials ?? 1, s.Smoothing)
            : s.Factors is { } factors
                ? new Latent.FactorAnalyzerComponents<T>(s.Components, features, factors, Latent.FactorNoise.Diagonal, s.RegCovar)
                : parameterization is { } chosen
                    ? ParsimoniousFamily<T>(chosen, s.Components, features, s.RegCovar, logNoiseDensity)
                    : s.Missing
                    ? new MarginalGaussianComponents<T>(GaussianComponents<T>.Create(s.Covariance, s.Components, features, s.RegCovar))
                    : GaussianComponents<T>.Create(s.Covariance, s.Components, features, s.RegCovar);
        return new FiniteMixture<T>(family, s.InitName switch
        {
            "random" => MixtureInitialization.RandomResponsibilities,
            "random-points" => MixtureInitialization.RandomPoints,
            "hierarchical" => MixtureInitialization.Hierarchical,
            _ => MixtureInitialization.KMeans,
        })
        {
            AgglomerationCache = s.AgglomerationCache,
        };
    }

    /// <summary>Sets the mixture to a model file's parameters (same model, K, D and covariance), to start every run from them.</summary>
    private static void StartFrom<T>(FiniteMixture<T> mixture, ModelFile start, FitSettings s, int features)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        string where = start.SourcePath ?? "--init-from";
        ParsimoniousModel? parameterization = (mixture.Family as ParsimoniousComponents<T>)?.Model;
        if (start.Model != s.Model || start.Gaussians != s.Components || start.Features != features || start.Variational is not null || (start.NoiseLogDensity is not null) != s.Noise
            || (s.Continuous && ((start.Covariance != s.Covariance && parameterization is null) || start.Factors != s.Factors || start.Parameterization != parameterization)))
        {
            throw new UsageException(
                $"{where} is {Names.Describe(start.Model, start.Covariance, start.Components, start.Factors, start.Parameterization)} of {start.Features} columns; this fit is {Names.Describe(s.Model, s.Covariance, s.Components, s.Factors, s.Parameterization)} of {features} (give the same --model, -k, --covariance and columns).");
        }

        if (s.Factors is not null)
        {
            throw new UsageException("--init-from does not start a mixture of factor analyzers yet.");
        }

        mixture.SetWeights(start.Weights);
        if (mixture.Family is StudentTComponents<T> t)
        {
            start.Means.CopyTo(t.Means);
            start.Parameters.CopyTo(t.Scales);
            (start.DegreesOfFreedom ?? []).CopyTo(t.DegreesOfFreedom);
        }
        else if (mixture.Family is MarginalGaussianComponents<T> marginal)
        {
            start.Means.CopyTo(marginal.Means);
            start.Parameters.CopyTo(marginal.Covariances);
        }
        else if (mixture.Family is GaussianComponents<T> gaussian)
        {
            start.Means.CopyTo(gaussian.Means);
            start.Parameters.CopyTo(gaussian.Covariances);
            gaussian.CovarianceScaleExponent = start.CovarianceScaleExponent;
        }
        else
        {
            start.Parameters.CopyTo(mixture.Family.Parameters);
        }

        mixture.Initialization = MixtureInitialization.Current;
    }

    private static ParsimoniousComponents<T> ParsimoniousFamily<T>(ParsimoniousModel model, int components, int features, double regularization, double? logNoiseDensity)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if ((model is ParsimoniousModel.E or ParsimoniousModel.V) != (features == 1))
        {
            throw new UsageException($"--covariance {model}: E and V are mclust's models of one column, the other 14 of two or more; the data have {features}.");
        }

        return new ParsimoniousComponents<T>(model, components, features, logNoiseDensity, regularization);
    }

    private static FitOutcome Fit<T>(DataSource<T> data, string source, string[] columns, FitSettings s, int categories, IProgress<FitProgress>? progress, ModelFile? resume)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int d = data.Features;
        var clock = Stopwatch.StartNew();
        if (s.Bayesian is not null)
        {
            return FitVariational(data, source, columns, s, progress, clock);
        }

        FiniteMixture<T> model = Model<T>(s, d, categories, s.Noise ? ParsimoniousComponents<T>.NoiseLogDensity(data) : null);
        if (s.Noise)
        {
            model.InitialNoise = s.NoiseFlagValues ?? (s.NoiseInit is { } flagsPath ? NoiseFlags(flagsPath, data.Points) : null);
        }

        if (s.StartFrom is { } start)
        {
            StartFrom(model, start, s, d);
        }

        if (s.Prior && model.Family is GaussianComponents<T> withPrior)
        {
            withPrior.Prior = DefaultPrior(data, s.Covariance, s.Components);
        }

        double meanLogLikelihood;
        bool converged;
        long iterations;
        string? monteCarlo = null;
        int reseeds = 0;
        OnlineState? online = null;
        if (s.Online)
        {
            var options = new StepwiseOptions
            {
                Kappa = s.Kappa,
                StepOffset = s.StepOffset,
                BatchSize = s.BatchSize,
                Epochs = s.Epochs,
                Seed = s.Seed,
                MaxDegreeOfParallelism = s.Threads,
                Progress = progress,
            };
            StepwiseExpectationMaximization<T> driver = resume?.Online is { } state
                ? StepwiseExpectationMaximization<T>.Resume(model, state.Checkpoint, options)
                : new StepwiseExpectationMaximization<T>(model, options);
            Cluster.FitStepwise(driver, data);
            meanLogLikelihood = driver.EpochObjectives[^1];
            converged = false; // stepwise EM has no convergence test: it runs its epochs
            iterations = driver.Steps;
            online = new OnlineState(driver.Steps, driver.Epoch, driver.BatchInEpoch, driver.SaveCheckpoint());
        }
        else
        {
            ExpectationMaximizationResult result = Cluster.Fit(model, data, new ExpectationMaximizationOptions
            {
                MonteCarlo = s.MonteCarloSchedule(),
                MaxIterations = s.MaxIterations,
                Tolerance = s.Tolerance,
                StoppingRule = s.StoppingRule,
                Restarts = s.Restarts,
                Seed = s.Seed,
                MaxDegreeOfParallelism = s.Threads,
                Progress = progress,
            });
            // With a prior the objective is the log-posterior: the log-likelihood is reported (and gives the BIC), as mclust does.
            meanLogLikelihood = result.Objective - (model.Family is GaussianComponents<T> { Prior: not null } ? model.ObjectiveCorrection() / data.Points : 0);
            converged = result.Converged;
            iterations = result.Iterations;
            reseeds = result.Reseeds.Length;
            monteCarlo = result.MonteCarloSamples.Length == 0 ? null : string.Create(
                CultureInfo.InvariantCulture, $"{result.MonteCarloSamples[0]} → {result.MonteCarloSamples[^1]} draws per point; last standard error {result.MonteCarloErrors[^1]:G3}");
        }

        clock.Stop();
        long n = data.Points;
        int p = model.FreeParameterCount;
        var summary = new FitSummary(
            meanLogLikelihood, -2.0 * n * meanLogLikelihood + p * Math.Log(n), -2.0 * n * meanLogLikelihood + 2.0 * p,
            converged, iterations, n, source, clock.Elapsed) { MonteCarlo = monteCarlo };
        var family = model.Family;
        var factor = family as Latent.FactorAnalyzerComponents<T>;
        var classic = family as GaussianComponents<T> ?? (family as MarginalGaussianComponents<T>)?.Gaussian;
        var t = family as StudentTComponents<T>;
        var mclust = family as ParsimoniousComponents<T>;
        int gaussians = mclust?.Gaussians ?? s.Components;
        var file = new ModelFile
        {
            Model = s.Model,
            Covariance = s.Continuous ? s.Covariance : null,
            Factors = factor?.LatentDimensions,
            Parameterization = mclust?.Model ?? s.Parameterization,
            NoiseLogDensity = mclust is { HasNoise: true } ? mclust.LogNoiseDensity : null,
            Columns = columns,
            Categories = categories,
            Trials = s.Trials ?? 1,
            Weights = model.Weights.ToArray(),
            Means = factor is not null ? factor.Means.ToArray() : classic is not null ? classic.Means[..(gaussians * d)].ToArray() : t is not null ? t.Means.ToArray() : [],
            Parameters = factor is not null ? [.. factor.Loadings, .. factor.NoiseVariances]
                : classic is not null ? classic.Covariances[..(mclust is { HasNoise: true } ? gaussians * d * d : classic.Covariances.Length)].ToArray()
                : t is not null ? t.Scales.ToArray() : family.Parameters.ToArray(),
            DegreesOfFreedom = t?.DegreesOfFreedom.ToArray(),
            CovarianceScaleExponent = classic?.CovarianceScaleExponent ?? 0,
            Float32 = s.Float32,
            Fit = summary,
            Options = s with { Categories = s.Model == "categorical" ? categories : null },
            Online = online,
        };
        // mclust's NA cells (FORMAT §8.4 of the mclust fixtures): a singular covariance or an emptied component, which the
        // fit survives by re-seeding, or no convergence: mclust's selection never picks them, nor does emk's.
        string? failure = family is ParsimoniousComponents<T> parsimonious && !s.Online
            ? parsimonious.MclustFailure ?? (reseeds > 0 ? "a component was re-seeded" : !converged ? "EM did not converge" : null)
            : null;
        return new FitOutcome(file, file.Mixture()) { Failure = failure };
    }

    /// <summary>
    /// A variational Bayesian fit (<c>--bayesian</c>) through the library's estimator: the model file holds q's posterior
    /// means as the mixture's weights, means and covariances, and the prior and expected counts that define q; its
    /// mean_log_likelihood, BIC and AIC are computed from the ELBO per point (the fit's objective).
    /// </summary>
    private static FitOutcome FitVariational<T>(DataSource<T> data, string source, string[] columns, FitSettings s, IProgress<FitProgress>? progress, Stopwatch clock)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var options = new BayesianGaussianMixtureOptions
        {
            Components = s.Components,
            CovarianceType = s.Covariance,
            WeightPrior = s.Bayesian == "dirichlet-distribution" ? WeightPrior.DirichletDistribution : WeightPrior.DirichletProcess,
            WeightConcentration = s.WeightConcentration,
            MeanPrecision = s.MeanPrecision,
            DegreesOfFreedom = s.DegreesOfFreedom,
            MaxIterations = s.MaxIterations,
            Tolerance = s.Tolerance,
            RegCovar = s.RegCovar,
            Initialization = s.InitName switch
            {
                "random" => GaussianMixtureInitialization.RandomResponsibilities,
                "random-points" => GaussianMixtureInitialization.RandomPoints,
                "hierarchical" => GaussianMixtureInitialization.Hierarchical,
                _ => GaussianMixtureInitialization.KMeans,
            },
            Restarts = s.Restarts,
            Seed = s.Seed,
            MaxDegreeOfParallelism = s.Threads,
            Progress = progress,
        };
        BayesianGaussianMixtureModel<T> fit = new BayesianGaussianMixture<T>(options).Fit(data);
        clock.Stop();
        long n = data.Points;
        double elbo = fit.ElboHistory[^1];
        int p = GaussianComponents<T>.DensityParameterCount(s.Covariance, s.Components, data.Features) + s.Components - 1;
        var summary = new FitSummary(elbo, -2.0 * n * elbo + p * Math.Log(n), -2.0 * n * elbo + 2.0 * p, fit.Converged, fit.Iterations, n, source, clock.Elapsed);
        var file = new ModelFile
        {
            Model = "gaussian",
            Covariance = s.Covariance,
            Columns = columns,
            Weights = [.. fit.Weights],
            Means = fit.Means.ToArray(),
            Parameters = fit.Covariances.ToArray(),
            CovarianceScaleExponent = fit.CovarianceScaleExponent,
            Float32 = s.Float32,
            Fit = summary,
            Options = s,
            Variational = new VariationalState(
                fit.WeightPrior, fit.Prior, fit.RegCovar, fit.ExpectedCounts.ToArray(), elbo, fit.ScikitLearnLowerBound, fit.EffectiveCountThreshold, fit.EffectiveComponents),
        };
        return new FitOutcome(file, new VariationalMixture<T>(fit));
    }

    /// <summary>One pass over the file before a fit of a continuous model (factor analysis, regression): every value finite, the first offender named.</summary>
    public static void CheckFinite<T>(FileDataSource<T> file, string[] columns)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        try
        {
            CheckValues(file, columns, new FitSettings(), categories: 0, 0, file.Points);
        }
        catch (DataFormatException e)
        {
            throw new UsageException(e.Message);
        }
    }

    /// <summary>
    /// One pass over the file before a fit: every value finite, and for a discrete model an outcome of its family,
    /// the first offender named by its line (CSV) or row and its column, as in-memory fits name it.
    /// </summary>
    private static void CheckValues<T>(FileDataSource<T> file, string[] columns, FitSettings s, int categories, long first, long rows)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        bool discrete = !s.Continuous;
        bool missing = s.Missing;
        DiscreteDistribution distribution = discrete ? Names.Distribution(s.Model) : default;
        int trials = s.Trials ?? 1;
        int d = file.Features;
        int chunk = Math.Max(1, (1 << 20) / d);
        T[] buffer = new T[(long)chunk * d];
        for (long start = first; start < first + rows; start += chunk)
        {
            int count = (int)Math.Min(chunk, first + rows - start);
            file.Read(start, count, buffer, count, default, default);
            for (int i = 0; i < count; i++)
            {
                for (int j = 0; j < d; j++)
                {
                    double v = double.CreateTruncating(buffer[j * count + i]);
                    string where = "";
                    if (missing && double.IsNaN(v))
                    {
                        continue; // a missing value, marginalised
                    }

                    if (!double.IsFinite(v))
                    {
                        where = missing ? "is not a finite number." : "is not a finite number; missing values are not supported (--missing marginalize marginalises them).";
                    }
                    else if (discrete && !DiscreteOutcomes.IsValid(v, distribution, categories, trials))
                    {
                        where = $"is not {DiscreteOutcomes.Expected(distribution, categories, trials)} (--model {s.Model}).";
                    }

                    if (where.Length > 0)
                    {
                        throw new UsageException($"{file.Name}, {file.Locate(start + i)}, column '{Quoted.Of(columns[j])}': {v.ToString(CultureInfo.InvariantCulture)} {where}");
                    }
                }
            }
        }
    }

    /// <summary>
    /// The initial noise flags of <c>--noise-init</c>: one line per data row, 1/0, true/false (any case) or T/F, after an
    /// optional header line; read no further than one line more than the data have.
    /// </summary>
    public static bool[] NoiseFlags(string path, long rows)
    {
        if (rows > Array.MaxLength)
        {
            throw new UsageException($"--noise-init: {rows} rows do not fit one array of flags.");
        }

        bool[] flags = new bool[rows];
        long count = 0;
        int line = 0;
        try
        {
            // A flag and its line end take a few bytes: a longer file is not a flags file (and is not read into memory).
            long most = (rows * 8) + 4096;
            if (new FileInfo(path).Length > most)
            {
                throw new UsageException($"--noise-init {path} is larger than {most} bytes: not one flag per row of the data's {rows}.");
            }

            using var reader = new StreamReader(path);
            while (reader.ReadLine() is { } text)
            {
                line++;
                string value = text.Trim().Trim('"');
                bool? flag = value.ToUpperInvariant() switch
                {
                    "1" or "TRUE" or "T" => true,
                    "0" or "FALSE" or "F" => false,
                    _ => null,
                };
                if (flag is null)
                {
                    if (line == 1)
                    {
                        continue; // a header
                    }

                    throw new UsageException($"--noise-init {path}, line {line}: '{Quoted.Of(value.Length > 40 ? value[..40] + "…" : value)}' is not a flag (1/0, true/false).");
                }

                if (count == rows)
                {
                    throw new UsageException($"--noise-init {path} has more flags than the data's {rows} rows.");
                }

                flags[count++] = flag.Value;
            }
        }
        catch (IOException e)
        {
            throw new UsageException($"--noise-init {path}: {e.Message}");
        }
        catch (UnauthorizedAccessException e)
        {
            throw new UsageException($"--noise-init {path}: {e.Message}");
        }

        if (count != rows)
        {
            throw new UsageException($"--noise-init {path} has {count} flags; the data have {rows} rows.");
        }

        return flags;
    }

    /// <summary>mclust's <c>defaultPrior</c> for the data (<see cref="GaussianPrior.Default"/>), the column means and covariance in two passes.</summary>
    private static GaussianPrior DefaultPrior<T>(DataSource<T> data, CovarianceType type, int components)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int d = data.Features;
        long n = data.Points;
        if (n < 2)
        {
            throw new UsageException($"{data.Name}: --prior needs at least 2 rows.");
        }

        int chunk = Math.Max(1, (1 << 20) / d);
        T[] buffer = new T[(long)chunk * d];
        double[] mean = new double[d];
        double[] covariance = new double[d * d];
        for (int pass = 0; pass < 2; pass++)
        {
            for (long start = 0; start < n; start += chunk)
            {
                int count = (int)Math.Min(chunk, n - start);
                data.Read(start, count, buffer, count, default, default);
                for (int i = 0; i < count; i++)
                {
                    for (int a = 0; a < d; a++)
                    {
                        double va = double.CreateTruncating(buffer[a * count + i]);
                        if (pass == 0)
                        {
                            mean[a] += va;
                            continue;
                        }

                        for (int b = 0; b < d; b++)
                        {
                            covariance[a * d + b] += (va - mean[a]) * (double.CreateTruncating(buffer[b * count + i]) - mean[b]);
                        }
                    }
                }
            }

            if (pass == 0)
            {
                for (int a = 0; a < d; a++)
                {
                    mean[a] /= n;
                }
            }
        }

        for (int i = 0; i < covariance.Length; i++)
        {
            covariance[i] /= n - 1;
        }

        return GaussianPrior.Default(type, components, mean, covariance);
    }

    /// <summary>The largest value in the file (the categorical default of C − 1), in one pass.</summary>
    private static double LargestValue<T>(FileDataSource<T> file)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int d = file.Features;
        int chunk = Math.Max(1, (1 << 20) / d);
        T[] buffer = new T[(long)chunk * d];
        double largest = 0;
        for (long start = 0; start < file.Points; start += chunk)
        {
            int count = (int)Math.Min(chunk, file.Points - start);
            file.Read(start, count, buffer, count, default, default);
            foreach (T value in buffer.AsSpan(0, count * d))
            {
                largest = Math.Max(largest, double.CreateTruncating(value));
            }
        }

        return largest;
    }
}
