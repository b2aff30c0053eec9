using System.Numerics;

namespace EmKernels.Engine;

/// <summary>
/// What a model gets to choose its starting parameters for one run of EM: the data in the fit's frame
/// (summed segment by segment as a pass of the engine, or streamed tile by tile in order), their summary, the
/// restart's random source and the fit's cancellation token.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class ModelInitialization<T> : IDisposable
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly FramedData<T> _data;
    private readonly IPassExchange? _exchange;
    private readonly T[]? _imputed;
    private T[] _imputedBuffer = [];
    private readonly Dictionary<StatisticsLayout, (TileSumModel<T> Model, PassEngine<T> Engine)> _sums = [];

    internal ModelInitialization(
        FramedData<T> data, DataSummary summary, int restart, Random random, int tilePoints, CancellationToken cancellationToken, SufficientStatistics? dataStatistics = null, IPassExchange? exchange = null, bool imputeMissing = false)
    {
        _data = data;
        _exchange = exchange;
        if (imputeMissing)
        {
            // Each feature's observed mean, in the frame: what an initialization sees for a missing entry.
            _imputed = new T[data.Features];
            (T scale1, T scale2) = Frames.Factors<T>(-data.Frame.ScaleExponent);
            for (int f = 0; f < data.Features; f++)
            {
                _imputed[f] = T.CreateTruncating(summary.Mean[f] - data.Centre[f]) * scale1 * scale2;
            }
        }

        DataStatistics = dataStatistics;
        Summary = summary;
        Restart = restart;
        Random = random;
        TilePoints = tilePoints;
        CancellationToken = cancellationToken;
    }

    /// <summary>0-based restart; models compute what depends only on the data (reseed spreads, frequencies) when it is 0.</summary>
    public int Restart { get; }

    /// <summary>The restart's random source: seeded from the fit's seed and the restart, so a fit is reproducible.</summary>
    public Random Random { get; }

    /// <summary>N, Σ w, the mean and variances of the data, and the frame's centre.</summary>
    public DataSummary Summary { get; }

    /// <summary>
    /// For a model whose statistics do not depend on its parameters
    /// (<see cref="IExpectationMaximizationModel{T}.StatisticsIndependentOfParameters"/>), in the batch driver: the
    /// statistics of all the data (the one pass of the fit runs before the initialization), so that the start can be
    /// chosen from them (factor analysis starts from the principal subspace of the scatter matrix). Null otherwise.
    /// </summary>
    public SufficientStatistics? DataStatistics { get; }

    /// <summary>Whether the points carry sample weights (or some are excluded, <see cref="ExcludedPoints"/>).</summary>
    public bool SampleWeighted => _data.SampleWeighted || ExcludedPoints is not null;

    /// <summary>
    /// Per global point, whether <see cref="Sum"/> gives it weight 0 (set by a model around a part of its initialization that
    /// leaves those points out, as a mixture's clustering leaves out the points that start in its noise component); null: none.
    /// </summary>
    internal bool[]? ExcludedPoints { get; set; }

    /// <summary>Whether the data are held in memory (so a model may keep per-point values without making a fit's memory grow with N beyond what the data already take).</summary>
    public bool InMemory => _data.InMemory;

    /// <summary>The most threads the initialization may use (the fit's <see cref="ExpectationMaximizationOptions.MaxDegreeOfParallelism"/>; every core when it is null).</summary>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>Points per tile of <see cref="ForEachTile"/>.</summary>
    public int TilePoints { get; }

    /// <summary>The fit's cancellation token (<see cref="ForEachTile"/> checks it between chunks).</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>
    /// Passes every point, in order, in the fit's frame, as tiles of <see cref="TilePoints"/> points
    /// starting at multiples of it: the same tiles whether the data are in memory or streamed from a file,
    /// so an initialization gives the same result for both.
    /// </summary>
    /// <param name="action">Called once per tile, on the calling thread.</param>
    /// <exception cref="NotSupportedException">The fit is distributed: no process holds every point (use <see cref="Sum"/>).</exception>
    public void ForEachTile(TileAction<T> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (_exchange is not null)
        {
            throw new NotSupportedException("This initialization reads every point in order, which no process of a distributed fit can: it must sum over the data instead (ModelInitialization.Sum).");
        }

        if (_imputed is null)
        {
            _data.ForEachTile(TilePoints, action, CancellationToken);
            return;
        }

        _data.ForEachTile(TilePoints, (in DataTile<T> tile) =>
        {
            if (TileSumModel<T>.ImputedTile(tile, _imputed, ref _imputedBuffer) is { } complete)
            {
                action(complete.Tile);
            }
            else
            {
                action(tile);
            }
        }, CancellationToken);
    }

    /// <summary>
    /// Sums over every point in the fit's frame as a pass of the engine: each segment's statistics start at zero
    /// (about the shift of <paramref name="totals"/>), <paramref name="action"/> adds the segment's tiles to them in
    /// order, and the segments are merged along the engine's fixed tree. So the totals are bitwise the same for in-memory
    /// and streamed data and on any number of processes of a distributed fit; <paramref name="action"/> runs on one thread
    /// at a time, and must add only what it computes from its tile (a value known to lie in exactly one tile may be
    /// written: the other segments add zero to it, exactly).
    /// </summary>
    /// <param name="totals">Receives the sums; its shift is kept and given to every segment.</param>
    /// <param name="action">Adds a tile's contribution to its segment's statistics.</param>
    public void Sum(SufficientStatistics totals, TileStatistics<T> action)
    {
        ArgumentNullException.ThrowIfNull(totals);
        ArgumentNullException.ThrowIfNull(action);
        if (!_sums.TryGetValue(totals.Layout, out var sum))
        {
            var model = new TileSumModel<T>(totals.Layout, _data.Features) { Imputed = _imputed };
            sum = (model, new PassEngine<T>(model, _data, 1, _exchange));
            _sums.Add(totals.Layout, sum);
        }

        totals.Shift.CopyTo(sum.Engine.Total.Shift);
        sum.Model.Action = action;
        sum.Model.Excluded = ExcludedPoints;
        try
        {
            sum.Engine.Pass(accumulate: true, reshift: false, CancellationToken);
        }
        finally
        {
            sum.Model.Action = null;
        }

        totals.CopyFrom(sum.Engine.Total);
    }

    /// <summary><see cref="Sum"/> into plain values.</summary>
    internal void SumValues(Span<double> totals, TileValues action)
    {
        var layout = new StatisticsLayout("initialization-sums", new StatisticsBlock("sums", totals.Length));
        var statistics = new SufficientStatistics(layout);
        Sum(statistics, (in DataTile<T> tile, SufficientStatistics s) => action(tile, s.Sums));
        statistics.Sums.CopyTo(totals);
    }

    /// <summary>The points at the given rows (global indices), one after another in the fit's frame, by one <see cref="Sum"/>.</summary>
    internal double[] Rows(ReadOnlySpan<long> rows)
    {
        int d = _data.Features;
        long[] wanted = rows.ToArray();
        double[] values = new double[wanted.Length * d];
        SumValues(values, (in DataTile<T> tile, Span<double> sums) =>
        {
            for (int j = 0; j < wanted.Length; j++)
            {
                long i = wanted[j] - tile.Start;
                if (i >= 0 && i < tile.Points)
                {
                    for (int f = 0; f < d; f++)
                    {
                        sums[j * d + f] = double.CreateTruncating(tile[(int)i, f]);
                    }
                }
            }
        });
        return values;
    }

    /// <summary>How many segments the engine's passes have (a function of N).</summary>
    internal int SegmentCount => PassEngine<T>.SegmentCount(Summary.Points);

    /// <summary>The first point of segment <paramref name="segment"/> of the engine's passes.</summary>
    internal long SegmentStart(int segment) => (long)((Int128)Summary.Points * segment / SegmentCount);

    /// <summary>The segment of global point <paramref name="point"/>: the engine's segments split N evenly.</summary>
    internal int SegmentOf(long point)
    {
        long n = Summary.Points;
        int segments = SegmentCount;
        int s = (int)Math.Min(segments - 1, (long)((Int128)point * segments / n));
        while (s > 0 && (long)((Int128)n * s / segments) > point)
        {
            s--;
        }

        while (s + 1 < segments && (long)((Int128)n * (s + 1) / segments) <= point)
        {
            s++;
        }

        return s;
    }

    /// <summary>The engines of <see cref="Sum"/> (their threads) end with the initialization.</summary>
    public void Dispose()
    {
        foreach ((_, PassEngine<T> engine) in _sums.Values)
        {
            engine.Dispose();
        }

        _sums.Clear();
    }

    /// <summary>Adds a tile's contribution to plain sums.</summary>
    internal delegate void TileValues(in DataTile<T> tile, Span<double> sums);
}
