using System.Diagnostics;
using System.Numerics;
using EmKernels.Mixtures;

namespace EmKernels.Engine;

/// <summary>Options of the batch EM driver (<see cref="ExpectationMaximization"/>). Defaults follow scikit-learn.</summary>
public sealed record ExpectationMaximizationOptions
{
    /// <summary>Maximum number of EM iterations (M-steps) per run (≥ 0; 0 evaluates the starting parameters).</summary>
    public int MaxIterations { get; init; } = 100;

    /// <summary>A run stops when the mean objective changes by less than this between iterations (≥ 0; 0 runs every iteration).</summary>
    public double Tolerance { get; init; } = 1e-3;

    /// <summary>Number of runs from different starts (≥ 1); the run with the highest final objective is kept. A deterministic start runs once.</summary>
    public int Restarts { get; init; } = 1;

    /// <summary>Seed of every random choice; the same seed, data and options give bitwise-identical results. Null draws one.</summary>
    public int? Seed { get; init; }

    /// <summary>Maximum number of threads; null uses every core. Results do not depend on it.</summary>
    public int? MaxDegreeOfParallelism { get; init; }

    /// <summary>Receives one report per EM iteration, on the fitting thread.</summary>
    public IProgress<FitProgress>? Progress { get; init; }

    /// <summary>Cancels the fit: it then throws <see cref="OperationCanceledException"/> within one segment of a pass, with the model back in the user's coordinates.</summary>
    public CancellationToken CancellationToken { get; init; }

    /// <summary>Checks every option, naming it as <c>options.Name</c>.</summary>
    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(MaxIterations, "options.MaxIterations");
        ArgumentOutOfRangeException.ThrowIfLessThan(Restarts, 1, "options.Restarts");
        if (!(Tolerance >= 0) || double.IsInfinity(Tolerance))
        {
            throw new ArgumentOutOfRangeException("options.Tolerance", Tolerance, "Must be finite and non-negative.");
        }

        if (MaxDegreeOfParallelism is < 1)
        {
            throw new ArgumentOutOfRangeException("options.MaxDegreeOfParallelism", MaxDegreeOfParallelism, "Must be at least 1 (or null for every core).");
        }
    }
}

/// <summary>How a fit went: the objective history of the kept run and what happened on the way.</summary>
/// <param name="ObjectiveHistory">The mean objective (Σ over points + correction, divided by Σ w) under the starting parameters and after each M-step of the kept run: <paramref name="Iterations"/> + 1 values, the last for the returned parameters.</param>
/// <param name="Converged">Whether the kept run stopped because the change fell below the tolerance.</param>
/// <param name="Iterations">M-steps of the kept run.</param>
/// <param name="Decreases">Iterations of the kept run whose objective fell by more than rounding (expected empty).</param>
/// <param name="Reseeds">Components re-seeded in any run.</param>
/// <param name="Summary">What the driver learnt about the data.</param>
public sealed record ExpectationMaximizationResult(
    double[] ObjectiveHistory, bool Converged, int Iterations, LikelihoodDecrease[] Decreases, ComponentReseed[] Reseeds, DataSummary Summary)
{
    /// <summary>The mean objective under the returned parameters.</summary>
    public double Objective => ObjectiveHistory[^1];
}

/// <summary>
/// Batch EM, written once for every <see cref="IExpectationMaximizationModel{T}"/> and every
/// <see cref="DataSource{T}"/>: in memory it is one fused, segmented, allocation-free pass per iteration;
/// over a file it streams the chunks every iteration with memory that does not grow with N; both give
/// bitwise the same fit. Restarts, convergence (scikit-learn's: the change of the mean objective below the
/// tolerance), progress, cancellation and the monotonicity check live here.
/// </summary>
public static class ExpectationMaximization
{
    /// <summary>Points per tile of every pass (the granularity of the fixed segmentation).</summary>
    public const int TilePoints = PassEngine<double>.Tile;

    /// <summary>
    /// Fits <paramref name="model"/> to <paramref name="data"/> by EM: summarises and validates the data,
    /// centres them when the model is translation-equivariant, runs EM from the model's initialization once
    /// per restart (E-step, M-step, until the change of the mean objective is below the tolerance), keeps
    /// the best run and ends with an E-step, so the last objective belongs to the returned parameters. The
    /// model then holds the best parameters, in the user's coordinates.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="model">The model; fitted in place.</param>
    /// <param name="data">The points (N ≥ 1, D = the model's).</param>
    /// <param name="options">Options, or null for the defaults.</param>
    /// <returns>How the fit went.</returns>
    /// <exception cref="ArgumentException">The data do not fit the model (the message says where), or an option is invalid.</exception>
    /// <exception cref="OperationCanceledException">The fit was cancelled.</exception>
    public static ExpectationMaximizationResult Fit<T>(IExpectationMaximizationModel<T> model, DataSource<T> data, ExpectationMaximizationOptions? options = null)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        options ??= new ExpectationMaximizationOptions();
        options.Validate();
        var clock = Stopwatch.StartNew();
        int workers = options.MaxDegreeOfParallelism ?? Environment.ProcessorCount;
        CancellationToken token = options.CancellationToken;
        DataSummary summary = Summarize(model, data, workers, token);
        var framed = new FramedData<T>(data, model.SupportsTranslation ? summary.Centre : null, workers, TilePoints);
        Translate(model, summary.Centre, -1);
        try
        {
            using var engine = new PassEngine<T>(model, framed, workers);
            return Run(model, engine, framed, summary, options, clock);
        }
        finally
        {
            Translate(model, summary.Centre, +1);
        }
    }

    /// <summary>
    /// Evaluates <paramref name="model"/> on <paramref name="data"/> in one parallel pass (after a pass that
    /// validates the data): any of each point's objective (for a mixture its log-likelihood), its
    /// responsibilities (N × K, row-major) and its most probable component (ties to the lower index); null
    /// outputs are skipped. A translation-equivariant model is evaluated in a frame centred at
    /// <paramref name="centre"/> (by default the data's mean), so data far from the origin keep their
    /// precision; the model's parameters are restored exactly afterwards.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="model">The model (responsibilities and labels need an <see cref="IMixtureModel{T}"/>).</param>
    /// <param name="data">The points (D = the model's; N may be 0).</param>
    /// <param name="pointObjectives">N outputs, or null.</param>
    /// <param name="responsibilities">N × K outputs, or null.</param>
    /// <param name="labels">N outputs, or null.</param>
    /// <param name="centre">The frame's centre (D values) for a translation-equivariant model, or null for the data's mean.</param>
    /// <param name="maxDegreeOfParallelism">Maximum number of threads; null uses every core.</param>
    /// <param name="cancellationToken">Cancels the evaluation.</param>
    /// <exception cref="ArgumentException">A value is not valid data for the model (the message names it), or an output has the wrong length.</exception>
    public static void Evaluate<T>(
        IExpectationMaximizationModel<T> model, DataSource<T> data, double[]? pointObjectives, T[]? responsibilities, int[]? labels,
        double[]? centre = null, int? maxDegreeOfParallelism = null, CancellationToken cancellationToken = default)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        if (data.Features != model.Features)
        {
            throw new ArgumentException($"The data have {data.Features} features; the model has {model.Features}.", nameof(data));
        }

        long n = data.Points;
        CheckOutput(pointObjectives?.Length, n, nameof(pointObjectives));
        CheckOutput(labels?.Length, n, nameof(labels));
        if (responsibilities is not null || labels is not null)
        {
            if (model is not IMixtureModel<T> mixture)
            {
                throw new ArgumentException("Responsibilities and labels need a mixture model.", nameof(model));
            }

            CheckOutput(responsibilities?.Length, n * mixture.Components, nameof(responsibilities));
        }

        if (n == 0)
        {
            return;
        }

        if (centre is not null && centre.Length != model.Features)
        {
            throw new ArgumentException($"Expected {model.Features} values.", nameof(centre));
        }

        int workers = maxDegreeOfParallelism ?? Environment.ProcessorCount;
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1, nameof(maxDegreeOfParallelism));
        double[]? frame;
        if (model.SupportsTranslation && centre is null)
        {
            frame = Summarize(model, data, workers, cancellationToken, variances: false).Centre;
        }
        else
        {
            Validate(model, data, workers, cancellationToken);
            frame = model.SupportsTranslation ? centre : null;
        }

        double[] saved = new double[model.ParameterLength];
        model.WriteParameters(saved);
        var framed = new FramedData<T>(data, frame, workers, TilePoints);
        try
        {
            if (frame is not null)
            {
                Translate(model, frame, -1);
            }

            using var engine = new PassEngine<T>(model, framed, workers);
            engine.Evaluate(pointObjectives, responsibilities, labels, cancellationToken);
        }
        finally
        {
            model.ReadParameters(saved);
        }
    }

    private static void CheckOutput(int? length, long expected, string name)
    {
        if (length is { } actual && actual != expected)
        {
            throw new ArgumentException($"Expected {expected} values, got {actual}.", name);
        }
    }

    /// <summary>A pass that only validates the data through the model.</summary>
    internal static void Validate<T>(IExpectationMaximizationModel<T> model, DataSource<T> data, int workers, CancellationToken token)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var moments = new MomentsModel<T>(data.Features, model);
        using var engine = new PassEngine<T>(moments, new FramedData<T>(data, null, workers, TilePoints), workers);
        engine.Pass(accumulate: false, reshift: false, token);
    }

    /// <summary>
    /// The passes before a fit: the first validates every value (through the model) and sums the weights
    /// and the weighted values in the user's coordinates; the second, in the fit's frame, the squared
    /// deviations from the mean. Both are passes of the engine, so they run in parallel and their sums are
    /// the same for any thread count.
    /// </summary>
    internal static DataSummary Summarize<T>(IExpectationMaximizationModel<T> model, DataSource<T> data, int workers, CancellationToken token, bool variances = true)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (data.Features != model.Features)
        {
            throw new ArgumentException($"The data have {data.Features} features; the model has {model.Features}.", nameof(data));
        }

        if (data.Points < 1)
        {
            throw new ArgumentException("There are no points to fit.", nameof(data));
        }

        int d = data.Features;
        var moments = new MomentsModel<T>(d, model);
        var raw = new FramedData<T>(data, null, workers, TilePoints);
        double[] mean = new double[d];
        double totalWeight;
        using (var engine = new PassEngine<T>(moments, raw, workers))
        {
            engine.Pass(accumulate: true, reshift: true, token);
            totalWeight = engine.Total.Sums[0];
            for (int f = 0; f < d; f++)
            {
                mean[f] = engine.Total.Sums[1 + f] / totalWeight;
            }
        }

        if (!(totalWeight > 0) || !double.IsFinite(totalWeight))
        {
            throw new ArgumentException($"The sample weights sum to {totalWeight}; they must have a finite positive sum.", "sampleWeights");
        }

        double[] centre = model.SupportsTranslation ? mean : new double[d];
        double[] variance = new double[d];
        if (!variances)
        {
            return new DataSummary(data.Points, totalWeight, mean, variance, centre);
        }

        var framed = new FramedData<T>(data, model.SupportsTranslation ? centre : null, workers, TilePoints);
        moments.Validating = false;
        using (var engine = new PassEngine<T>(moments, framed, workers))
        {
            engine.Pass(accumulate: true, reshift: true, token);
            for (int f = 0; f < d; f++)
            {
                double first = engine.Total.Sums[1 + f] / totalWeight;
                variance[f] = Math.Max(0, engine.Total.Sums[1 + d + f] / totalWeight - first * first);
            }
        }

        return new DataSummary(data.Points, totalWeight, mean, variance, centre);
    }

    private static ExpectationMaximizationResult Run<T>(
        IExpectationMaximizationModel<T> model, PassEngine<T> engine, FramedData<T> framed, DataSummary summary, ExpectationMaximizationOptions options, Stopwatch clock)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CancellationToken token = options.CancellationToken;
        int seed = options.Seed ?? Random.Shared.Next();
        double[] best = new double[model.ParameterLength];
        RunResult? kept = null;
        var reseeds = new List<ComponentReseed>();
        long pointsVisited = 0;
        for (int restart = 0; restart < options.Restarts; restart++)
        {
            var initialization = new ModelInitialization<T>(framed, summary, restart, new Random(unchecked(seed * 31 + restart)), TilePoints, token);
            bool deterministic = model.Initialize(initialization);
            RunResult run = RunOnce(model, engine, summary, options, restart, clock, ref pointsVisited);
            reseeds.AddRange(run.Reseeds);
            if (kept is null || run.History[^1] > kept.History[^1] || double.IsNaN(kept.History[^1]))
            {
                kept = run;
                model.WriteParameters(best);
            }

            if (deterministic)
            {
                break;
            }
        }

        model.ReadParameters(best);
        return new ExpectationMaximizationResult(kept!.History, kept.Converged, kept.Iterations, kept.Decreases, [.. reseeds], summary);
    }

    /// <summary>
    /// One run of EM from the model's current parameters, exactly as scikit-learn's loop: E-step, M-step,
    /// stop when the change of the mean objective is below the tolerance; then a final E-step so that the
    /// last value belongs to the returned parameters. Never stops right after a re-seed, whose change
    /// compares two different models.
    /// </summary>
    private static RunResult RunOnce<T>(
        IExpectationMaximizationModel<T> model, PassEngine<T> engine, DataSummary summary, ExpectationMaximizationOptions options, int restart, Stopwatch clock, ref long pointsVisited)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CancellationToken token = options.CancellationToken;
        int maxIterations = options.MaxIterations;
        var history = new List<double>(Math.Min(maxIterations, 1000) + 1);
        var decreases = new List<LikelihoodDecrease>();
        var reseeds = new List<ComponentReseed>();
        MaximizationContext context = engine.Context;
        context.Restart = restart;
        context.TotalWeight = summary.TotalWeight;
        double previous = double.NegativeInfinity;
        bool converged = false;
        bool reseededBefore = false;
        int iteration = 0;
        while (iteration < maxIterations)
        {
            iteration++;
            double current = engine.Pass(accumulate: true, reshift: true, token) / summary.TotalWeight;
            pointsVisited += summary.Points;
            history.Add(current);
            if (history.Count > 1 && !reseededBefore)
            {
                CheckMonotone<T>(history, decreases);
            }

            context.Iteration = iteration;
            context.ClearReseeds();
            bool reseeded = model.Maximize(engine.Total, context);
            if (context.Reseeds.Count > 0)
            {
                reseeds.AddRange(context.Reseeds);
            }

            double change = current - previous;
            previous = current;
            options.Progress?.Report(new FitProgress(restart, iteration, current, change, clock.Elapsed, pointsVisited));
            if (Math.Abs(change) < options.Tolerance && !reseeded && !reseededBefore)
            {
                converged = true;
                break;
            }

            reseededBefore = reseeded;
        }

        double final = engine.Pass(accumulate: false, reshift: false, token) / summary.TotalWeight;
        pointsVisited += summary.Points;
        history.Add(final);
        if (!reseededBefore && history.Count > 1)
        {
            CheckMonotone<T>(history, decreases);
        }

        return new RunResult([.. history], converged, iteration, [.. decreases], [.. reseeds]);
    }

    /// <summary>Records a decrease of the objective beyond what rounding in a mean of N per-point values of the element type explains.</summary>
    internal static void CheckMonotone<T>(List<double> history, List<LikelihoodDecrease> decreases)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        double before = history[^2];
        double after = history[^1];
        double epsilon = typeof(T) == typeof(float) ? Math.ScaleB(1, -23) : Math.ScaleB(1, -52);
        if (after < before - 64 * epsilon * (1 + Math.Abs(before)))
        {
            decreases.Add(new LikelihoodDecrease(history.Count - 1, before - after));
        }
    }

    /// <summary>Moves a translation-equivariant model by <paramref name="sign"/> × the frame's centre.</summary>
    internal static void Translate<T>(IExpectationMaximizationModel<T> model, double[] centre, int sign)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (!model.SupportsTranslation)
        {
            return;
        }

        double[] offset = new double[centre.Length];
        for (int d = 0; d < centre.Length; d++)
        {
            offset[d] = sign * centre[d];
        }

        model.Translate(offset);
    }

    private sealed record RunResult(double[] History, bool Converged, int Iterations, LikelihoodDecrease[] Decreases, ComponentReseed[] Reseeds);
}
