using EmKernels.Mixtures;

namespace EmKernels.Engine;

/// <summary>
/// What an M-step gets besides the statistics: the total sample weight, where the pass was in the fit,
/// the data points the current model explains worst (the candidates a re-seed policy moves a component
/// to), and a sink for re-seed reports. A driver keeps one and refills it every pass (no allocation).
/// </summary>
public sealed class MaximizationContext
{
    private readonly double[] _candidates;
    private readonly List<ComponentReseed> _reseeds = [];

    /// <summary>Creates a context with room for up to <paramref name="capacity"/> candidate points of D features.</summary>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="capacity">How many candidates it can hold (≥ 0).</param>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range.</exception>
    public MaximizationContext(int features, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        Features = features;
        Capacity = capacity;
        _candidates = new double[features * capacity];
    }

    /// <summary>D.</summary>
    public int Features { get; }

    /// <summary>The most candidates this context holds.</summary>
    public int Capacity { get; }

    /// <summary>0-based restart of the pass.</summary>
    public int Restart { get; set; }

    /// <summary>1-based iteration of the M-step (0 for an M-step of an initialization).</summary>
    public int Iteration { get; set; }

    /// <summary>Σ w over all points of the pass.</summary>
    public double TotalWeight { get; set; }

    /// <summary>N, the number of points of the pass.</summary>
    public long Points { get; set; }

    /// <summary>Whether the points carry sample weights.</summary>
    public bool SampleWeighted { get; set; }

    /// <summary>How many candidate points there are.</summary>
    public int CandidateCount { get; private set; }

    /// <summary>Re-seeds reported so far (the driver collects and clears them).</summary>
    public IReadOnlyList<ComponentReseed> Reseeds => _reseeds;

    /// <summary>Candidate <paramref name="index"/>: D values in the fit's frame; candidates are ordered worst-explained first.</summary>
    /// <param name="index">0 ≤ index &lt; <see cref="CandidateCount"/>.</param>
    /// <returns>The point.</returns>
    public ReadOnlySpan<double> Candidate(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, CandidateCount);
        return _candidates.AsSpan(index * Features, Features);
    }

    /// <summary>Removes every candidate.</summary>
    public void ClearCandidates() => CandidateCount = 0;

    /// <summary>Appends a candidate point (callers append worst-explained first).</summary>
    /// <param name="point">D values in the fit's frame.</param>
    /// <exception cref="ArgumentException"><paramref name="point"/> does not have D values.</exception>
    /// <exception cref="InvalidOperationException">The context is full.</exception>
    public void AddCandidate(ReadOnlySpan<double> point)
    {
        if (point.Length != Features)
        {
            throw new ArgumentException($"Expected {Features} values, got {point.Length}.", nameof(point));
        }

        if (CandidateCount == Capacity)
        {
            throw new InvalidOperationException($"The context holds at most {Capacity} candidates.");
        }

        point.CopyTo(_candidates.AsSpan(CandidateCount * Features, Features));
        CandidateCount++;
    }

    /// <summary>Reports that the M-step re-seeded a component.</summary>
    /// <param name="component">0-based component.</param>
    /// <param name="reason">Why.</param>
    public void ReportReseed(int component, ReseedReason reason) => _reseeds.Add(new ComponentReseed(Restart, Iteration, component, reason));

    /// <summary>Forgets the reports.</summary>
    public void ClearReseeds() => _reseeds.Clear();
}
