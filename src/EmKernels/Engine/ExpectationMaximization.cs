using System.Diagnostics;
using System.Numerics;
using EmKernels.Mixtures;

namespace EmKernels.Engine;

/// <summary>When a run of EM counts as converged (and stops), with <see cref="ExpectationMaximizationOptions.Tolerance"/>.</summary>
public enum StoppingRule
{
    /// <summary>The mean objective changed by less than the tolerance (scikit-learn's rule; the default).</summary>
    AbsoluteChange,

    /// <summary>
    /// mclust's rule: the objective summed over the data changed by less than the tolerance relative to it,
    /// |L_t − L_{t−1}| / (1 + |L_t|) (mclust's default tolerance is 1e-5). Scale-free, so it neither stops a small data
    /// set early nor runs a large one long.
    /// </summary>
    RelativeChange,

    /// <summary>
    /// Aitken acceleration (Böhning et al. 1994): from the last three values of the mean objective, a = (L_t − L_{t−1}) /
    /// (L_{t−1} − L_{t−2}) estimates the rate of EM's linear convergence and L∞ = L_{t−1} + (L_t − L_{t−1}) / (1 − a) its
    /// limit; stop when |L∞ − L_t| is below the tolerance — where the run would end, not only how fast it moves, so slow
    /// EM is not stopped early.
    /// </summary>
    Aitken,
}

/// <summary>Options of the batch EM driver (<see cref="ExpectationMaximization"/>). Defaults follow scikit-learn.</summary>
public sealed record ExpectationMaximizationOptions
{
    /// <summary>Maximum number of EM iterations (M-steps) per run (≥ 0; 0 evaluates the starting parameters).</summary>
    public int MaxIterations { get; init; } = 100;

    /// <summary>A run stops when its <see cref="StoppingRule"/> holds for this tolerance (≥ 0; 0 runs every iteration).</summary>
    public double Tolerance { get; init; } = 1e-3;

    /// <summary>When a run counts as converged; scikit-learn's absolute change of the mean objective by default.</summary>
    public StoppingRule StoppingRule { get; init; } = StoppingRule.AbsoluteChange;

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

    /// <summary>
    /// Monte-Carlo EM: the E-step's expectations are estimated from draws of the latent variables, as many per point as the
    /// schedule gives each iteration (the model must be an <see cref="IMonteCarloModel{T}"/>); null for exact EM. The objective
    /// history is still the exact log-likelihood, which Monte-Carlo noise may lower: no decrease is reported then, and
    /// <see cref="ExpectationMaximizationResult.MonteCarloErrors"/> gives each iteration's standard error instead.
    /// </summary>
    public MonteCarloSchedule? MonteCarlo { get; init; }

    /// <summary>Checks every option, naming it as <c>options.Name</c>.</summary>
    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(MaxIterations, "options.MaxIterations");
        MonteCarlo?.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(Restarts, 1, "options.Restarts");
        if (!(Tolerance >= 0) || double.IsInfinity(Tolerance))
        {
            throw new ArgumentOutOfRangeException("options.Tolerance", Tolerance, "Must be finite and non-negative.");
        }

        if (MaxDegreeOfParallelism is < 1)
        {
            throw new ArgumentOutOfRangeException("options.MaxDegreeOfParallelism", MaxDegreeOfParallelism, "Must be at least 1 (or null for every core).");
        }

        if (!Enum.IsDefined(StoppingRule))
        {
            throw new ArgumentOutOfRangeException("options.StoppingRule", StoppingRule, "Unknown stopping rule.");
        }
    }

    /// <summary>
    /// Whether the run has converged under the rule, from the history of mean objectives (the latest last) and the total
    /// weight Σ w that turns a mean into a sum.
    /// </summary>
    internal bool Converged(List<double> history, double totalWeight)
    {
        int t = history.Count;
        if (t < 2)
        {
            return false;
        }

        double current = history[t - 1], previous = history[t - 2];
        switch (StoppingRule)
        {
            case StoppingRule.RelativeChange:
                return Math.Abs(current - previous) * totalWeight / (1 + Math.Abs(current * totalWeight)) < Tolerance;
            case StoppingRule.Aitken:
            {
                if (current == previous)
                {
                    return Tolerance > 0;
                }

                if (t < 3)
                {
                    return false;
                }

                double before = history[t - 3];
                double rate = (current - previous) / (previous - before);
                double limit = previous + ((current - previous) / (1 - rate));
                return double.IsFinite(limit) && rate < 1 && Math.Abs(limit - current) < Tolerance;
            }

            default:
                return Math.Abs(current - previous) < Tolerance;
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
    /// <summary>
    /// Monte-Carlo EM: per iteration of the kept run, the standard error of its estimate of the expected complete-data
    /// log-likelihood, per unit weight (the noise of the E-step); empty for exact EM.
    /// </summary>
    public double[] MonteCarloErrors { get; init; } = [];

    /// <summary>Monte-Carlo EM: the draws per point of each iteration of the kept run; empty for exact EM.</summary>
    public int[] MonteCarloSamples { get; init; } = [];

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
        where T : unmanaged, IBinaryFloatingPointIeee754<T> => DistributedFit(model, data, options, exchange: null);

    /// <summary>
    /// <see cref="Fit{T}(IExpectationMaximizationModel{T}, DataSource{T}, ExpectationMaximizationOptions?)"/>, on one process of a
    /// distributed fit when <paramref name="exchange"/> is given: every pass covers this process's segments and meets the
    /// others' in the exchange, so every process runs the same iterations to bitwise the same parameters.
    /// </summary>
    internal static ExpectationMaximizationResult DistributedFit<T>(IExpectationMaximizationModel<T> model, DataSource<T> data, ExpectationMaximizationOptions? options, IPassExchange? exchange)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        options ??= new ExpectationMaximizationOptions();
        options.Validate();
        var clock = Stopwatch.StartNew();
        int workers = options.MaxDegreeOfParallelism ?? Environment.ProcessorCount;
        CancellationToken token = options.CancellationToken;
        DataSummary summary = Summarize(model, data, workers, token, exchange: exchange);
        summary = summary.InFrame(model.FrameScaleExponent(summary));
        var framed = new FramedData<T>(data, Frame.Of(summary, model.SupportsTranslation), workers, TilePoints);
        IMonteCarloModel<T>? monteCarlo = null;
        if (options.MonteCarlo is { } schedule)
        {
            // Drawing changes the statistics' layout (they carry the estimate's variance): before the engine makes them.
            monteCarlo = model as IMonteCarloModel<T> ?? throw new ArgumentException($"{model.GetType().Name} has no Monte-Carlo E-step (IMonteCarloModel).", "options");
            monteCarlo.SetMonteCarlo(schedule.SamplesAt(1), 0);
        }

        EnterFrame(model, framed.Frame);
        try
        {
            using var engine = new PassEngine<T>(model, framed, workers, exchange);
            return Run(model, engine, framed, summary, options, clock, exchange);
        }
        finally
        {
            monteCarlo?.SetMonteCarlo(0, 0);
            LeaveFrame(model, framed.Frame);
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
        // The frame: centred (at the data's mean unless a centre is given) and scaled as the model's own
        // parameters ask, so that a model of data of any finite magnitude evaluates without overflow.
        double[]? translation;
        if (model.SupportsTranslation && centre is null)
        {
            translation = Summarize(model, data, workers, cancellationToken, variances: false).Centre;
        }
        else
        {
            Validate(model, data, workers, cancellationToken);
            translation = model.SupportsTranslation ? centre : null;
        }

        var frame = new Frame(translation, model.FrameScaleExponent(null), 0);
        double[] saved = new double[model.ParameterLength];
        model.WriteParameters(saved);
        var framed = new FramedData<T>(data, frame, workers, TilePoints);
        EnterFrame(model, frame);
        try
        {
            using var engine = new PassEngine<T>(model, framed, workers);
            engine.Evaluate(pointObjectives, responsibilities, labels, cancellationToken);
            if (pointObjectives is not null && frame.ScaleExponent != 0)
            {
                double jacobian = frame.LogJacobian(model.Features);
                for (int i = 0; i < pointObjectives.Length; i++)
                {
                    pointObjectives[i] += jacobian;
                }
            }
        }
        finally
        {
            // Leaving the frame restores any state of the model's own scale; the saved vector then restores the
            // parameters exactly (moving them back and forth would round them).
            LeaveFrame(model, frame);
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
    /// The passes before a fit, each a pass of the engine (parallel, and the same sums for any thread count):
    /// with sample weights, one that validates every value (through the model) and sums the weights, which
    /// fixes the power of two k that normalizes them; then the weighted values (validating them, if not done
    /// yet), for the mean; then, about the frame's centre, the squared deviations. Every sum is taken so that it
    /// neither overflows nor underflows (<see cref="MomentsModel{T}"/>), so the summary is finite for data and
    /// weights of any finite magnitude; the variances are also kept as mantissa and power of two, for a frame
    /// the model may then choose (<see cref="DataSummary.InFrame"/>).
    /// </summary>
    internal static DataSummary Summarize<T>(IExpectationMaximizationModel<T> model, DataSource<T> data, int workers, CancellationToken token, bool variances = true, IPassExchange? exchange = null)
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
        var raw = new FramedData<T>(data, Frame.Identity, workers, TilePoints);
        int weightExponent = 0;
        double totalWeight;
        double[] mean = new double[d];
        using (var engine = new PassEngine<T>(moments, raw, workers, exchange))
        {
            if (data.HasSampleWeights)
            {
                engine.Pass(accumulate: true, reshift: true, token);
                ReadOnlySpan<double> w = engine.Total.Sums;
                (double value, int exponent) = MomentsModel<T>.Best(w[1], w[0], MomentsModel<T>.WeightDown, w[2], MomentsModel<T>.WeightUp);
                if (!(value > 0) || !double.IsFinite(value))
                {
                    throw new ArgumentException($"The sample weights sum to {value}·2^{exponent}; they must have a positive sum.", "sampleWeights");
                }

                // k so that the mean weight is about 1: the weights are only relative.
                weightExponent = Math.ILogB(value) + exponent - Math.ILogB((double)data.Points);
                moments.WeightFactor = Frames.Factors<double>(-weightExponent);
                moments.Validating = false;
            }

            engine.Pass(accumulate: true, reshift: true, token);
            ReadOnlySpan<double> sums = engine.Total.Sums;
            totalWeight = data.HasSampleWeights ? sums[1] : data.Points;
            for (int f = 0; f < d; f++)
            {
                // With missing values, each feature's mean is over its observed entries.
                (double value, int exponent) = MomentsModel<T>.Best(sums[3 + f], sums[3 + d + f], MomentsModel<T>.FirstDown);
                double weight = moments.Missing ? sums[3 + (5 * d) + f] : totalWeight;
                mean[f] = weight > 0 ? Frames.ScaleByPowerOfTwo(value / weight, exponent) : 0;
            }
        }

        if (!(totalWeight > 0) || !double.IsFinite(totalWeight))
        {
            throw new ArgumentException($"The sample weights sum to {totalWeight}; they must have a finite positive sum.", "sampleWeights");
        }

        double[] centre = model.SupportsTranslation ? mean : new double[d];
        double[] variance = new double[d];
        var summary = new DataSummary(data.Points, totalWeight, mean, variance, centre) { WeightScaleExponent = weightExponent };
        if (!variances)
        {
            return summary;
        }

        double[] mantissa = new double[d];
        int[] varianceExponent = new int[d];
        double log2Spread = double.NegativeInfinity;
        moments.Validating = false;
        moments.Centre = centre;
        using (var engine = new PassEngine<T>(moments, raw, workers, exchange))
        {
            engine.Pass(accumulate: true, reshift: true, token);
            ReadOnlySpan<double> second = engine.Total.Sums.Slice(3 + 2 * d, 3 * d);
            for (int f = 0; f < d; f++)
            {
                (double value, int exponent) = MomentsModel<T>.Best(second[f], second[d + f], 2 * MomentsModel<T>.SecondDown, second[2 * d + f], 2 * MomentsModel<T>.SecondUp);
                double weight = moments.Missing ? engine.Total.Sums[3 + (5 * d) + f] : totalWeight;
                mantissa[f] = weight > 0 ? Math.Max(0, value / weight) : 0;
                varianceExponent[f] = exponent / 2;
                variance[f] = Frames.ScaleByPowerOfTwo(mantissa[f], exponent);
                if (mantissa[f] > 0)
                {
                    log2Spread = Math.Max(log2Spread, 0.5 * Math.Log2(mantissa[f]) + varianceExponent[f]);
                }
            }
        }

        return summary with { Variance = variance, Log2Spread = log2Spread, VarianceInParts = (mantissa, varianceExponent) };
    }

    private static ExpectationMaximizationResult Run<T>(
        IExpectationMaximizationModel<T> model, PassEngine<T> engine, FramedData<T> framed, DataSummary summary, ExpectationMaximizationOptions options, Stopwatch clock, IPassExchange? exchange)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CancellationToken token = options.CancellationToken;
        int seed = options.Seed ?? Random.Shared.Next();
        double[] best = new double[model.ParameterLength];
        RunResult? kept = null;
        var reseeds = new List<ComponentReseed>();
        long pointsVisited = 0;
        var expectation = new Expectations<T>(model, engine, summary.Points);
        for (int restart = 0; restart < options.Restarts; restart++)
        {
            // A model whose statistics are the data's own has them before its start is chosen (the one pass of the fit).
            SufficientStatistics? dataStatistics = model.StatisticsIndependentOfParameters ? expectation.DataStatistics(token, ref pointsVisited) : null;
            using var initialization = new ModelInitialization<T>(
                framed, summary, restart, new Random(unchecked(seed * 31 + restart)), TilePoints, token, dataStatistics, exchange, model.AllowsMissingValues)
            {
                MaxDegreeOfParallelism = options.MaxDegreeOfParallelism ?? Environment.ProcessorCount,
            };
            bool deterministic = model.Initialize(initialization);
            RunResult run = RunOnce(model, engine, expectation, summary, options, restart, seed, clock, ref pointsVisited);
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
        return new ExpectationMaximizationResult(kept!.History, kept.Converged, kept.Iterations, kept.Decreases, [.. reseeds], summary)
        {
            MonteCarloErrors = kept.MonteCarloErrors,
            MonteCarloSamples = kept.MonteCarloSamples,
        };
    }

    /// <summary>
    /// One run of EM from the model's current parameters, exactly as scikit-learn's loop: E-step, M-step,
    /// stop when the change of the mean objective is below the tolerance; then a final E-step so that the
    /// last value belongs to the returned parameters. Never stops right after a re-seed, whose change
    /// compares two different models.
    /// </summary>
    private static RunResult RunOnce<T>(
        IExpectationMaximizationModel<T> model, PassEngine<T> engine, Expectations<T> expectation, DataSummary summary, ExpectationMaximizationOptions options, int restart, int seed, Stopwatch clock, ref long pointsVisited)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CancellationToken token = options.CancellationToken;
        int maxIterations = options.MaxIterations;
        double jacobian = new Frame(null, summary.ScaleExponent, 0).LogJacobian(model.Features);
        double previousRounding = 0;
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
        MonteCarloSchedule? schedule = options.MonteCarlo;
        var monteCarlo = schedule is null ? null : (IMonteCarloModel<T>)model;
        var errors = new List<double>();
        var samples = new List<int>();
        while (iteration < maxIterations)
        {
            iteration++;
            if (monteCarlo is not null)
            {
                // The draws of this run and iteration: a key of (seed, restart, iteration), the same on every thread and process.
                int draws = schedule!.SamplesAt(iteration);
                monteCarlo.SetMonteCarlo(draws, MonteCarloKey(seed, restart, iteration));
                samples.Add(draws);
            }

            double current = expectation.Run(accumulate: true, token, ref pointsVisited) / summary.TotalWeight + jacobian;
            double rounding = model.ObjectiveRoundingError();
            history.Add(current);
            if (monteCarlo is not null)
            {
                errors.Add(Math.Sqrt(monteCarlo.MonteCarloVariance(engine.Total)) / summary.TotalWeight);
            }
            else if (history.Count > 1 && !reseededBefore)
            {
                CheckMonotone<T>(history, decreases, Math.Max(rounding, previousRounding));
            }

            previousRounding = rounding;

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
            if (!reseeded && !reseededBefore && options.Converged(history, Frames.ScaleByPowerOfTwo(summary.TotalWeight, summary.WeightScaleExponent)))
            {
                converged = true;
                break;
            }

            reseededBefore = reseeded;
        }

        double final = expectation.Run(accumulate: false, token, ref pointsVisited) / summary.TotalWeight + jacobian;
        history.Add(final);
        if (!reseededBefore && history.Count > 1 && monteCarlo is null)
        {
            CheckMonotone<T>(history, decreases, Math.Max(model.ObjectiveRoundingError(), previousRounding));
        }

        return new RunResult([.. history], converged, iteration, [.. decreases], [.. reseeds], [.. errors], [.. samples]);
    }

    /// <summary>
    /// Records a decrease of the objective beyond what rounding explains: 64 ε (1 + |objective|) for a mean of N
    /// per-point values of the element type, plus the model's own allowance for the conditioning of its
    /// parameters under either of the two passes compared (<see cref="IExpectationMaximizationModel{T}.ObjectiveRoundingError"/>).
    /// </summary>
    internal static void CheckMonotone<T>(List<double> history, List<LikelihoodDecrease> decreases, double conditioning = 0)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        double before = history[^2];
        double after = history[^1];
        double epsilon = typeof(T) == typeof(float) ? Math.ScaleB(1, -23) : Math.ScaleB(1, -52);
        if (after < before - 64 * epsilon * (1 + Math.Abs(before)) - conditioning)
        {
            decreases.Add(new LikelihoodDecrease(history.Count - 1, before - after));
        }
    }

    /// <summary>Moves a model into a frame: by −c when it is translation-equivariant, then scaled by 2^−s.</summary>
    internal static void EnterFrame<T>(IExpectationMaximizationModel<T> model, Frame frame)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (frame.Centre is not null)
        {
            Translate(model, frame.Centre, -1);
        }

        if (frame.ScaleExponent != 0)
        {
            model.ScaleFrame(-frame.ScaleExponent);
        }

        if (frame.WeightScaleExponent != 0)
        {
            model.ScaleWeights(-frame.WeightScaleExponent);
        }
    }

    /// <summary>Moves a model out of a frame: scaled by 2^s, then by +c.</summary>
    internal static void LeaveFrame<T>(IExpectationMaximizationModel<T> model, Frame frame)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (frame.WeightScaleExponent != 0)
        {
            model.ScaleWeights(frame.WeightScaleExponent);
        }

        if (frame.ScaleExponent != 0)
        {
            model.ScaleFrame(frame.ScaleExponent);
        }

        if (frame.Centre is not null)
        {
            Translate(model, frame.Centre, +1);
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

    /// <summary>
    /// The E-step of an iteration: a pass over the data (with a new shift when it accumulates statistics for an
    /// M-step) — or, for a model whose statistics do not depend on its parameters
    /// (<see cref="IExpectationMaximizationModel{T}.StatisticsIndependentOfParameters"/>), the one pass of the fit
    /// the first time, and from then on the model's objective of those statistics, which every restart shares.
    /// </summary>
    private sealed class Expectations<T>(IExpectationMaximizationModel<T> model, PassEngine<T> engine, long points)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        private bool _summarized;

        /// <summary>Runs the E-step under the model's current parameters; the statistics are then in the engine's total.</summary>
        public double Run(bool accumulate, CancellationToken token, ref long pointsVisited)
        {
            if (!model.StatisticsIndependentOfParameters)
            {
                pointsVisited += points;
                return engine.Pass(accumulate, reshift: accumulate, token);
            }

            return model.ObjectiveOfStatistics(DataStatistics(token, ref pointsVisited));
        }

        /// <summary>For a model whose statistics do not depend on its parameters: the statistics of the data, from the fit's one pass (made the first time).</summary>
        public SufficientStatistics DataStatistics(CancellationToken token, ref long pointsVisited)
        {
            if (!_summarized)
            {
                engine.Pass(accumulate: true, reshift: true, token);
                pointsVisited += points;
                _summarized = true;
            }
            else
            {
                token.ThrowIfCancellationRequested();
            }

            return engine.Total;
        }
    }

    private sealed record RunResult(double[] History, bool Converged, int Iterations, LikelihoodDecrease[] Decreases, ComponentReseed[] Reseeds, double[] MonteCarloErrors, int[] MonteCarloSamples);

    private static ulong MonteCarloKey(int seed, int restart, int iteration) =>
        unchecked(((ulong)(uint)seed << 32) ^ ((ulong)(uint)restart * 0x9E3779B97F4A7C15UL) ^ ((ulong)(uint)iteration * 0xC2B2AE3D27D4EB4FUL));
}
