using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using EmKernels.Kernels;
using EmKernels.Kernels.Common;

namespace EmKernels.Mixtures;

/// <summary>
/// The EM loop, written once for every family. Points are split into a fixed set of segments that
/// depends only on N (never on the thread count); each segment's statistics are accumulated tile by
/// tile in a fixed order and the segments are reduced in index order, so results are bitwise
/// identical for any degree of parallelism. Everything it needs is allocated when it is created.
/// </summary>
internal sealed class ExpectationMaximization<T> : IDisposable
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Points per tile: K × Tile log-probabilities stay in L1/L2 between the E-step and the statistics.</summary>
    internal const int Tile = 256;

    private const int MaximumSegments = 16;
    private const int MinimumSegmentPoints = 4096;

    private readonly FeatureMajorMatrix<T> _data;
    private readonly T[]? _weights;
    private readonly IMixtureFamily<T> _family;
    private readonly int _workers;
    private int _nextSegment;
    private bool _dealtOnce;
    private readonly int[] _segmentStarts;
    private readonly SufficientStatistics[] _segments;
    private readonly SufficientStatistics _total;
    private readonly Memory<T>[] _logProbabilities;
    private readonly Memory<T>[] _logLikelihoods;
    private readonly bool[] _degenerate;
    private readonly bool[] _held;
    private readonly WorkerTeam _team;
    private readonly Action<int> _processSegments;

    /// <summary>Stopwatch ticks per worker for log-probabilities, responsibilities and statistics, while <see cref="PassTimes.Listener"/> is set.</summary>
    private readonly long[] _phaseTicks;
    private bool _accumulate;

    public ExpectationMaximization(FeatureMajorMatrix<T> data, T[]? sampleWeights, IMixtureFamily<T> family, int maxDegreeOfParallelism, HeldParameters? held = null)
    {
        HoldWeights = held?.Weights ?? false;
        _held = held?.ComponentMask(family.Components, "options.Held") ?? new bool[family.Components];
        _data = data;
        _weights = sampleWeights;
        _family = family;
        int n = data.Points;
        int segments = Math.Clamp((n + MinimumSegmentPoints - 1) / MinimumSegmentPoints, 1, MaximumSegments);
        _segmentStarts = new int[segments + 1];
        for (int s = 0; s <= segments; s++)
        {
            _segmentStarts[s] = (int)((long)n * s / segments);
        }

        _segments = new SufficientStatistics[segments];
        for (int s = 0; s < segments; s++)
        {
            _segments[s] = family.CreateStatistics();
        }

        _total = family.CreateStatistics();
        _workers = Math.Clamp(maxDegreeOfParallelism, 1, segments);
        _logProbabilities = new Memory<T>[_workers];
        _logLikelihoods = new Memory<T>[_workers];
        for (int w = 0; w < _workers; w++)
        {
            // Aligned, so the kernels' whole-vector loads and stores of a tile's rows never straddle cache lines.
            _logProbabilities[w] = Aligned.Memory<T>(family.Components * Tile);
            _logLikelihoods[w] = Aligned.Memory<T>(Tile);
        }

        _degenerate = new bool[family.Components];
        _team = new WorkerTeam(_workers);
        _processSegments = ProcessSegments;
        _phaseTicks = new long[8 * _workers]; // a cache line per worker
        TotalWeight = 0;
        for (int i = 0; i < n; i++)
        {
            TotalWeight += sampleWeights is null ? 1 : double.CreateTruncating(sampleWeights[i]);
        }
    }

    /// <summary>Whether the M-step leaves the mixing weights alone.</summary>
    public bool HoldWeights { get; }

    /// <summary>Σ w_n (N without sample weights).</summary>
    public double TotalWeight { get; }

    /// <summary>The statistics of the last pass over all points.</summary>
    public SufficientStatistics Total => _total;

    /// <summary>
    /// One pass over the data under the family's current parameters: per-point log-likelihoods and
    /// responsibilities, and (if <paramref name="accumulate"/>) the sufficient statistics, reduced into
    /// <see cref="Total"/>. Returns the mean log-likelihood Σ w ℓ / Σ w.
    /// </summary>
    public double Pass(ReadOnlySpan<double> logWeights, bool accumulate)
    {
        _family.PrepareExpectation(logWeights);
        _accumulate = accumulate;
        _nextSegment = 0;
        Action<PassTimes>? listener = PassTimes.Listener;
        long started = listener is null ? 0 : Stopwatch.GetTimestamp();
        Array.Clear(_phaseTicks);
        _team.Run(_processSegments);
        _dealtOnce = true;
        if (listener is not null)
        {
            double[] Phase(int phase) => Enumerable.Range(0, _workers).Select(w => PassTimes.Milliseconds(_phaseTicks[8 * w + phase])).ToArray();
            listener(new PassTimes(PassTimes.Milliseconds(Stopwatch.GetTimestamp() - started), Phase(0), Phase(1), Phase(2)));
        }

        _total.Clear();
        for (int s = 0; s < _segments.Length; s++)
        {
            _total.Add(_segments[s]);
        }

        return _total.LogLikelihood / TotalWeight;
    }

    /// <summary>
    /// Runs EM from the family's current parameters and <paramref name="logWeights"/> (updated in place):
    /// exactly as scikit-learn's loop (E-step, M-step, then stop when the change of the mean
    /// log-likelihood is below <paramref name="tolerance"/>), then a final E-step so that the reported
    /// likelihood belongs to the returned parameters.
    /// </summary>
    public RunResult Run(Span<double> logWeights, int maxIterations, double tolerance, int restart, IProgress<FitProgress>? progress, Stopwatch clock)
    {
        var history = new List<double>(Math.Min(maxIterations, 1000) + 1);
        var decreases = new List<LikelihoodDecrease>();
        var reseeds = new List<ComponentReseed>();
        double previous = double.NegativeInfinity;
        bool converged = false;
        bool reseededBefore = false;
        int iteration = 0;
        while (iteration < maxIterations)
        {
            iteration++;
            double current = Pass(logWeights, accumulate: true);
            history.Add(current);
            if (history.Count > 1 && !reseededBefore)
            {
                CheckMonotone(history, decreases);
            }

            bool reseeded = Maximize(logWeights, restart, iteration, reseeds);
            double change = current - previous;
            previous = current;
            progress?.Report(new FitProgress(restart, iteration, current, change, clock.Elapsed));

            // Never stop right after a re-seed: the change then compares two different models.
            if (Math.Abs(change) < tolerance && !reseeded && !reseededBefore)
            {
                converged = true;
                break;
            }

            reseededBefore = reseeded;
        }

        double final = Pass(logWeights, accumulate: false);
        history.Add(final);
        if (!reseededBefore)
        {
            CheckMonotone(history, decreases);
        }

        return new RunResult(history.ToArray(), converged, iteration, decreases.ToArray(), reseeds.ToArray());
    }

    /// <summary>The M-step on <see cref="Total"/>: weights, then the family; re-seeds what the family flags.</summary>
    public bool Maximize(Span<double> logWeights, int restart, int iteration, List<ComponentReseed>? reseeds)
    {
        int k = _family.Components;
        double massSum = 0;
        for (int j = 0; j < k; j++)
        {
            massSum += _total.Mass[j];
        }

        Array.Clear(_degenerate);
        _family.Maximize(_total, _held, _degenerate);
        bool any = false;
        for (int j = 0; j < k; j++)
        {
            if (!_degenerate[j])
            {
                if (!HoldWeights)
                {
                    logWeights[j] = Math.Log(_total.Mass[j] / massSum);
                }
            }
            else
            {
                any = true;
            }
        }

        if (any)
        {
            Reseed(logWeights, massSum, restart, iteration, reseeds);
        }

        return any;
    }

    /// <summary>
    /// An M-step from responsibilities given by <paramref name="fill"/> (K × count, component-major, for
    /// the points [start, start + count)) instead of an E-step: how initialisations become parameters.
    /// </summary>
    public void MaximizeFrom(Action<int, int, Span<T>> fill, Span<double> logWeights)
    {
        _family.PrepareExpectation(logWeights);
        _total.Clear();
        Span<T> block = _logProbabilities[0].Span;
        int k = _family.Components;
        for (int start = 0; start < _data.Points; start += Tile)
        {
            int count = Math.Min(Tile, _data.Points - start);
            Span<T> r = block[..(k * count)];
            fill(start, count, r);
            _family.Accumulate(_data.Tile(start, count), count, _data.Stride, r, _weights is null ? default : _weights.AsSpan(start, count), _total);
        }

        Maximize(logWeights, 0, 0, null);
    }

    /// <summary>
    /// Evaluates the current parameters on every point: per-point log-likelihoods, responsibilities
    /// (N × K, row-major) and labels (argmax, ties to the lower index), each only if asked for.
    /// </summary>
    public void Evaluate(ReadOnlySpan<double> logWeights, Span<double> perPoint, Span<T> responsibilities, Span<int> labels)
    {
        _family.PrepareExpectation(logWeights);
        Span<T> block = _logProbabilities[0].Span;
        Span<T> ell = _logLikelihoods[0].Span;
        int k = _family.Components;
        for (int start = 0; start < _data.Points; start += Tile)
        {
            int count = Math.Min(Tile, _data.Points - start);
            Span<T> r = block[..(k * count)];
            _family.LogProbabilities(_data.Tile(start, count), start, count, _data.Stride, r);
            MixtureKernels.Responsibilities<T>(r, k, count, ell[..count]);
            for (int i = 0; i < count; i++)
            {
                int n = start + i;
                if (!perPoint.IsEmpty)
                {
                    perPoint[n] = double.CreateTruncating(ell[i]);
                }

                int best = 0;
                for (int j = 0; j < k; j++)
                {
                    T value = r[j * count + i];
                    if (!responsibilities.IsEmpty)
                    {
                        responsibilities[n * k + j] = value;
                    }

                    if (value > r[best * count + i])
                    {
                        best = j;
                    }
                }

                if (!labels.IsEmpty)
                {
                    labels[n] = best;
                }
            }
        }
    }

    private void Reseed(Span<double> logWeights, double massSum, int restart, int iteration, List<ComponentReseed>? reseeds)
    {
        // Candidates: each segment's worst-explained point, worst first (a fixed order: ties by segment index).
        int[] order = Enumerable.Range(0, _segments.Length)
            .Where(s => _segments[s].WorstPoint >= 0)
            .OrderBy(s => _segments[s].WorstLogLikelihood)
            .ThenBy(s => s)
            .ToArray();
        double[] point = new double[_family.Features];
        double share = _weights is null ? 1.0 / massSum : Math.Min(1.0, 1.0 / _data.Points);
        int used = 0;
        for (int j = 0; j < _family.Components; j++)
        {
            if (!_degenerate[j])
            {
                continue;
            }

            int row = order.Length > 0 ? _segments[order[used % order.Length]].WorstPoint : (int)((long)j * _data.Points / _family.Components);
            used++;
            for (int d = 0; d < _family.Features; d++)
            {
                point[d] = double.CreateTruncating(_data[row, d]);
            }

            _family.Reseed(j, point);
            logWeights[j] = Math.Log(share);
            reseeds?.Add(new ComponentReseed(restart, iteration, j, _total.Mass[j] > 1e-300 ? ReseedReason.CovarianceNotPositiveDefinite : ReseedReason.LostItsMass));
        }

        // Renormalise the weights so that they sum to 1 again.
        double sum = 0;
        foreach (double logWeight in logWeights)
        {
            sum += Math.Exp(logWeight);
        }

        double logSum = Math.Log(sum);
        for (int j = 0; j < logWeights.Length; j++)
        {
            logWeights[j] -= logSum;
        }
    }

    private static void CheckMonotone(List<double> history, List<LikelihoodDecrease> decreases)
    {
        double before = history[^2];
        double after = history[^1];

        // Rounding in a mean of N per-point log-likelihoods, each accurate to a few ulps of the element type.
        double epsilon = typeof(T) == typeof(float) ? Math.ScaleB(1, -23) : Math.ScaleB(1, -52);
        if (after < before - 64 * epsilon * (1 + Math.Abs(before)))
        {
            decreases.Add(new LikelihoodDecrease(history.Count - 1, before - after));
        }
    }

    public void Dispose() => _team.Dispose();

    /// <summary>
    /// Workers claim segments in order until none is left, so a worker slowed by the machine takes fewer;
    /// which worker does a segment never changes its statistics (each segment has its own, reduced in a
    /// fixed order), so results stay bitwise the same for any thread count. The first pass deals the
    /// segments out in turn instead, so that every worker runs then and makes its one-time allocations
    /// (its thread's scratch and statics) before the steady state: claiming, a late-waking worker could
    /// get no segment until a later iteration (seen as up to 40 KB allocated after iteration 2).
    /// </summary>
    private void ProcessSegments(int worker)
    {
        if (!_dealtOnce)
        {
            for (int segment = worker; segment < _segments.Length; segment += _workers)
            {
                ProcessSegment(segment, worker, _accumulate);
            }

            return;
        }

        int s;
        while ((s = Interlocked.Increment(ref _nextSegment) - 1) < _segments.Length)
        {
            ProcessSegment(s, worker, _accumulate);
        }
    }

    // Runs every pass: compiled fully optimised at once rather than after tiering (a fit is often shorter than tier-up).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ProcessSegment(int segment, int worker, bool accumulate)
    {
        SufficientStatistics statistics = _segments[segment];
        statistics.Clear();
        Span<T> block = _logProbabilities[worker].Span;
        Span<T> logLikelihoods = _logLikelihoods[worker].Span;
        int k = _family.Components;
        int stride = _data.Stride;
        double logLikelihood = 0;
        double worst = double.PositiveInfinity;
        int worstPoint = -1;
        bool timed = PassTimes.Listener is not null;
        for (int start = _segmentStarts[segment]; start < _segmentStarts[segment + 1]; start += Tile)
        {
            int count = Math.Min(Tile, _segmentStarts[segment + 1] - start);
            ReadOnlySpan<T> tile = _data.Tile(start, count);
            Span<T> logRho = block[..(k * count)];
            Span<T> ell = logLikelihoods[..count];
            ReadOnlySpan<T> weights = _weights is null ? default : _weights.AsSpan(start, count);
            long t0 = timed ? Stopwatch.GetTimestamp() : 0;
            _family.LogProbabilities(tile, start, count, stride, logRho);
            long t1 = timed ? Stopwatch.GetTimestamp() : 0;
            logLikelihood += MixtureKernels.Responsibilities<T>(logRho, k, count, ell, weights);
            for (int i = 0; i < count; i++)
            {
                double value = double.CreateTruncating(ell[i]);
                if (value < worst && (weights.IsEmpty || weights[i] > T.Zero))
                {
                    worst = value;
                    worstPoint = start + i;
                }
            }

            long t2 = timed ? Stopwatch.GetTimestamp() : 0;
            if (accumulate)
            {
                _family.Accumulate(tile, count, stride, logRho, weights, statistics);
            }

            if (timed)
            {
                _phaseTicks[8 * worker] += t1 - t0;
                _phaseTicks[8 * worker + 1] += t2 - t1;
                _phaseTicks[8 * worker + 2] += Stopwatch.GetTimestamp() - t2;
            }
        }

        // Written once per segment: the statistics objects of segments that run at once may share cache lines.
        statistics.LogLikelihood = logLikelihood;
        statistics.WorstLogLikelihood = worst;
        statistics.WorstPoint = worstPoint;
    }

    /// <summary>
    /// The restart loop both estimators share: each restart seeds its own Random (seed · 31 + restart),
    /// lets <paramref name="initialize"/> set the starting parameters and <paramref name="logWeights"/>,
    /// runs EM, and keeps the run with the highest final log-likelihood (<paramref name="keepParameters"/>
    /// copies the family's parameters out; the weights go to <paramref name="bestLogWeights"/>). A
    /// deterministic start gives the same run every time, so it runs once.
    /// </summary>
    public (RunResult Best, ComponentReseed[] Reseeds) RunRestarts(
        double[] logWeights, double[] bestLogWeights, int restarts, int seed, bool deterministicStart, int maxIterations, double tolerance,
        IProgress<FitProgress>? progress, Stopwatch clock, Action<Random> initialize, Action keepParameters)
    {
        RunResult? best = null;
        var reseeds = new List<ComponentReseed>();
        for (int restart = 0; restart < restarts; restart++)
        {
            initialize(new Random(unchecked(seed * 31 + restart)));
            RunResult run = Run(logWeights, maxIterations, tolerance, restart, progress, clock);
            reseeds.AddRange(run.Reseeds);
            if (best is null || run.History[^1] > best.History[^1])
            {
                best = run;
                logWeights.CopyTo(bestLogWeights, 0);
                keepParameters();
            }

            if (deterministicStart)
            {
                break;
            }
        }

        return (best!, reseeds.ToArray());
    }

    /// <summary>What one run of EM produced.</summary>
    internal sealed record RunResult(double[] History, bool Converged, int Iterations, LikelihoodDecrease[] Decreases, ComponentReseed[] Reseeds);
}
