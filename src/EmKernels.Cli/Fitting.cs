using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Text.Json;
using EmKernels.Mixtures;

namespace EmKernels.Cli;

/// <summary>The fit options of <c>emk fit</c> and <c>emk select</c>, validated with the command line's names, and recorded in the model file.</summary>
internal sealed record FitSettings
{
    public string Model { get; init; } = "gaussian";

    public CovarianceType Covariance { get; init; } = CovarianceType.Full;

    public int Components { get; init; } = 2;

    public string? Columns { get; init; }

    public int MaxIterations { get; init; } = 100;

    public double Tolerance { get; init; } = 1e-3;

    public double RegCovar { get; init; } = 1e-6;

    /// <summary>kmeans, random or random-points; null for the model's default (kmeans for Gaussian, random otherwise).</summary>
    public string? Init { get; init; }

    public int Restarts { get; init; } = 1;

    public int Seed { get; init; }

    public bool Float32 { get; init; }

    public int? Threads { get; init; }

    public double Smoothing { get; init; }

    public int? Trials { get; init; }

    public int? Categories { get; init; }

    public static readonly string[] InitNames = ["kmeans", "random", "random-points"];

    /// <summary>Checks every option against the data, naming the option; the library's own checks then cannot fire on options.</summary>
    public void Validate(DataTable data)
    {
        Require(Components >= 1, "--components must be at least 1.");
        Require(Components <= data.Rows, $"{data.Source} has {data.Rows} rows but --components is {Components}; a mixture needs at least as many points as components.");
        Require(MaxIterations >= 1, "--max-iter must be at least 1.");
        Require(Tolerance >= 0 && double.IsFinite(Tolerance), "--tol must be finite and non-negative.");
        Require(RegCovar >= 0 && double.IsFinite(RegCovar), "--reg-covar must be finite and non-negative.");
        Require(Restarts >= 1, "--n-init must be at least 1.");
        Require(Threads is null or >= 1, "--threads must be at least 1.");
        Require(Smoothing >= 0 && double.IsFinite(Smoothing), "--smoothing must be finite and non-negative.");
        Require(Init is null || InitNames.Contains(Init), $"--init must be one of {string.Join(", ", InitNames)}.");
        Require(Model == "gaussian" || Init != "kmeans", "--init kmeans is for Gaussian mixtures; discrete mixtures start from random or random-points.");
        Require(Model == "binomial" || Trials is null, "--trials is for --model binomial.");
        Require(Model == "categorical" || Categories is null, "--categories is for --model categorical.");
        Require(Model != "binomial" || Trials is >= 1, "--model binomial needs --trials (the number of trials behind every count, at least 1).");
        Require(Categories is null or >= 1, "--categories must be at least 1.");
        if (Model != "gaussian")
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
                        $"{data.Source}, line {data.Lines[i]}, column '{data.Columns[j]}': {v.ToString(CultureInfo.InvariantCulture)} is not {DiscreteOutcomes.Expected(distribution, categories, trials)} (--model {Model}).");
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

    public void Write(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteString("model", Model);
        if (Model == "gaussian")
        {
            json.WriteString("covariance", Names.Of(Covariance));
            json.WriteNumber("reg_covar", RegCovar);
        }
        else
        {
            json.WriteNumber("smoothing", Smoothing);
        }

        json.WriteNumber("components", Components);
        if (Columns is not null)
        {
            json.WriteString("columns", Columns);
        }

        json.WriteNumber("max_iter", MaxIterations);
        json.WriteNumber("tol", Tolerance);
        json.WriteString("init", Init ?? (Model == "gaussian" ? "kmeans" : "random"));
        json.WriteNumber("n_init", Restarts);
        json.WriteNumber("seed", Seed);
        json.WriteBoolean("float32", Float32);
        if (Threads is { } threads)
        {
            json.WriteNumber("threads", threads);
        }

        if (Trials is { } trials)
        {
            json.WriteNumber("trials", trials);
        }

        if (Categories is { } categories)
        {
            json.WriteNumber("categories", categories);
        }

        json.WriteEndObject();
    }

    public static FitSettings Read(JsonFields json)
    {
        string model = json.String("model");
        return new FitSettings
        {
            Model = model,
            Covariance = model == "gaussian" ? Names.Covariance(json.String("covariance"), "options") : CovarianceType.Full,
            RegCovar = model == "gaussian" ? json.Number("reg_covar") : 0,
            Smoothing = model == "gaussian" ? 0 : json.Number("smoothing"),
            Components = json.Int("components"),
            Columns = json.OptionalString("columns"),
            MaxIterations = json.Int("max_iter"),
            Tolerance = json.Number("tol"),
            Init = json.String("init"),
            Restarts = json.Int("n_init"),
            Seed = json.Int("seed"),
            Float32 = json.Bool("float32"),
            Threads = json.OptionalInt("threads"),
            Trials = json.OptionalInt("trials"),
            Categories = json.OptionalInt("categories"),
        };
    }
}

/// <summary>A fit's results: the model file's content and the model.</summary>
internal sealed record FitOutcome(ModelFile File, IMixture Mixture);

/// <summary>Runs the library's estimators for the command line.</summary>
internal static class Fitter
{
    /// <summary>Fits <paramref name="data"/> (its columns already chosen) with the settings, in float or double.</summary>
    public static FitOutcome Fit(DataTable data, FitSettings settings, IProgress<FitProgress>? progress)
    {
        settings.Validate(data);
        try
        {
            return settings.Float32 ? Fit<float>(data, settings, progress) : Fit<double>(data, settings, progress);
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"{data.Source}: {Messages.Of(e)}");
        }
    }

    private static FitOutcome Fit<T>(DataTable data, FitSettings s, IProgress<FitProgress>? progress)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int n = data.Rows, d = data.Columns.Length;
        T[] values = Mixture<T>.Convert(data.Values);
        var clock = Stopwatch.StartNew();
        MixtureModel<T> model;
        double[] means = [];
        double[] parameters;
        int categories = 1, trials = 1;
        if (s.Model == "gaussian")
        {
            var options = new GaussianMixtureOptions
            {
                Components = s.Components,
                CovarianceType = s.Covariance,
                MaxIterations = s.MaxIterations,
                Tolerance = s.Tolerance,
                RegCovar = s.RegCovar,
                Initialization = s.Init switch
                {
                    "random" => GaussianMixtureInitialization.RandomResponsibilities,
                    "random-points" => GaussianMixtureInitialization.RandomPoints,
                    _ => GaussianMixtureInitialization.KMeans,
                },
                Restarts = s.Restarts,
                Seed = s.Seed,
                MaxDegreeOfParallelism = s.Threads,
                Progress = progress,
            };
            GaussianMixtureModel<T> gaussian = new GaussianMixture<T>(options).Fit(values, n, d);
            means = gaussian.Means.ToArray();
            parameters = gaussian.Covariances.ToArray();
            model = gaussian;
        }
        else
        {
            var options = new DiscreteMixtureOptions
            {
                Components = s.Components,
                MaxIterations = s.MaxIterations,
                Tolerance = s.Tolerance,
                Initialization = s.Init == "random-points" ? DiscreteMixtureInitialization.RandomPoints : DiscreteMixtureInitialization.RandomResponsibilities,
                Restarts = s.Restarts,
                Seed = s.Seed,
                Smoothing = s.Smoothing,
                MaxDegreeOfParallelism = s.Threads,
                Progress = progress,
            };
            categories = s.Categories ?? (int)data.Values.Max() + 1;
            trials = s.Trials ?? 1;
            DiscreteMixtureModel<T> discrete = s.Model switch
            {
                "bernoulli" => new BernoulliMixture<T>(options).Fit(values, n, d),
                "categorical" => new CategoricalMixture<T>(categories, options).Fit(values, n, d),
                "binomial" => new BinomialMixture<T>(trials, options).Fit(values, n, d),
                _ => new PoissonMixture<T>(options).Fit(values, n, d),
            };
            parameters = discrete.Parameters.ToArray();
            model = discrete;
        }

        clock.Stop();
        double logLikelihood = model.MeanLogLikelihood;
        int p = model.ParameterCount;
        var summary = new FitSummary(
            logLikelihood, -2.0 * n * logLikelihood + p * Math.Log(n), -2.0 * n * logLikelihood + 2.0 * p,
            model.Converged, model.Iterations, n, data.Source, clock.Elapsed);
        var file = new ModelFile
        {
            Model = s.Model,
            Covariance = s.Model == "gaussian" ? s.Covariance : null,
            Columns = data.Columns,
            Categories = categories,
            Trials = trials,
            Weights = model.Weights.ToArray(),
            Means = means,
            Parameters = parameters,
            Float32 = s.Float32,
            Fit = summary,
            Options = s with { Categories = s.Model == "categorical" ? categories : null },
        };
        return new FitOutcome(file, new Mixture<T>(model));
    }
}
