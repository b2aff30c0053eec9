using System.Numerics;

namespace EmKernels.Engine;

/// <summary>
/// The fixed reduction tree over a pass's S segments: the node [lo, hi) of more than one segment is the merge of
/// [lo, m) and [m, hi), m = lo + the largest power of two below hi − lo, from the root [0, S). Its shape depends on
/// S alone, and floating-point addition is commutative, so a sum reduced along it is bitwise the same whoever
/// computes which node: threads of one process, or processes that each hold a contiguous range of segments
/// (<see cref="ReductionStack"/> turns any such range into its maximal nodes, and ranges given in order into the root).
/// </summary>
internal static class SegmentTree
{
    /// <summary>Where the node [<paramref name="lo"/>, <paramref name="hi"/>) splits (hi − lo ≥ 2).</summary>
    public static int Split(int lo, int hi) => lo + (int)(BitOperations.RoundUpToPowerOf2((uint)(hi - lo)) / 2);

    /// <summary>Whether [<paramref name="lo"/>, <paramref name="hi"/>) is a node of the tree over <paramref name="segments"/> segments.</summary>
    public static bool IsNode(int lo, int hi, int segments)
    {
        int a = 0, b = segments;
        while (true)
        {
            if (a == lo && b == hi)
            {
                return true;
            }

            if (b - a < 2)
            {
                return false;
            }

            int m = Split(a, b);
            if (hi <= m)
            {
                b = m;
            }
            else if (lo >= m)
            {
                a = m;
            }
            else
            {
                return false;
            }
        }
    }

    /// <summary>The segments [First, End) of process <paramref name="rank"/> of <paramref name="size"/> in a distributed fit: contiguous, in rank order.</summary>
    public static (int First, int End) RangeOf(int segments, int size, int rank) =>
        ((int)((long)segments * rank / size), (int)((long)segments * (rank + 1) / size));

    /// <summary>The first point of segment <paramref name="segment"/> of <paramref name="segments"/> over <paramref name="points"/> points (independent points).</summary>
    public static long SegmentStart(long points, int segments, int segment) => (long)((Int128)points * segment / segments);

    /// <summary>The first row of each process's shard (P + 1 values, the last N) in a distributed fit of <paramref name="points"/> independent points.</summary>
    public static long[] ShardStarts(long points, int size)
    {
        int segments = PassEngine<double>.SegmentCount(points);
        long[] starts = new long[size + 1];
        for (int r = 0; r < size; r++)
        {
            starts[r] = SegmentStart(points, segments, RangeOf(segments, size, r).First);
        }

        starts[size] = points;
        return starts;
    }

    /// <summary>Whether the adjacent nodes [lo, mid) and [mid, hi) are the two children of one node.</summary>
    public static bool AreSiblings(int lo, int mid, int hi, int segments) => hi - lo >= 2 && Split(lo, hi) == mid && IsNode(lo, hi, segments);
}

/// <summary>
/// What a pass reduces over a node of the <see cref="SegmentTree"/>: the segments [<see cref="First"/>, <see cref="End"/>),
/// their summed objective, their statistics (on an accumulating pass) and their worst-explained points, worst first
/// (ties to the lower segment), at most <see cref="MaximumCandidates"/> — the re-seed candidates.
/// </summary>
internal sealed class ReductionNode
{
    /// <summary>Most candidates a node keeps (every segment's, when there are at most this many segments).</summary>
    public const int MaximumCandidates = 16;

    private const int Header = 4;

    private readonly int _features;
    private readonly double[] _values = new double[MaximumCandidates];
    private readonly int[] _segments = new int[MaximumCandidates];
    private readonly double[] _points;
    private readonly double[] _mergedValues = new double[MaximumCandidates];
    private readonly int[] _mergedSegments = new int[MaximumCandidates];
    private readonly double[] _mergedPoints;

    public ReductionNode(StatisticsLayout layout, int features)
    {
        _features = features;
        _points = new double[MaximumCandidates * features];
        _mergedPoints = new double[MaximumCandidates * features];
        Statistics = new SufficientStatistics(layout);
    }

    public int First { get; private set; }

    public int End { get; private set; }

    public double Objective { get; set; }

    public SufficientStatistics Statistics { get; }

    public int CandidateCount { get; private set; }

    /// <summary>Most doubles <see cref="Pack"/> writes.</summary>
    public int PackedLength => PackedLengthOf(Statistics.Layout, _features);

    /// <summary>Most doubles a node of <paramref name="layout"/> over <paramref name="features"/> features packs into.</summary>
    public static int PackedLengthOf(StatisticsLayout layout, int features) => Header + MaximumCandidates * (2 + features) + layout.Length;

    public ReadOnlySpan<double> Candidate(int index) => _points.AsSpan(index * _features, _features);

    /// <summary>A leaf: segment <paramref name="segment"/>, nothing summed yet, the statistics' shift from <paramref name="shift"/>.</summary>
    public void StartLeaf(int segment, ReadOnlySpan<double> shift, bool statistics)
    {
        First = segment;
        End = segment + 1;
        Objective = 0;
        CandidateCount = 0;
        if (statistics)
        {
            shift.CopyTo(Statistics.Shift);
            Statistics.Clear();
        }
    }

    /// <summary>A leaf's worst-explained point (objective <paramref name="value"/>), if it has one (a finite value).</summary>
    public void SetLeafCandidate(double value, ReadOnlySpan<double> point)
    {
        if (value < double.PositiveInfinity)
        {
            _values[0] = value;
            _segments[0] = First;
            point.CopyTo(_points);
            CandidateCount = 1;
        }
    }

    /// <summary>This ← this ⊕ <paramref name="right"/>, the node just after it.</summary>
    public void MergeRight(ReductionNode right, bool statistics)
    {
        if (right.First != End)
        {
            throw new InvalidOperationException($"Segments [{First}, {End}) and [{right.First}, {right.End}) are not adjacent.");
        }

        End = right.End;
        Objective += right.Objective;
        if (statistics)
        {
            Statistics.Add(right.Statistics);
        }

        // The two candidate lists, merged in order of (value, segment), the first 16 kept.
        int d = _features, i = 0, j = 0, count = 0;
        while (count < MaximumCandidates && (i < CandidateCount || j < right.CandidateCount))
        {
            bool fromLeft = j >= right.CandidateCount || (i < CandidateCount && (_values[i] < right._values[j] || (_values[i] == right._values[j] && _segments[i] < right._segments[j])));
            (double[] values, int[] segments, double[] points, int index) = fromLeft ? (_values, _segments, _points, i++) : (right._values, right._segments, right._points, j++);
            _mergedValues[count] = values[index];
            _mergedSegments[count] = segments[index];
            points.AsSpan(index * d, d).CopyTo(_mergedPoints.AsSpan(count * d, d));
            count++;
        }

        CandidateCount = count;
        _mergedValues.AsSpan(0, count).CopyTo(_values);
        _mergedSegments.AsSpan(0, count).CopyTo(_segments);
        _mergedPoints.AsSpan(0, count * d).CopyTo(_points);
    }

    /// <summary>Writes the node to <paramref name="destination"/> (at least <see cref="PackedLength"/> long); returns how many doubles.</summary>
    public int Pack(Span<double> destination, bool statistics)
    {
        destination[0] = First;
        destination[1] = End;
        destination[2] = Objective;
        destination[3] = CandidateCount;
        int at = Header;
        for (int c = 0; c < CandidateCount; c++)
        {
            destination[at++] = _values[c];
            destination[at++] = _segments[c];
            _points.AsSpan(c * _features, _features).CopyTo(destination[at..]);
            at += _features;
        }

        if (statistics)
        {
            Statistics.Values.CopyTo(destination[at..]);
            at += Statistics.Values.Length;
        }

        return at;
    }

    /// <summary>Reads a node written by <see cref="Pack"/>; returns how many doubles it took.</summary>
    public int Unpack(ReadOnlySpan<double> source, bool statistics)
    {
        First = checked((int)source[0]);
        End = checked((int)source[1]);
        Objective = source[2];
        CandidateCount = checked((int)source[3]);
        if (CandidateCount is < 0 or > MaximumCandidates || End <= First)
        {
            throw new InvalidDataException("A reduction node received is malformed.");
        }

        int at = Header;
        for (int c = 0; c < CandidateCount; c++)
        {
            _values[c] = source[at++];
            _segments[c] = checked((int)source[at++]);
            source.Slice(at, _features).CopyTo(_points.AsSpan(c * _features, _features));
            at += _features;
        }

        if (statistics)
        {
            source.Slice(at, Statistics.Values.Length).CopyTo(Statistics.Values);
            at += Statistics.Values.Length;
        }

        return at;
    }
}

/// <summary>
/// Nodes of the <see cref="SegmentTree"/> over contiguous segments, pushed left to right: two siblings on top are
/// merged at once into their parent, so the stack always holds the maximal nodes of the range pushed so far (after
/// every segment, the root). Nodes come from and go back to a pool, so a steady pass allocates nothing.
/// </summary>
internal sealed class ReductionStack(StatisticsLayout layout, int features)
{
    private readonly List<ReductionNode> _nodes = [];
    private readonly Stack<ReductionNode> _pool = new();

    public int Count => _nodes.Count;

    public ReductionNode this[int index] => _nodes[index];

    /// <summary>The number of segments of the tree (set before a pass).</summary>
    public int Segments { get; set; }

    public bool Statistics { get; set; }

    public ReductionNode Rent() => _pool.Count > 0 ? _pool.Pop() : new ReductionNode(layout, features);

    /// <summary>Gives back a node that was rented and not pushed.</summary>
    public void Return(ReductionNode node) => _pool.Push(node);

    public void Clear()
    {
        foreach (ReductionNode node in _nodes)
        {
            _pool.Push(node);
        }

        _nodes.Clear();
    }

    /// <summary>Pushes the node just right of the top one, merging siblings.</summary>
    public void Push(ReductionNode node)
    {
        if (_nodes.Count > 0 && _nodes[^1].End != node.First)
        {
            throw new InvalidOperationException($"Segment {node.First} pushed after segment {_nodes[^1].End - 1}.");
        }

        _nodes.Add(node);
        while (_nodes.Count >= 2)
        {
            ReductionNode left = _nodes[^2], right = _nodes[^1];
            if (!SegmentTree.AreSiblings(left.First, right.First, right.End, Segments))
            {
                break;
            }

            left.MergeRight(right, Statistics);
            _nodes.RemoveAt(_nodes.Count - 1);
            _pool.Push(right);
        }
    }

    /// <summary>Packs every node after a header [count, packed length]; returns the doubles written.</summary>
    public int Pack(Span<double> destination)
    {
        destination[0] = _nodes.Count;
        int at = 2;
        foreach (ReductionNode node in _nodes)
        {
            at += node.Pack(destination[at..], Statistics);
        }

        destination[1] = at;
        return at;
    }

    /// <summary>Pushes, in order, the nodes packed by another stack's <see cref="Pack"/>.</summary>
    public void PushPacked(ReadOnlySpan<double> source)
    {
        int count = checked((int)source[0]);
        int at = 2;
        for (int i = 0; i < count; i++)
        {
            ReductionNode node = Rent();
            at += node.Unpack(source[at..], Statistics);
            Push(node);
        }
    }

    /// <summary>The most doubles <see cref="Pack"/> may need: a header and 2 ⌈log₂ S⌉ + 2 nodes.</summary>
    public int MaximumPackedLength()
    {
        int depth = 2 * (BitOperations.Log2(BitOperations.RoundUpToPowerOf2((uint)Math.Max(Segments, 1))) + 1);
        return 2 + depth * ReductionNode.PackedLengthOf(layout, features);
    }
}

/// <summary>
/// How the processes of a distributed fit share a pass: each computes a contiguous range of the segments, and the
/// exchange brings every process the root of the <see cref="SegmentTree"/> (bitwise what one process computes).
/// </summary>
internal interface IPassExchange
{
    /// <summary>This process's rank.</summary>
    int Rank { get; }

    /// <summary>The number of processes.</summary>
    int Size { get; }

    /// <summary>Every process gets <paramref name="values"/> as process <paramref name="root"/> holds them.</summary>
    void Broadcast(Span<double> values, int root);

    /// <summary>This process's segments [First, End) of <paramref name="segments"/>.</summary>
    (int First, int End) Segments(int segments);

    /// <summary>
    /// From this process's maximal nodes on <paramref name="stack"/>, leaves exactly the root on it on every process;
    /// throws on every process (naming the process) if any reports a <paramref name="failure"/>.
    /// </summary>
    void Combine(ReductionStack stack, Exception? failure);
}
