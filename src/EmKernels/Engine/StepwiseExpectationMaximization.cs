using System.Buffers.Binary;
using System.Diagnostics;
using System.Numerics;
using EmKernels.Mixtures;

namespace EmKernels.Engine;

/// <summary>Options of stepwise (online) EM (<see cref="StepwiseExpectationMaximization{T}"/>).</summary>
public sealed record StepwiseOptions
{
    /// <summary>κ in γ_t = (t₀ + t)^−κ: 0.5 &lt; κ ≤ 1 (Cappé and Moulines' conditions for convergence). Default 0.6.</summary>
    public double Kappa { get; init; } = 0.6;

    /// <summary>t₀ ≥ 0 in γ_t = (t₀ + t)^−κ; the default 1 gives the lecture notes' (1 + t)^−κ, and 0 makes γ₁ = 1 (the start's statistics then have no weight).</summary>
    public double StepOffset { get; init; } = 1;

    /// <summary>Points per minibatch (≥ 1); the last minibatch of an epoch may be shorter.</summary>
    public int BatchSize { get; init; } = 1000;

    /// <summary>Epochs (passes over the data) <see cref="StepwiseExpectationMaximization{T}.Fit"/> runs in all, counting those of a resumed fit (≥ 1).</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Whether each epoch visits the points in a random order (drawn from <see cref="Seed"/> and the epoch); otherwise in order.</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>Seed of the shuffling and of the model's initialization; null draws one. The same seed gives bitwise the same fit.</summary>
    public int? Seed { get; init; }

    /// <summary>Whether <see cref="StepwiseExpectationMaximization{T}.Fit"/> evaluates the mean objective on all the data at the start and after every epoch (one extra pass each).</summary>
    public bool EvaluateEpochs { get; init; } = true;

    /// <summary>Maximum number of threads; null uses every core. Results do not depend on it.</summary>
    public int? MaxDegreeOfParallelism { get; init; }

    /// <summary>Receives one report per minibatch step (restart = epoch, iteration = step t).</summary>
    public IProgress<FitProgress>? Progress { get; init; }

    /// <summary>Cancels the fit between steps, leaving the driver at the last completed step (so it can be saved and resumed).</summary>
    public CancellationToken CancellationToken { get; init; }

    internal void Validate()
    {
        if (!(Kappa > 0.5 && Kappa <= 1))
        {
            throw new ArgumentOutOfRangeException("options.Kappa", Kappa, "κ must satisfy 0.5 < κ ≤ 1.");
        }

        if (!(StepOffset >= 0) || double.IsInfinity(StepOffset))
        {
            throw new ArgumentOutOfRangeException("options.StepOffset", StepOffset, "t₀ must be finite and non-negative.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(BatchSize, 1, "options.BatchSize");
        ArgumentOutOfRangeException.ThrowIfLessThan(Epochs, 1, "options.Epochs");
        if (MaxDegreeOfParallelism is < 1)
        {
            throw new ArgumentOutOfRangeException("options.MaxDegreeOfParallelism", MaxDegreeOfParallelism, "Must be at least 1 (or null for every core).");
        }
    }
}

/// <summary>
/// Stepwise (online) EM (Cappé and Moulines 2009; Liang and Klein 2009), written once for every
/// <see cref="IExpectationMaximizationModel{T}"/>: each minibatch B_t gives normalised statistics
/// ŝ_t = (1 / Σ_{B_t} w) Σ_{n ∈ B_t} E[statistics of x_n], the running statistics move towards them,
/// s_t = (1 − γ_t) s_{t−1} + γ_t ŝ_t with γ_t = (t₀ + t)^−κ, and the parameters are θ_t = M(s_t). It
/// interpolates statistics, not parameters: E-step expectations are linear in the statistics, so s_t is a
/// stochastic approximation of the full-data E-step, and the M-step of a small minibatch is never needed
/// on its own (it may not exist). s₀ is the statistics the starting parameters imply, so θ₀ counts with
/// weight 1 − γ₁.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
/// <remarks>
/// <para>Use <see cref="Fit"/> for epochs over a <see cref="DataSource{T}"/> (shuffled by seed, in memory or
/// streamed from a file with memory independent of N), <see cref="PartialFit"/> for minibatches you bring
/// yourself, or <see cref="Step"/> for a minibatch of given rows. The first call fixes the fit's frame
/// (the data's mean, for translation-equivariant models) and the shift of the statistics; between calls
/// the model holds the current parameters in the user's coordinates, but the driver keeps its own exact
/// copy, so changing the model between calls has no effect. <see cref="SaveCheckpoint"/> and
/// <see cref="Resume"/> stop and continue a fit with bitwise the result of not stopping.</para>
/// <para>A model that cannot give the statistics its parameters imply starts from s₀ = 0 with γ₁ = 1.
/// The first use initializes the model (<see cref="IExpectationMaximizationModel{T}.Initialize"/>) on a
/// sample: the first window of points of the first epoch (<see cref="Fit"/>), or the first minibatch; a
/// model that starts from its current parameters is left as it is.</para>
/// </remarks>
public sealed class StepwiseExpectationMaximization<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Version 2 adds the frame's scale and weight exponents to version 1 (which reads as both 0).</summary>
    private const int CheckpointVersion = 2;
    /// <summary>
    /// Bytes of values per shuffle window: small enough to stay in the last-level cache, where the minibatches
    /// gather their points at random (64 MB windows made an epoch of diag-1M cost 12 passes of batch EM).
    /// </summary>
    private const int WindowBytes = 8 << 20;
    private static ReadOnlySpan<byte> CheckpointMagic => "EMKW"u8;

    private readonly IExpectationMaximizationModel<T> _model;
    private readonly List<double> _epochObjectives = [];
    private readonly List<ComponentReseed> _reseeds = [];
    private double[] _centre = [];
    private int _scaleExponent;
    private int _weightScaleExponent;
    private double[] _frameParameters = [];
    private SufficientStatistics? _statistics;
    private bool _implied;
    private int _seed;
    private long _pointsVisited;
    private double _lastObjective = double.NegativeInfinity;
    private Minibatch? _minibatch;
    private IPassExchange? _exchange;

    /// <summary>A driver for <paramref name="model"/>, which holds the starting parameters (or is initialized on first use).</summary>
    /// <param name="model">The model; fitted in place.</param>
    /// <param name="options">Options, or null for the defaults.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public StepwiseExpectationMaximization(IExpectationMaximizationModel<T> model, StepwiseOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        Options = options ?? new StepwiseOptions();
        Options.Validate();
        _seed = Options.Seed ?? Random.Shared.Next();
    }

    /// <summary>The options (of the run the checkpoint came from, for a resumed driver, with the caller's epochs, threads, progress and cancellation).</summary>
    public StepwiseOptions Options { get; private set; }

    /// <summary>t: minibatch steps taken so far (across epochs and calls).</summary>
    public long Steps { get; private set; }

    /// <summary>Epochs of <see cref="Fit"/> completed.</summary>
    public int Epoch { get; private set; }

    /// <summary>Minibatches of the current epoch already taken.</summary>
    public long BatchInEpoch { get; private set; }

    /// <summary>s_t, the running statistics (in the fit's frame), or null before the first step.</summary>
    public SufficientStatistics? Statistics => _statistics;

    /// <summary>
    /// The mean objective on all the data under θ₀ and after each completed epoch of <see cref="Fit"/> (when
    /// <see cref="StepwiseOptions.EvaluateEpochs"/>).
    /// </summary>
    public IReadOnlyList<double> EpochObjectives => _epochObjectives;

    /// <summary>Components the M-steps re-seeded.</summary>
    public IReadOnlyList<ComponentReseed> Reseeds => _reseeds;

    /// <summary>The step size γ_t = (t₀ + t)^−κ of step <paramref name="step"/> (t ≥ 1).</summary>
    /// <param name="step">t.</param>
    /// <returns>γ_t.</returns>
    public double StepSize(long step) => Math.Pow(Options.StepOffset + step, -Options.Kappa);

    /// <summary>
    /// Runs epochs over <paramref name="data"/> until <see cref="StepwiseOptions.Epochs"/> are complete (continuing
    /// a resumed fit where it stopped): each epoch visits every point once, in minibatches of
    /// <see cref="StepwiseOptions.BatchSize"/>.
    /// </summary>
    /// <param name="data">The points (the same data for every call of a fit).</param>
    /// <exception cref="ArgumentException">The data do not fit the model.</exception>
    /// <exception cref="OperationCanceledException">The fit was cancelled (the driver stays at its last completed step).</exception>
    public void Fit(DataSource<T> data) => DistributedFit(data, null);

    /// <summary>The model (for a distributed fit's agreement on what is fitted).</summary>
    internal IExpectationMaximizationModel<T> Model => _model;

    /// <summary>The seed of the shuffles and the initialization (a distributed fit gives every process rank 0's).</summary>
    internal int Seed
    {
        get => _seed;
        set => _seed = value;
    }

    /// <summary>
    /// <see cref="Fit(DataSource{T})"/>, on one process of a distributed fit when <paramref name="exchange"/> is given: the
    /// passes over the data (summary, epoch objectives) cover this process's segments; each window of the shuffle is
    /// assembled on every process from the rows each holds (so every process has every minibatch), and each step's pass
    /// over the minibatch is split over the processes by its segments. Every process runs bitwise the one-process fit.
    /// </summary>
    internal void DistributedFit(DataSource<T> data, IPassExchange? exchange)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (_model.UsesSequences)
        {
            if (exchange is not null)
            {
                throw new NotSupportedException("Stepwise EM over sequences is not distributed yet.");
            }

            FitSequences(data);
            return;
        }

        _exchange = exchange;
        try
        {
            FitPoints(data);
        }
        finally
        {
            _exchange = null;
        }
    }

    private void FitPoints(DataSource<T> data)
    {

        StepwiseOptions o = Options;
        CancellationToken token = o.CancellationToken;
        int workers = o.MaxDegreeOfParallelism ?? Environment.ProcessorCount;
        var clock = Stopwatch.StartNew();
        DataSummary? summary = _statistics is null ? FitFrame(data, workers, token) : null;
        CheckData(data);
        var framed = new FramedData<T>(data, Frame, 1, ExpectationMaximization.TilePoints);
        int windowPoints = Math.Max(ShufflePlan.BlockPoints, WindowBytes / (data.Features * System.Runtime.CompilerServices.Unsafe.SizeOf<T>()));
        var plan = new ShufflePlan(data.Points, windowPoints, (ulong)(uint)_seed, o.Shuffle);
        var window = new Window(plan.WindowPoints, data.Features, data.HasSampleWeights, data.HasLabels, _exchange, data.Points);
        if (_statistics is null)
        {
            // Initialize on the first window of the first epoch: a uniform sample of up to a window of points.
            long[] firstOrder = plan.BlockOrder(0);
            window.Load(framed, plan, firstOrder, 0, 0);
            Start(window.AsSource(), workers, token);
        }
        else
        {
            Enter();
        }

        try
        {
            PrepareMinibatch(data, workers);
            using var full = new PassEngine<T>(_model, new FramedData<T>(data, Frame, workers, ExpectationMaximization.TilePoints), workers, _exchange);
            double totalWeight = summary?.TotalWeight ?? 0;
            double jacobian = Frame.LogJacobian(_model.Features);
            if (o.EvaluateEpochs && Steps == 0 && _epochObjectives.Count == 0)
            {
                totalWeight = totalWeight > 0 ? totalWeight : FrameWeight(data, workers, token);
                _epochObjectives.Add(full.Pass(accumulate: false, reshift: false, token) / totalWeight + jacobian);
            }

            long batches = (data.Points + o.BatchSize - 1) / o.BatchSize;
            while (Epoch < o.Epochs)
            {
                long[] order = plan.BlockOrder(Epoch);
                long position = BatchInEpoch * o.BatchSize;

                // Find the window holding the first point still to visit, and where in it.
                long windowIndex = 0, windowStart = 0;
                while (true)
                {
                    plan.WindowBlocks(order, windowIndex, out int count);
                    if (position < windowStart + count)
                    {
                        break;
                    }

                    windowStart += count;
                    windowIndex++;
                }

                window.Load(framed, plan, order, Epoch, windowIndex);
                int cursor = (int)(position - windowStart);
                while (BatchInEpoch < batches)
                {
                    token.ThrowIfCancellationRequested();
                    int size = (int)Math.Min(o.BatchSize, data.Points - BatchInEpoch * o.BatchSize);
                    for (int i = 0; i < size; i++)
                    {
                        if (cursor == window.Count)
                        {
                            window.Load(framed, plan, order, Epoch, ++windowIndex);
                            cursor = 0;
                        }

                        _minibatch!.CopyFrom(window, window.Order[cursor++], i);
                    }

                    TakeStep(size, clock, token);
                    BatchInEpoch++;
                }

                Epoch++;
                BatchInEpoch = 0;
                if (o.EvaluateEpochs)
                {
                    totalWeight = totalWeight > 0 ? totalWeight : FrameWeight(data, workers, token);
                    _epochObjectives.Add(full.Pass(accumulate: false, reshift: false, token) / totalWeight + jacobian);
                }
            }
        }
        finally
        {
            Leave();
        }
    }

    /// <summary>One step on a minibatch you bring: every point of <paramref name="minibatch"/>, in order (not counted in <see cref="Epoch"/>).</summary>
    /// <param name="minibatch">The points of the step (N ≥ 1).</param>
    /// <exception cref="ArgumentException">The points do not fit the model.</exception>
    public void PartialFit(DataSource<T> minibatch)
    {
        ArgumentNullException.ThrowIfNull(minibatch);
        int workers = Options.MaxDegreeOfParallelism ?? Environment.ProcessorCount;
        CancellationToken token = Options.CancellationToken;
        if (minibatch.Points > int.MaxValue)
        {
            throw new ArgumentException("A minibatch must hold fewer than 2³¹ points.", nameof(minibatch));
        }

        DataSummary? summary = _statistics is null ? FitFrame(minibatch, workers, token) : null;
        if (summary is null)
        {
            ExpectationMaximization.Validate(_model, minibatch, workers, token);
        }

        long[] rows = new long[minibatch.Points];
        for (int i = 0; i < rows.Length; i++)
        {
            rows[i] = i;
        }

        StepOn(minibatch, rows, summary, workers, token);
    }

    /// <summary>One step on the rows <paramref name="rows"/> of <paramref name="data"/>, visited in the order given.</summary>
    /// <param name="data">The points.</param>
    /// <param name="rows">Global indices of the minibatch's points (at least one).</param>
    /// <exception cref="ArgumentException">A row is out of range, or a point does not fit the model.</exception>
    public void Step(DataSource<T> data, ReadOnlySpan<long> rows)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (_model.UsesSequences)
        {
            throw new NotSupportedException("A model of sequences steps on whole sequences: use Fit or PartialFit with a source of sequences.");
        }

        if (rows.IsEmpty)
        {
            throw new ArgumentException("A minibatch needs at least one row.", nameof(rows));
        }

        foreach (long row in rows)
        {
            if (row < 0 || row >= data.Points)
            {
                throw new ArgumentException($"Row {row} is not in 0 … {data.Points - 1}.", nameof(rows));
            }
        }

        int workers = Options.MaxDegreeOfParallelism ?? Environment.ProcessorCount;
        CancellationToken token = Options.CancellationToken;
        DataSummary? summary = _statistics is null ? FitFrame(data, workers, token) : null;
        StepOn(data, rows.ToArray(), summary, workers, token);
    }

    /// <summary>
    /// The driver's state as bytes: format version, options, step counter and position in the epoch, the
    /// fit's frame, the parameters (in the frame, exactly) and the running statistics. <see cref="Resume"/>
    /// continues from them with bitwise the result of not stopping.
    /// </summary>
    /// <returns>The checkpoint.</returns>
    /// <exception cref="InvalidOperationException">No step has been taken yet.</exception>
    public byte[] SaveCheckpoint()
    {
        if (_statistics is null)
        {
            throw new InvalidOperationException("There is nothing to save before the first step.");
        }

        byte[] statistics = _statistics.ToBytes();
        using var stream = new MemoryStream();
        using var writer = new BinaryWriter(stream);
        writer.Write(CheckpointMagic);
        writer.Write(CheckpointVersion);
        writer.Write(System.Runtime.CompilerServices.Unsafe.SizeOf<T>());
        writer.Write(Options.Kappa);
        writer.Write(Options.StepOffset);
        writer.Write(Options.BatchSize);
        writer.Write(Options.Shuffle);
        writer.Write(_seed);
        writer.Write(Steps);
        writer.Write(Epoch);
        writer.Write(BatchInEpoch);
        writer.Write(_implied);
        writer.Write(_pointsVisited);
        WriteDoubles(writer, _centre);
        writer.Write(_scaleExponent);
        writer.Write(_weightScaleExponent);
        WriteDoubles(writer, _frameParameters);
        WriteDoubles(writer, [.. _epochObjectives]);
        writer.Write(statistics.Length);
        writer.Write(statistics);
        writer.Flush();
        return stream.ToArray();
    }

    /// <summary>A driver that continues from a checkpoint: <paramref name="model"/> (of the same kind and shape) gets the checkpoint's parameters.</summary>
    /// <param name="model">The model to continue.</param>
    /// <param name="checkpoint">Bytes from <see cref="SaveCheckpoint"/>.</param>
    /// <param name="options">
    /// Options for the rest of the fit, or null for the checkpoint's own. κ, t₀, the batch size and shuffling
    /// must equal the checkpoint's (they define the fit); the number of epochs, threads, progress and
    /// cancellation may change. The checkpoint's seed is kept.
    /// </param>
    /// <returns>The driver, with the model in the user's coordinates.</returns>
    /// <exception cref="ArgumentException">The bytes are not a checkpoint of this version and element type, do not fit the model, or the options change the fit.</exception>
    public static StepwiseExpectationMaximization<T> Resume(IExpectationMaximizationModel<T> model, ReadOnlySpan<byte> checkpoint, StepwiseOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        try
        {
            return ReadCheckpoint(model, checkpoint.ToArray(), options);
        }
        catch (EndOfStreamException)
        {
            throw new ArgumentException("The checkpoint is truncated.", nameof(checkpoint));
        }
    }

    private static StepwiseExpectationMaximization<T> ReadCheckpoint(IExpectationMaximizationModel<T> model, byte[] bytes, StepwiseOptions? options)
    {
        using var reader = new BinaryReader(new MemoryStream(bytes));
        if (!reader.ReadBytes(4).AsSpan().SequenceEqual(CheckpointMagic))
        {
            throw new ArgumentException("These bytes are not a stepwise EM checkpoint (no EMKW header).", "checkpoint");
        }

        int version = reader.ReadInt32();
        if (version is < 1 or > CheckpointVersion)
        {
            throw new ArgumentException($"A checkpoint of format version {version}; this library reads versions 1 to {CheckpointVersion}.", "checkpoint");
        }

        int size = reader.ReadInt32();
        if (size != System.Runtime.CompilerServices.Unsafe.SizeOf<T>())
        {
            throw new ArgumentException($"The checkpoint is of a fit in {(size == 4 ? "float" : "double")}, not {typeof(T).Name}.", "checkpoint");
        }

        var saved = new StepwiseOptions
        {
            Kappa = reader.ReadDouble(),
            StepOffset = reader.ReadDouble(),
            BatchSize = reader.ReadInt32(),
            Shuffle = reader.ReadBoolean(),
        };
        int seed = reader.ReadInt32();
        if (options is not null
            && (BitConverter.DoubleToInt64Bits(options.Kappa) != BitConverter.DoubleToInt64Bits(saved.Kappa)
                || BitConverter.DoubleToInt64Bits(options.StepOffset) != BitConverter.DoubleToInt64Bits(saved.StepOffset)
                || options.BatchSize != saved.BatchSize || options.Shuffle != saved.Shuffle))
        {
            throw new ArgumentException(
                $"The checkpoint's fit has κ = {saved.Kappa}, t₀ = {saved.StepOffset}, batch size {saved.BatchSize}, shuffle {saved.Shuffle}; the options change them.", nameof(options));
        }

        var driver = new StepwiseExpectationMaximization<T>(model, (options ?? saved) with { Seed = seed });
        driver._seed = seed;
        driver.Steps = reader.ReadInt64();
        driver.Epoch = reader.ReadInt32();
        driver.BatchInEpoch = reader.ReadInt64();
        driver._implied = reader.ReadBoolean();
        driver._pointsVisited = reader.ReadInt64();
        driver._centre = ReadDoubles(reader, model.Features, "centre");
        if (version >= 2)
        {
            driver._scaleExponent = reader.ReadInt32();
            driver._weightScaleExponent = reader.ReadInt32();
        }

        driver._frameParameters = ReadDoubles(reader, model.ParameterLength, "parameters");
        driver._epochObjectives.AddRange(ReadDoubles(reader, -1, "objectives"));
        int length = reader.ReadInt32();
        if (length < 0 || length > bytes.Length)
        {
            throw new ArgumentException("The checkpoint's statistics are truncated.", "checkpoint");
        }

        driver._statistics = SufficientStatistics.FromBytes(reader.ReadBytes(length), model.StatisticsLayout);
        if (reader.BaseStream.Position != bytes.Length)
        {
            throw new ArgumentException("The checkpoint has bytes after its end.", "checkpoint");
        }

        driver.Leave(); // the model gets the checkpoint's parameters, in the user's coordinates
        return driver;
    }

    private static void WriteDoubles(BinaryWriter writer, double[] values)
    {
        writer.Write(values.Length);
        foreach (double value in values)
        {
            writer.Write(value);
        }
    }

    private static double[] ReadDoubles(BinaryReader reader, int expected, string what)
    {
        int length = reader.ReadInt32();
        if ((expected >= 0 && length != expected) || length < 0 || length > reader.BaseStream.Length / 8)
        {
            throw new ArgumentException($"The checkpoint's {what} hold {length} values; the model needs {expected}.", "checkpoint");
        }

        double[] values = new double[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = reader.ReadDouble();
        }

        return values;
    }

    /// <summary>The fit's frame: centred when the model is translation-equivariant, scaled as the model asks, weights normalized.</summary>
    private Frame Frame => new(_model.SupportsTranslation ? _centre : null, _scaleExponent, _weightScaleExponent);

    /// <summary>The first data of a fit fix its frame (see <see cref="ExpectationMaximization.Fit"/>); returns their summary in it.</summary>
    private DataSummary FitFrame(DataSource<T> data, int workers, CancellationToken token)
    {
        DataSummary summary = ExpectationMaximization.Summarize(_model, data, workers, token, exchange: _exchange);
        summary = summary.InFrame(_model.FrameScaleExponent(summary));
        _centre = summary.Centre;
        _scaleExponent = summary.ScaleExponent;
        _weightScaleExponent = summary.WeightScaleExponent;
        return summary;
    }

    /// <summary>Σ w of <paramref name="data"/> in the fit's frame (its weights divided by 2^k of the frame).</summary>
    private double FrameWeight(DataSource<T> data, int workers, CancellationToken token)
    {
        DataSummary summary = ExpectationMaximization.Summarize(_model, data, workers, token, variances: false, exchange: _exchange);
        return Frames.ScaleByPowerOfTwo(summary.TotalWeight, summary.WeightScaleExponent - _weightScaleExponent);
    }

    /// <summary>A step on given rows (PartialFit, Step): gather them raw, validate, move into the frame, step.</summary>
    private void StepOn(DataSource<T> data, long[] rows, DataSummary? summary, int workers, CancellationToken token)
    {
        CheckData(data);
        int d = data.Features;
        var buffer = new FeatureMajorMatrix<T>(rows.Length, d);
        T[]? weights = data.HasSampleWeights ? new T[rows.Length] : null;
        int[]? labels = data.HasLabels ? new int[rows.Length] : null;
        T[] one = new T[d];
        T[] weight = new T[1];
        int[] label = new int[1];
        for (int i = 0; i < rows.Length; i++)
        {
            data.Read(rows[i], 1, one, 1, data.HasSampleWeights ? weight : default, data.HasLabels ? label : default);
            for (int f = 0; f < d; f++)
            {
                buffer[i, f] = one[f];
            }

            if (weights is not null)
            {
                weights[i] = weight[0];
            }

            if (labels is not null)
            {
                labels[i] = label[0];
            }
        }

        var raw = InMemoryDataSource<T>.Buffer(buffer, weights, labels);
        if (summary is null)
        {
            ExpectationMaximization.Validate(_model, raw, workers, token);
        }

        FramedData<T>.Transform(buffer, weights, Frame); // as the fit's frame transforms every point

        if (_statistics is null)
        {
            Start(raw, workers, token);
        }
        else
        {
            Enter();
        }

        try
        {
            if (_minibatch is null || _minibatch.Capacity < rows.Length || _minibatch.Features != d || _minibatch.Exchange is not null)
            {
                _minibatch?.Dispose();
                _minibatch = new Minibatch(_model, Math.Max(rows.Length, Options.BatchSize), d, data.HasSampleWeights, data.HasLabels, workers, exchange: null);
            }

            for (int i = 0; i < rows.Length; i++)
            {
                _minibatch.CopyFrom(buffer, weights, labels, i, i);
            }

            if (_model.UsesSequences)
            {
                _minibatch.SetSequences(data.SequenceLengths.IsEmpty ? [rows.Length] : data.SequenceLengths.Span);
            }

            TakeStep(rows.Length, Stopwatch.StartNew(), token);
        }
        finally
        {
            Leave();
        }
    }

    /// <summary>
    /// <see cref="Fit"/> for a model of sequences: each epoch visits the sequences in an order that depends only on the
    /// seed and the epoch (or in order without <see cref="StepwiseOptions.Shuffle"/>), and a minibatch is consecutive
    /// whole sequences of that order, closed once it holds at least <see cref="StepwiseOptions.BatchSize"/> points. The
    /// model is initialized on the first sequences of the first epoch, up to a window of points.
    /// </summary>
    private void FitSequences(DataSource<T> data)
    {
        StepwiseOptions o = Options;
        CancellationToken token = o.CancellationToken;
        int workers = o.MaxDegreeOfParallelism ?? Environment.ProcessorCount;
        var clock = Stopwatch.StartNew();
        DataSummary? summary = _statistics is null ? FitFrame(data, workers, token) : null;
        CheckData(data);
        if (data.Points > int.MaxValue)
        {
            throw new NotSupportedException("Stepwise EM over sequences takes fewer than 2³¹ points.");
        }

        int[] lengths = data.SequenceLengths.IsEmpty ? [(int)data.Points] : data.SequenceLengths.ToArray();
        long[] starts = new long[lengths.Length];
        for (int s = 1; s < lengths.Length; s++)
        {
            starts[s] = starts[s - 1] + lengths[s - 1];
        }

        int longest = lengths.Max();
        var framed = new FramedData<T>(data, Frame, 1, ExpectationMaximization.TilePoints);
        int[] Order(int epoch)
        {
            int[] order = Enumerable.Range(0, lengths.Length).ToArray();
            if (o.Shuffle)
            {
                var random = new Random(unchecked((_seed * 1_000_003) + epoch));
                random.Shuffle(order);
            }

            return order;
        }

        if (_statistics is null)
        {
            int windowPoints = Math.Max(ShufflePlan.BlockPoints, WindowBytes / (data.Features * System.Runtime.CompilerServices.Unsafe.SizeOf<T>()));
            int[] first = Order(0);
            int take = 0;
            long points = 0;
            while (take < first.Length && (points == 0 || points + lengths[first[take]] <= windowPoints))
            {
                points += lengths[first[take++]];
            }

            var sample = new FeatureMajorMatrix<T>((int)points, data.Features);
            int at = 0;
            for (int i = 0; i < take; i++)
            {
                Copy(framed, starts[first[i]], lengths[first[i]], sample, at);
                at += lengths[first[i]];
            }

            Start(InMemoryDataSource<T>.Buffer(sample, null, null), workers, token);
        }
        else
        {
            Enter();
        }

        try
        {
            if (_minibatch is null || _minibatch.Capacity < o.BatchSize + longest || _minibatch.Features != data.Features || _minibatch.Exchange is not null)
            {
                _minibatch?.Dispose();
                _minibatch = new Minibatch(_model, o.BatchSize + longest, data.Features, weighted: false, labelled: false, workers, exchange: null);
            }

            using var full = new PassEngine<T>(_model, new FramedData<T>(data, Frame, workers, ExpectationMaximization.TilePoints), workers, _exchange);
            double totalWeight = summary?.TotalWeight ?? 0;
            double jacobian = Frame.LogJacobian(_model.Features);
            if (o.EvaluateEpochs && Steps == 0 && _epochObjectives.Count == 0)
            {
                totalWeight = totalWeight > 0 ? totalWeight : FrameWeight(data, workers, token);
                _epochObjectives.Add(full.Pass(accumulate: false, reshift: false, token) / totalWeight + jacobian);
            }

            int[] batchLengths = new int[lengths.Length]; // the largest minibatch holds every sequence
            while (Epoch < o.Epochs)
            {
                int[] order = Order(Epoch);
                long batch = 0;
                int index = 0;
                while (index < order.Length)
                {
                    int sequences = 0;
                    int size = 0, from = index;
                    while (index < order.Length && (size == 0 || size < o.BatchSize))
                    {
                        size += lengths[order[index]];
                        batchLengths[sequences++] = lengths[order[index]];
                        index++;
                    }

                    if (batch++ < BatchInEpoch)
                    {
                        continue; // resumed: this minibatch was taken before the checkpoint
                    }

                    token.ThrowIfCancellationRequested();
                    int at = 0;
                    for (int i = from; i < index; i++)
                    {
                        _minibatch.CopySequence(framed, starts[order[i]], lengths[order[i]], at);
                        at += lengths[order[i]];
                    }

                    _minibatch.SetSequences(batchLengths.AsSpan(0, sequences));
                    TakeStep(size, clock, token);
                    BatchInEpoch++;
                }

                Epoch++;
                BatchInEpoch = 0;
                if (o.EvaluateEpochs)
                {
                    totalWeight = totalWeight > 0 ? totalWeight : FrameWeight(data, workers, token);
                    _epochObjectives.Add(full.Pass(accumulate: false, reshift: false, token) / totalWeight + jacobian);
                }
            }
        }
        finally
        {
            Leave();
        }
    }

    /// <summary>Points [start, start + count) of the framed data into <paramref name="target"/> from column <paramref name="at"/>, a chunk at a time.</summary>
    private static void Copy(FramedData<T> data, long start, int count, FeatureMajorMatrix<T> target, int at)
    {
        for (int done = 0; done < count;)
        {
            int piece = Math.Min(count - done, data.ChunkPoints);
            FramedData<T>.Chunk chunk = data.Load(0, start + done, piece);
            for (int f = 0; f < target.Features; f++)
            {
                chunk.Values.Slice(f * chunk.Stride, piece).CopyTo(target.Writable.Slice(f * target.Stride + at + done, piece));
            }

            done += piece;
        }
    }

    private void CheckData(DataSource<T> data)
    {
        if (data.Features != _model.Features)
        {
            throw new ArgumentException($"The data have {data.Features} features; the model has {_model.Features}.", nameof(data));
        }
    }

    private void PrepareMinibatch(DataSource<T> data, int workers)
    {
        if (_minibatch is null || _minibatch.Capacity < Options.BatchSize || _minibatch.Features != data.Features
            || _minibatch.Weighted != data.HasSampleWeights || _minibatch.Labelled != data.HasLabels || _minibatch.Exchange != _exchange)
        {
            _minibatch?.Dispose();
            _minibatch = new Minibatch(_model, Options.BatchSize, data.Features, data.HasSampleWeights, data.HasLabels, workers, _exchange);
        }
    }

    /// <summary>
    /// The first use: the model moves into the fit's frame, is initialized on <paramref name="sample"/>
    /// (already in the frame), fixes its statistics' shift, and s₀ is what its parameters imply.
    /// </summary>
    private void Start(InMemoryDataSource<T> sample, int workers, CancellationToken token)
    {
        ExpectationMaximization.EnterFrame(_model, Frame);
        var framedSample = new FramedData<T>(sample, null, workers, ExpectationMaximization.TilePoints);
        DataSummary summary = SampleSummary(sample, workers, token);
        using (var initialization = new ModelInitialization<T>(framedSample, summary, 0, new Random(_seed), ExpectationMaximization.TilePoints, token, imputeMissing: _model.AllowsMissingValues))
        {
            _model.Initialize(initialization);
        }

        _model.PrepareExpectation(reshift: true);
        _statistics = new SufficientStatistics(_model.StatisticsLayout);
        _implied = _model.TryWriteImpliedStatistics(_statistics);
        if (!_implied)
        {
            _model.ResetStatistics(_statistics);
        }

        _frameParameters = new double[_model.ParameterLength];
        _model.WriteParameters(_frameParameters);
    }

    /// <summary>The sample's moments in the frame it is already in (centre zero).</summary>
    private DataSummary SampleSummary(InMemoryDataSource<T> sample, int workers, CancellationToken token)
    {
        int d = sample.Features;
        var moments = new MomentsModel<T>(d, _model) { Validating = false };
        using var engine = new PassEngine<T>(moments, new FramedData<T>(sample, null, workers, ExpectationMaximization.TilePoints), workers);
        engine.Pass(accumulate: true, reshift: true, token);
        ReadOnlySpan<double> firsts = engine.Total.Sums;
        double weight = firsts[1];
        double[] mean = new double[d];
        double[] variance = new double[d];
        for (int f = 0; f < d; f++)
        {
            mean[f] = firsts[3 + f] / (moments.Missing ? firsts[3 + (5 * d) + f] : weight); // with missing values, over the observed entries
        }

        moments.Centre = mean;
        engine.Pass(accumulate: true, reshift: true, token);
        ReadOnlySpan<double> seconds = engine.Total.Sums;
        for (int f = 0; f < d; f++)
        {
            variance[f] = Math.Max(0, seconds[3 + 2 * d + f] / (moments.Missing ? seconds[3 + (5 * d) + f] : weight)); // the sample is in the frame: the plain sums are safe
        }

        return new DataSummary(sample.Points, weight, mean, variance, new double[d]) { ScaleExponent = _scaleExponent, WeightScaleExponent = _weightScaleExponent };
    }

    /// <summary>Back into the fit: the model moves into the frame (which also resets any scale it keeps of its own, see <see cref="Leave"/>), then gets the driver's exact parameters there.</summary>
    private void Enter()
    {
        ExpectationMaximization.EnterFrame(_model, Frame);
        _model.ReadParameters(_frameParameters);
        _model.AdoptShift(_statistics!);
    }

    /// <summary>Out of the fit: the driver keeps the parameters in the frame; the model moves to the user's coordinates.</summary>
    private void Leave()
    {
        if (_frameParameters.Length == 0)
        {
            return;
        }

        _model.ReadParameters(_frameParameters);
        ExpectationMaximization.LeaveFrame(_model, Frame);
    }

    /// <summary>One step on the first <paramref name="size"/> points of the minibatch buffer.</summary>
    private void TakeStep(int size, Stopwatch clock, CancellationToken token)
    {
        Minibatch batch = _minibatch!;
        double weight = batch.Weight(size);
        if (!(weight > 0))
        {
            return; // a minibatch of zero weight carries no information: no step
        }

        PassEngine<T> engine = batch.Resize(size);
        double passObjective = engine.Pass(accumulate: true, reshift: false, token);
        if (_model.StatisticsIndependentOfParameters)
        {
            passObjective = _model.ObjectiveOfStatistics(engine.Total);
        }

        double objective = passObjective / weight + Frame.LogJacobian(_model.Features);
        engine.Total.Scale(1 / weight);
        long t = Steps + 1;
        double gamma = !_implied && Steps == 0 ? 1 : StepSize(t);
        _statistics!.Lerp(engine.Total, gamma);
        MaximizationContext context = engine.Context;
        context.Restart = Epoch;
        context.Iteration = (int)Math.Min(t, int.MaxValue);
        context.TotalWeight = weight;
        context.Points = size;
        context.SampleWeighted = true; // the statistics are per unit weight: a re-seed gets one point's share, 1 / |B|
        context.ClearReseeds();
        _model.Maximize(_statistics, context);
        _reseeds.AddRange(context.Reseeds);
        _model.WriteParameters(_frameParameters);
        Steps = t;
        _pointsVisited += size;
        Options.Progress?.Report(new FitProgress(Epoch, context.Iteration, objective, objective - _lastObjective, clock.Elapsed, _pointsVisited));
        _lastObjective = objective;
    }

    /// <summary>One window of points loaded in the fit's frame, with the order they are visited in.</summary>
    private sealed class Window(int capacity, int features, bool weighted, bool labelled, IPassExchange? exchange, long points)
    {
        private readonly long[]? _shards = exchange is null ? null : SegmentTree.ShardStarts(points, exchange.Size);
        private readonly double[] _shared = exchange is null ? [] : new double[ShufflePlan.BlockPoints * (features + 2)];

        /// <summary>The window's points row-major (a point's features together), so a random gather touches one or two cache lines per point.</summary>
        public T[] Rows { get; } = new T[(long)capacity * features];

        public T[]? Weights { get; } = weighted ? new T[capacity] : null;

        public int[]? Labels { get; } = labelled ? new int[capacity] : null;

        public int[] Order { get; } = new int[capacity];

        public int Count { get; private set; }

        public void Load(FramedData<T> data, ShufflePlan plan, long[] blockOrder, int epoch, long window)
        {
            ReadOnlySpan<long> blocks = plan.WindowBlocks(blockOrder, window, out int count);
            int at = 0;
            foreach (long block in blocks)
            {
                int length = plan.BlockLength(block);
                for (int done = 0; done < length;)
                {
                    // A block in pieces of at most one chunk: what a streamed source reads at once; distributed, pieces of one shard.
                    int piece = Math.Min(length - done, data.ChunkPoints);
                    if (_shards is not null)
                    {
                        long start = block * ShufflePlan.BlockPoints + done;
                        int owner = Array.BinarySearch(_shards, start);
                        owner = owner >= 0 ? owner : ~owner - 1;
                        while (_shards[owner + 1] == _shards[owner])
                        {
                            owner++; // a process without rows
                        }

                        piece = (int)Math.Min(piece, _shards[owner + 1] - start);
                        if (owner != exchange!.Rank)
                        {
                            Share(owner, at, piece);
                            at += piece;
                            done += piece;
                            continue;
                        }
                    }

                    FramedData<T>.Chunk chunk = data.Load(0, block * ShufflePlan.BlockPoints + done, piece);
                    for (int f = 0; f < features; f++)
                    {
                        ReadOnlySpan<T> feature = chunk.Values.Slice(f * chunk.Stride, piece);
                        Span<T> rows = Rows.AsSpan(at * features);
                        for (int i = 0; i < piece; i++)
                        {
                            rows[i * features + f] = feature[i];
                        }
                    }

                    if (Weights is not null)
                    {
                        chunk.Weights.CopyTo(Weights.AsSpan(at));
                    }

                    if (Labels is not null)
                    {
                        chunk.Labels.CopyTo(Labels.AsSpan(at));
                    }

                    if (_shards is not null)
                    {
                        Share(exchange!.Rank, at, piece);
                    }

                    at += piece;
                    done += piece;
                }
            }

            Count = count;
            plan.WindowOrder(epoch, window, Order.AsSpan(0, count));
        }

        /// <summary>Rows [at, at + count) of the window as process <paramref name="owner"/> loaded them, on every process.</summary>
        private void Share(int owner, int at, int count)
        {
            Span<double> values = _shared.AsSpan(0, count * (features + 2));
            bool mine = owner == exchange!.Rank;
            if (mine)
            {
                for (int i = 0; i < count * features; i++)
                {
                    values[i] = double.CreateTruncating(Rows[at * features + i]);
                }

                for (int i = 0; i < count; i++)
                {
                    values[count * features + i] = Weights is null ? 0 : double.CreateTruncating(Weights[at + i]);
                    values[count * (features + 1) + i] = Labels is null ? 0 : Labels[at + i];
                }
            }

            exchange.Broadcast(values, owner);
            if (mine)
            {
                return;
            }

            for (int i = 0; i < count * features; i++)
            {
                Rows[at * features + i] = T.CreateTruncating(values[i]); // exact: T's values travel as doubles
            }

            for (int i = 0; i < count; i++)
            {
                if (Weights is not null)
                {
                    Weights[at + i] = T.CreateTruncating(values[count * features + i]);
                }

                if (Labels is not null)
                {
                    Labels[at + i] = (int)values[count * (features + 1) + i];
                }
            }
        }

        /// <summary>The loaded points as a source (for initialization on the first window).</summary>
        public InMemoryDataSource<T> AsSource()
        {
            var matrix = FeatureMajorMatrix<T>.FromRowMajor(Rows.AsSpan(0, Count * features), Count, features);
            return InMemoryDataSource<T>.Buffer(matrix, Weights?[..Count], Labels?[..Count]);
        }
    }

    /// <summary>The minibatch buffer (in the fit's frame) and the one engine that runs every step's pass over it.</summary>
    private sealed class Minibatch : IDisposable
    {
        private readonly FeatureMajorMatrix<T> _values;
        private readonly T[]? _weights;
        private readonly int[]? _labels;
        private readonly FramedData<T> _framed;
        private readonly PassEngine<T> _engine;

        public Minibatch(IExpectationMaximizationModel<T> model, int capacity, int features, bool weighted, bool labelled, int workers, IPassExchange? exchange)
        {
            Exchange = exchange;
            Capacity = capacity;
            Features = features;
            _values = new FeatureMajorMatrix<T>(capacity, features);
            _weights = weighted ? new T[capacity] : null;
            _labels = labelled ? new int[capacity] : null;
            _framed = new FramedData<T>(InMemoryDataSource<T>.Buffer(_values, _weights, _labels), null, workers, ExpectationMaximization.TilePoints);
            _engine = new PassEngine<T>(model, _framed, workers, exchange);
        }

        /// <summary>The exchange that splits each step's pass over processes (null: one process).</summary>
        public IPassExchange? Exchange { get; }

        public int Capacity { get; }

        public int Features { get; }

        public bool Weighted => _weights is not null;

        public bool Labelled => _labels is not null;

        /// <summary>Window point <paramref name="from"/> becomes minibatch point <paramref name="to"/>.</summary>
        public void CopyFrom(Window window, int from, int to)
        {
            ReadOnlySpan<T> row = window.Rows.AsSpan(from * Features, Features);
            Span<T> all = _values.Writable;
            int stride = _values.Stride;
            for (int f = 0; f < Features; f++)
            {
                all[f * stride + to] = row[f];
            }

            if (_weights is not null)
            {
                _weights[to] = window.Weights![from];
            }

            if (_labels is not null)
            {
                _labels[to] = window.Labels![from];
            }
        }

        public void CopyFrom(FeatureMajorMatrix<T> values, T[]? weights, int[]? labels, int from, int to)
        {
            for (int f = 0; f < Features; f++)
            {
                _values.Feature(f)[to] = values.Feature(f)[from];
            }

            if (_weights is not null)
            {
                _weights[to] = weights![from];
            }

            if (_labels is not null)
            {
                _labels[to] = labels![from];
            }
        }

        private int[] _sequences = [];
        private int _sequenceCount = -1;

        /// <summary>For a model of sequences: the lengths of the next step's sequences, in the buffer's order (copied into a buffer that only grows).</summary>
        public void SetSequences(ReadOnlySpan<int> lengths)
        {
            if (lengths.Length > _sequences.Length)
            {
                _sequences = new int[lengths.Length];
            }

            lengths.CopyTo(_sequences);
            _sequenceCount = lengths.Length;
        }

        /// <summary>Points [start, start + count) of the framed data become minibatch points from <paramref name="to"/>.</summary>
        public void CopySequence(FramedData<T> data, long start, int count, int to) => Copy(data, start, count, _values, to);

        public PassEngine<T> Resize(int size)
        {
            _framed.SetPoints(size);
            if (_sequenceCount >= 0)
            {
                _engine.SetSequences(_sequences.AsSpan(0, _sequenceCount));
            }

            _engine.SetPoints(size);
            return _engine;
        }

        /// <summary>Σ w of the first <paramref name="size"/> points (|B| without sample weights), summed in order.</summary>
        public double Weight(int size)
        {
            if (_weights is null)
            {
                return size;
            }

            double sum = 0;
            for (int i = 0; i < size; i++)
            {
                sum += double.CreateTruncating(_weights[i]);
            }

            return sum;
        }

        public void Dispose() => _engine.Dispose();
    }
}
