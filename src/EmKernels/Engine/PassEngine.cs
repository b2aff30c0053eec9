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
/// along a tree fixed by their number (<see cref="SegmentTree"/>), so results are bitwise identical for any degree of
/// parallelism, for in-memory or streamed data, and for any number of processes that each hold a contiguous range of
/// segments (<see cref="IPassExchange"/>). Segments are processed in waves of 16, so memory does not grow with N;
/// everything a pass needs is allocated by the first one.
/// </summary>
internal sealed class PassEngine<T> : IDisposable
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Points per tile: K × Tile log-probabilities stay in L1/L2 between the E-step and the statistics.</summary>
    public const int Tile = 256;

    /// <summary>Segments processed at once (each with its own statistics), and most segments of a pass up to 2^20 points.</summary>
    private const int Wave = 16;
    private const int MinimumSegmentPoints = 1024;
    private const int LargeSegmentPoints = 1 << 16;

    private readonly IExpectationMaximizationModel<T> _model;
    private readonly FramedData<T> _data;
    private readonly int _workers;
    private readonly long[] _segmentStarts;
    private readonly ReductionNode?[] _wave = new ReductionNode?[Wave];
    private readonly ReductionStack _stack;
    private readonly IPassExchange? _exchange;
    private readonly double[] _segmentWorstPoints;
    private int _waveFirst;
    private int _waveCount;
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

    /// <param name="model">The model whose passes run.</param>
    /// <param name="data">The data (for a process of a distributed fit, its shard: it reads only the points of its segments).</param>
    /// <param name="maxDegreeOfParallelism">Most threads.</param>
    /// <param name="exchange">For a distributed fit, how this process's segments meet the others'; null for one process.</param>
    public PassEngine(IExpectationMaximizationModel<T> model, FramedData<T> data, int maxDegreeOfParallelism, IPassExchange? exchange = null)
    {
        _model = model;
        _exchange = exchange;
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
        _stack = new ReductionStack(model.StatisticsLayout, data.Features);
        Total = new SufficientStatistics(model.StatisticsLayout);
        _segmentWorstPoints = new double[Wave * data.Features];
        Context = new MaximizationContext(data.Features, ReductionNode.MaximumCandidates) { Points = n, SampleWeighted = data.SampleWeighted };
        _workers = Math.Clamp(maxDegreeOfParallelism, 1, Math.Min(segments, Wave));
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

    /// <summary>
    /// How many segments N points are split into, a function of N alone: one per 1024 points, at most 16, up to 2^20
    /// points; beyond, one per 2^16 points (so that many processes can share the work).
    /// </summary>
    public static int SegmentCount(long points) => points <= (long)Wave * LargeSegmentPoints
        ? (int)Math.Clamp((points + MinimumSegmentPoints - 1) / MinimumSegmentPoints, 1, Wave)
        : checked((int)((points + LargeSegmentPoints - 1) / LargeSegmentPoints));

    /// <summary>The first point of segment <paramref name="segment"/> (N for the segment count) of the current pass.</summary>
    public long SegmentStart(int segment) => _segmentStarts[segment];

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
        // Set before anything can fail: the exchange's message sizes follow from them on every process.
        _stack.Segments = _segmentCount;
        _stack.Statistics = accumulate;
        Exception? failure = null;
        try
        {
            _model.PrepareExpectation(reshift);
            if (accumulate)
            {
                _model.ResetStatistics(Total);
            }

            RunPass(accumulate, default, cancellationToken);
        }
        catch (Exception e) when (_exchange is not null && e is not OperationCanceledException)
        {
            failure = e; // the other processes learn of it in the exchange, and every one throws
        }

        _exchange?.Combine(_stack, failure);
        if (_stack.Count != 1)
        {
            throw new InvalidOperationException($"A pass ended with {_stack.Count} partial sums instead of one.");
        }

        ReductionNode root = _stack[0];
        if (accumulate)
        {
            Total.CopyFrom(root.Statistics);
            Context.ClearCandidates();
            for (int c = 0; c < root.CandidateCount; c++)
            {
                Context.AddCandidate(root.Candidate(c));
            }
        }

        return root.Objective + _model.ObjectiveCorrection();
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

    /// <summary>
    /// This process's segments (all of them, or its range in a distributed fit), wave by wave; each wave's segments
    /// are pushed, in order, on the reduction stack, which then holds this process's maximal nodes of the tree.
    /// </summary>
    private void RunPass(bool accumulate, Outputs outputs, CancellationToken cancellationToken)
    {
        _accumulate = accumulate;
        _outputs = outputs;
        _cancellationToken = cancellationToken;
        Action<PassTimes>? listener = PassTimes.Listener;
        long started = listener is null ? 0 : Stopwatch.GetTimestamp();
        Array.Clear(_phaseTicks);
        _stack.Clear();
        _stack.Segments = _segmentCount;
        _stack.Statistics = accumulate;
        (int first, int end) = _exchange?.Segments(_segmentCount) ?? (0, _segmentCount);
        try
        {
            for (int lo = first; lo < end;)
            {
                int hi = Math.Min(end, (lo / Wave + 1) * Wave);
                _waveFirst = lo;
                _waveCount = hi - lo;
                _nextSegment = 0;
                for (int slot = 0; slot < _waveCount; slot++)
                {
                    ReductionNode leaf = _stack.Rent();
                    leaf.StartLeaf(lo + slot, Total.Shift, accumulate);
                    _wave[slot] = leaf;
                }

                if (_waveCount == 1)
                {
                    ProcessSegments(0); // one segment: no other thread has anything to do, so none is woken
                }
                else
                {
                    _team.Run(_processSegments);
                }

                for (int slot = 0; slot < _waveCount; slot++)
                {
                    _stack.Push(_wave[slot]!);
                    _wave[slot] = null;
                }

                lo = hi;
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
            for (int slot = 0; slot < Wave; slot++)
            {
                if (_wave[slot] is ReductionNode leaf)
                {
                    _stack.Return(leaf);
                    _wave[slot] = null;
                }
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        _dealtOnce = true;
        if (listener is not null)
        {
            double[] Phase(int phase) => Enumerable.Range(0, _workers).Select(w => PassTimes.Milliseconds(_phaseTicks[8 * w + phase])).ToArray();
            listener(new PassTimes(accumulate && _model is not MomentsModel<T>, PassTimes.Milliseconds(Stopwatch.GetTimestamp() - started), Phase(0), Phase(1)));
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
        int segments = _waveCount;
        if (!_dealtOnce && segments > 1)
        {
            for (int slot = worker; slot < segments; slot += _workers)
            {
                _cancellationToken.ThrowIfCancellationRequested();
                ProcessSegment(slot, worker);
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
    private void ProcessSegment(int slot, int worker)
    {
        bool accumulate = _accumulate;
        int segment = _waveFirst + slot;
        ReductionNode leaf = _wave[slot]!;
        SufficientStatistics? statistics = accumulate ? leaf.Statistics : null;

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
                        Span<double> point = _segmentWorstPoints.AsSpan(slot * d, d);
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

        leaf.Objective = objective;
        if (accumulate)
        {
            leaf.SetLeafCandidate(worst, _segmentWorstPoints.AsSpan(slot * d, d));
        }
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

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
