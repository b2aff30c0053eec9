using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using EmKernels.Kernels.Common;
using EmKernels.Mixtures;

namespace EmKernels.Engine;

/// <summary>
/// Passes over the data for every driver, written once: points are split into a fixed set of segments
/// that depends only on N (never on the thread count or the chunk size); each segment's statistics are
/// accumulated tile by tile (tiles at fixed offsets from the segment's start) and the segments are reduced
/// in index order, so results are bitwise identical for any degree of parallelism and for in-memory or
/// streamed data. Everything a pass needs is allocated when the engine is created.
/// </summary>
internal sealed class PassEngine<T> : IDisposable
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Points per tile: K × Tile log-probabilities stay in L1/L2 between the E-step and the statistics.</summary>
    public const int Tile = 256;

    private const int MaximumSegments = 16;
    private const int MinimumSegmentPoints = 1024;

    private readonly IExpectationMaximizationModel<T> _model;
    private readonly FramedData<T> _data;
    private readonly int _workers;
    private readonly long[] _segmentStarts;
    private readonly SufficientStatistics[] _segments;
    private readonly double[] _segmentObjectives;
    private readonly double[] _segmentWorst;
    private readonly double[] _segmentWorstPoints;
    private readonly int[] _candidateOrder;
    private readonly Memory<T>[] _workspaces;
    private readonly Memory<T>[] _pointObjectives;
    private readonly WorkerTeam _team;
    private readonly Action<int> _processSegments;
    private readonly long[] _phaseTicks;

    // Sequences (models that use them): the end of each sequence (exclusive, increasing, the last = N), the longest tile,
    // and per worker the lengths of the sequences of its current tile.
    private long[]? _sequenceEnds;
    private readonly int _longestTile = Tile;
    private int _sequenceCount;
    private readonly int[][] _tileLengths;
    private int _nextSegment;
    private int _segmentCount;
    private bool _dealtOnce;
    private bool _accumulate;
    private Outputs _outputs;
    private CancellationToken _cancellationToken;

    public PassEngine(IExpectationMaximizationModel<T> model, FramedData<T> data, int maxDegreeOfParallelism)
    {
        _model = model;
        _data = data;
        long n = data.Points;
        if (model.UsesSequences)
        {
            ReadOnlySpan<int> lengths = data.SequenceLengths.Span;
            _sequenceEnds = new long[Math.Max(lengths.Length, 1)];
            long end = 0;
            for (int s = 0; s < lengths.Length; s++)
            {
                end += lengths[s];
                _sequenceEnds[s] = end;
                _longestTile = Math.Max(_longestTile, lengths[s]);
            }

            _sequenceCount = _sequenceEnds.Length;
            if (lengths.IsEmpty)
            {
                // No lengths: all points are one sequence (a minibatch buffer's sequences are set each step: SetSequences).
                _sequenceEnds[0] = n;
                _sequenceCount = 1;
                _longestTile = (int)Math.Max(Tile, Math.Min(n, int.MaxValue / 2));
            }
            else if (end != n)
            {
                throw new ArgumentException($"The sequence lengths sum to {end}; the data have {n} points.", nameof(data));
            }
        }

        int segments = SegmentCount(n);
        _segmentStarts = new long[segments + 1];
        SetPoints(n);
        _segments = new SufficientStatistics[segments];
        for (int s = 0; s < segments; s++)
        {
            _segments[s] = new SufficientStatistics(model.StatisticsLayout);
        }

        Total = new SufficientStatistics(model.StatisticsLayout);
        _segmentObjectives = new double[segments * 8]; // a cache line per segment: written by different threads
        _segmentWorst = new double[segments];
        _segmentWorstPoints = new double[segments * data.Features];
        _candidateOrder = new int[segments];
        Context = new MaximizationContext(data.Features, segments) { Points = n, SampleWeighted = data.SampleWeighted };
        _workers = Math.Clamp(maxDegreeOfParallelism, 1, segments);
        _workspaces = new Memory<T>[_workers];
        _pointObjectives = new Memory<T>[_workers];
        int workspace = model.WorkspaceLength(_longestTile);
        _tileLengths = new int[_workers][];
        for (int w = 0; w < _workers; w++)
        {
            // Aligned, so the kernels' whole-vector loads and stores of a tile's rows never straddle cache lines.
            _workspaces[w] = Aligned.Memory<T>(Math.Max(workspace, 1));
            _pointObjectives[w] = Aligned.Memory<T>(_longestTile);
            _tileLengths[w] = _sequenceEnds is null ? [] : new int[Tile];
        }

        _team = new WorkerTeam(_workers);
        _processSegments = ProcessSegments;
        _phaseTicks = new long[8 * _workers];
    }

    /// <summary>The merged statistics of the last training pass.</summary>
    public SufficientStatistics Total { get; }

    /// <summary>The M-step context of the last pass: its candidates are the segments' worst-explained points, worst first.</summary>
    public MaximizationContext Context { get; }

    /// <summary>Number of worker threads.</summary>
    public int Workers => _workers;

    /// <summary>How many segments N points are split into: one per 4096 points, at most 16 (a function of N alone).</summary>
    public static int SegmentCount(long points) => (int)Math.Clamp((points + MinimumSegmentPoints - 1) / MinimumSegmentPoints, 1, MaximumSegments);

    /// <summary>
    /// Passes now cover points [0, <paramref name="points"/>) of the data (at most as many segments as at
    /// creation): stepwise EM reuses one engine for minibatches of any size.
    /// </summary>
    public void SetPoints(long points)
    {
        int segments = SegmentCount(points);
        if (segments + 1 > _segmentStarts.Length)
        {
            throw new InvalidOperationException($"{points} points need {segments} segments; this engine was made for at most {_segmentStarts.Length - 1}.");
        }

        if (_sequenceEnds is not null && points != _sequenceEnds[_sequenceCount - 1])
        {
            throw new NotSupportedException("A model of sequences runs passes over whole sequences (set them with SetSequences).");
        }

        _segmentCount = segments;
        for (int s = 0; s <= segments; s++)
        {
            _segmentStarts[s] = (long)((Int128)points * s / segments);
            if (_sequenceEnds is not null && s > 0 && s < segments)
            {
                // Segments start at sequence boundaries: the first one at or after the even split (still a function of N).
                _segmentStarts[s] = Math.Max(_segmentStarts[s - 1], SequenceBoundaryAtOrAfter(_segmentStarts[s]));
            }
        }
    }

    /// <summary>
    /// For a model of sequences over a buffer whose content changes (stepwise EM's minibatches): the sequences the next
    /// <see cref="SetPoints"/> covers. Each must be at most as long as the longest tile this engine was made for.
    /// </summary>
    public void SetSequences(ReadOnlySpan<int> lengths)
    {
        if (_sequenceEnds is null)
        {
            throw new InvalidOperationException("This engine's model does not use sequences.");
        }

        if (lengths.Length > _sequenceEnds.Length)
        {
            _sequenceEnds = new long[Math.Max(lengths.Length, 2 * _sequenceEnds.Length)]; // grows with the largest minibatch, then stays
        }

        long end = 0;
        for (int s = 0; s < lengths.Length; s++)
        {
            if (lengths[s] < 1 || lengths[s] > _longestTile)
            {
                throw new ArgumentException($"Sequence {s} has length {lengths[s]}; this engine takes 1 … {_longestTile}.", nameof(lengths));
            }

            end += lengths[s];
            _sequenceEnds[s] = end;
        }

        _sequenceCount = lengths.Length;
    }

    /// <summary>The first sequence boundary (a sequence's start, or N) at or after <paramref name="point"/>.</summary>
    private long SequenceBoundaryAtOrAfter(long point)
    {
        long[] ends = _sequenceEnds!;
        if (point <= 0)
        {
            return 0;
        }

        int index = Array.BinarySearch(ends, 0, _sequenceCount, point);
        return index >= 0 ? ends[index] : ends[~index];
    }

    /// <summary>The index of the sequence that starts at <paramref name="boundary"/> (a sequence boundary below N).</summary>
    private int SequenceStartingAt(long boundary)
    {
        if (boundary == 0)
        {
            return 0;
        }

        int index = Array.BinarySearch(_sequenceEnds!, 0, _sequenceCount, boundary);
        return index + 1;
    }

    /// <summary>
    /// The whole sequences of the tile that starts at <paramref name="start"/> (a boundary) and may reach <paramref name="limit"/>:
    /// as many as fit in <see cref="Tile"/> points, or one longer sequence alone; their lengths go to <paramref name="lengths"/>.
    /// </summary>
    private (int Points, int Sequences) SequenceTile(long start, long limit, int[] lengths)
    {
        long[] ends = _sequenceEnds!;
        int sequence = SequenceStartingAt(start);
        int points = 0, count = 0;
        long at = start;
        while (sequence < _sequenceCount && at < limit && count < lengths.Length)
        {
            int length = (int)(ends[sequence] - at);
            if (points > 0 && points + length > Tile)
            {
                break;
            }

            lengths[count++] = length;
            points += length;
            at = ends[sequence];
            sequence++;
            if (points >= Tile)
            {
                break;
            }
        }

        return (points, count);
    }

    /// <summary>
    /// One pass over every point under the model's current parameters: the objective, and (if
    /// <paramref name="accumulate"/>) the statistics merged into <see cref="Total"/> and the re-seed
    /// candidates. Returns Σ over points of the model's per-point objective plus its correction.
    /// </summary>
    public double Pass(bool accumulate, bool reshift, CancellationToken cancellationToken)
    {
        _model.PrepareExpectation(reshift);
        if (accumulate)
        {
            _model.ResetStatistics(Total);
        }

        RunPass(accumulate, default, cancellationToken);
        double objective = 0;
        for (int s = 0; s < _segmentCount; s++)
        {
            objective += _segmentObjectives[8 * s];
        }

        if (accumulate)
        {
            Total.Clear();
            for (int s = 0; s < _segmentCount; s++)
            {
                Total.Add(_segments[s]);
            }

            FillCandidates();
        }

        return objective + _model.ObjectiveCorrection();
    }

    /// <summary>
    /// One evaluation pass (no statistics): any of per-point objectives, responsibilities (N × K,
    /// row-major; the model must be an <see cref="IMixtureModel{T}"/>) and labels (argmax, ties to the lower
    /// index). Empty outputs are skipped.
    /// </summary>
    public void Evaluate(double[]? perPoint, T[]? responsibilities, int[]? labels, CancellationToken cancellationToken)
    {
        _model.PrepareExpectation(reshift: false);
        RunPass(false, new Outputs(perPoint, responsibilities, labels), cancellationToken);
    }

    private void RunPass(bool accumulate, Outputs outputs, CancellationToken cancellationToken)
    {
        _accumulate = accumulate;
        _outputs = outputs;
        _cancellationToken = cancellationToken;
        _nextSegment = 0;
        Action<PassTimes>? listener = PassTimes.Listener;
        long started = listener is null ? 0 : Stopwatch.GetTimestamp();
        Array.Clear(_phaseTicks);
        try
        {
            if (_segmentCount == 1)
            {
                ProcessSegments(0); // one segment: no other thread has anything to do, so none is woken
            }
            else
            {
                _team.Run(_processSegments);
            }
        }
        catch (AggregateException e) when (e.InnerException is not null)
        {
            // A worker's exception (a cancellation, or a file that changed under a streamed fit) as itself.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
        }
        finally
        {
            _outputs = default;
        }

        cancellationToken.ThrowIfCancellationRequested();
        _dealtOnce = true;
        if (listener is not null)
        {
            double[] Phase(int phase) => Enumerable.Range(0, _workers).Select(w => PassTimes.Milliseconds(_phaseTicks[8 * w + phase])).ToArray();
            listener(new PassTimes(accumulate && _model is not MomentsModel<T>, PassTimes.Milliseconds(Stopwatch.GetTimestamp() - started), Phase(0), Phase(1)));
        }
    }

    /// <summary>The segments' worst-explained points, worst first (ties by segment index): the re-seed candidates.</summary>
    private void FillCandidates()
    {
        int count = 0;
        for (int s = 0; s < _segmentCount; s++)
        {
            if (_segmentWorst[s] < double.PositiveInfinity)
            {
                _candidateOrder[count++] = s;
            }
        }

        // Insertion sort: at most 16 segments, and no allocation.
        for (int i = 1; i < count; i++)
        {
            int s = _candidateOrder[i];
            int j = i - 1;
            while (j >= 0 && _segmentWorst[_candidateOrder[j]] > _segmentWorst[s])
            {
                _candidateOrder[j + 1] = _candidateOrder[j];
                j--;
            }

            _candidateOrder[j + 1] = s;
        }

        Context.ClearCandidates();
        int d = _data.Features;
        for (int i = 0; i < count; i++)
        {
            Context.AddCandidate(_segmentWorstPoints.AsSpan(_candidateOrder[i] * d, d));
        }
    }

    public void Dispose() => _team.Dispose();

    /// <summary>
    /// Workers claim segments in order until none is left, so a worker slowed by the machine takes fewer;
    /// which worker does a segment never changes its statistics (each segment has its own, reduced in a
    /// fixed order). The first pass deals the segments out in turn instead, so that every worker runs then
    /// and makes its one-time allocations (its thread's scratch and statics) before the steady state.
    /// </summary>
    private void ProcessSegments(int worker)
    {
        int segments = _segmentCount;
        if (!_dealtOnce && segments > 1)
        {
            for (int segment = worker; segment < segments; segment += _workers)
            {
                _cancellationToken.ThrowIfCancellationRequested();
                ProcessSegment(segment, worker);
            }

            return;
        }

        int s;
        while ((s = Interlocked.Increment(ref _nextSegment) - 1) < segments)
        {
            _cancellationToken.ThrowIfCancellationRequested();
            ProcessSegment(s, worker);
        }
    }

    // Runs every pass: compiled fully optimised at once rather than after tiering (a fit is often shorter than tier-up).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ProcessSegment(int segment, int worker)
    {
        bool accumulate = _accumulate;
        SufficientStatistics? statistics = null;
        if (accumulate)
        {
            statistics = _segments[segment];
            Total.Shift.CopyTo(statistics.Shift);
            statistics.Clear();
        }

        IMixtureModel<T>? mixture = _outputs.WantsPosterior ? (IMixtureModel<T>)_model : null;
        Span<T> workspace = _workspaces[worker].Span;
        Span<T> pointObjectives = _pointObjectives[worker].Span;
        int d = _data.Features;
        double objective = 0;
        double worst = double.PositiveInfinity;
        bool timed = PassTimes.Listener is not null;
        long segmentEnd = _segmentStarts[segment + 1];
        int chunkPoints = _data.ChunkPoints;
        int[] sequenceLengths = _tileLengths[worker];
        int count;
        for (long chunkStart = _segmentStarts[segment]; chunkStart < segmentEnd; chunkStart += count)
        {
            count = _sequenceEnds is null ? (int)Math.Min(chunkPoints, segmentEnd - chunkStart) : SequenceChunk(chunkStart, segmentEnd, chunkPoints, sequenceLengths);
            long t0 = timed ? Stopwatch.GetTimestamp() : 0;
            FramedData<T>.Chunk chunk = _data.Load(worker, chunkStart, count);
            long t1 = timed ? Stopwatch.GetTimestamp() : 0;
            int points;
            for (int first = 0; first < count; first += points)
            {
                DataTile<T> tile;
                if (_sequenceEnds is null)
                {
                    points = Math.Min(Tile, count - first);
                    tile = chunk.Tile(d, first, points, chunkStart);
                }
                else
                {
                    (points, int sequences) = SequenceTile(chunkStart + first, chunkStart + count, sequenceLengths);
                    tile = chunk.Tile(d, first, points, chunkStart).WithSequences(sequenceLengths.AsSpan(0, sequences));
                }

                Span<T> ell = pointObjectives[..points];
                if (mixture is not null)
                {
                    Span<T> r = workspace[..(mixture.Components * points)];
                    objective += mixture.Posterior(tile, r, ell, workspace);
                    _outputs.Write(tile.Start, points, mixture.Components, r, ell);
                    continue;
                }

                objective += _model.Expectation(tile, statistics, workspace, ell);
                _outputs.Write(tile.Start, points, 0, default, ell);
                if (accumulate)
                {
                    // The tile's worst-explained point (lowest objective among points of positive weight), for re-seeding.
                    ReadOnlySpan<T> weights = tile.SampleWeights;
                    int worstIndex = -1;
                    for (int i = 0; i < points; i++)
                    {
                        double value = double.CreateTruncating(ell[i]);
                        if (value < worst && (weights.IsEmpty || weights[i] > T.Zero))
                        {
                            worst = value;
                            worstIndex = i;
                        }
                    }

                    if (worstIndex >= 0)
                    {
                        Span<double> point = _segmentWorstPoints.AsSpan(segment * d, d);
                        for (int f = 0; f < d; f++)
                        {
                            point[f] = double.CreateTruncating(tile[worstIndex, f]);
                        }
                    }
                }
            }

            if (timed)
            {
                _phaseTicks[8 * worker] += t1 - t0;
                _phaseTicks[8 * worker + 1] += Stopwatch.GetTimestamp() - t1;
            }
        }

        // Written once per segment: segments that run at once would otherwise share cache lines.
        _segmentObjectives[8 * segment] = objective;
        _segmentWorst[segment] = worst;
    }

    /// <summary>
    /// The points of the chunk from <paramref name="start"/> (a tile's start): whole tiles, as many as fit in
    /// <paramref name="chunkPoints"/> (in memory, the whole segment). Tiles are formed from the segment's start whatever
    /// the chunk size, so streamed and in-memory passes see the same tiles and give the same sums.
    /// </summary>
    private int SequenceChunk(long start, long segmentEnd, int chunkPoints, int[] scratch)
    {
        long end = start;
        while (end < segmentEnd)
        {
            (int points, _) = SequenceTile(end, segmentEnd, scratch);
            if (end + points - start > chunkPoints)
            {
                if (end == start)
                {
                    throw new NotSupportedException($"A sequence of {points} points is longer than the {chunkPoints} points a streamed chunk holds; fit such sequences from memory.");
                }

                break;
            }

            end += points;
        }

        return (int)(end - start);
    }

    /// <summary>Where an evaluation pass writes; every array is optional.</summary>
    private readonly struct Outputs(double[]? perPoint, T[]? responsibilities, int[]? labels)
    {
        public bool WantsPosterior => responsibilities is not null || labels is not null;

        public void Write(long start, int points, int components, ReadOnlySpan<T> r, ReadOnlySpan<T> ell)
        {
            if (perPoint is not null)
            {
                for (int i = 0; i < points; i++)
                {
                    perPoint[start + i] = double.CreateTruncating(ell[i]);
                }
            }

            if (!WantsPosterior)
            {
                return;
            }

            for (int i = 0; i < points; i++)
            {
                long n = start + i;
                int best = 0;
                for (int k = 0; k < components; k++)
                {
                    T value = r[k * points + i];
                    if (responsibilities is not null)
                    {
                        responsibilities[n * components + k] = value;
                    }

                    if (value > r[best * points + i])
                    {
                        best = k;
                    }
                }

                if (labels is not null)
                {
                    labels[n] = best;
                }
            }
        }
    }
}
