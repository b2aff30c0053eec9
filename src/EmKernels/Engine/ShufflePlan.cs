namespace EmKernels.Engine;

/// <summary>
/// The order in which stepwise EM visits the points in each epoch, as a function of (seed, epoch) alone,
/// so that a resumed fit continues exactly where it stopped and streamed data are visited in the same
/// order as data in memory. The points are cut into blocks of <see cref="BlockPoints"/> consecutive
/// points; an epoch visits the blocks in a random order, a window of blocks at a time, and the points of
/// a window in a random order. When all the data fit in one window (up to <see cref="WindowPoints"/>
/// points) that is a uniform random permutation; beyond, it is the usual shuffle buffer of streaming
/// trainers, with memory independent of N. Without shuffling, points are visited in order.
/// </summary>
internal sealed class ShufflePlan
{
    public const int BlockPoints = 4096;

    private readonly long _points;
    private readonly ulong _seed;
    private readonly bool _shuffle;
    private readonly long _blocks;
    private readonly int _blocksPerWindow;

    public ShufflePlan(long points, int windowPoints, ulong seed, bool shuffle)
    {
        _points = points;
        _seed = seed;
        _shuffle = shuffle;
        _blocks = (points + BlockPoints - 1) / BlockPoints;
        _blocksPerWindow = Math.Max(1, windowPoints / BlockPoints);
        WindowPoints = _blocksPerWindow * BlockPoints;
    }

    /// <summary>Most points one window holds.</summary>
    public int WindowPoints { get; }

    /// <summary>Windows per epoch.</summary>
    public long Windows => (_blocks + _blocksPerWindow - 1) / _blocksPerWindow;

    /// <summary>The block order of an epoch: a permutation of 0 … blocks − 1.</summary>
    public long[] BlockOrder(int epoch)
    {
        long[] order = new long[_blocks];
        for (long b = 0; b < _blocks; b++)
        {
            order[b] = b;
        }

        if (_shuffle)
        {
            var random = new SplitMix64(Mix(_seed, (ulong)epoch, 0));
            for (long i = _blocks - 1; i > 0; i--)
            {
                long j = (long)random.Next((ulong)i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
        }

        return order;
    }

    /// <summary>The blocks of window <paramref name="window"/> of an epoch (from <see cref="BlockOrder"/>), and how many points they hold.</summary>
    public ReadOnlySpan<long> WindowBlocks(long[] order, long window, out int points)
    {
        long first = window * _blocksPerWindow;
        int count = (int)Math.Min(_blocksPerWindow, _blocks - first);
        ReadOnlySpan<long> blocks = order.AsSpan((int)first, count);
        points = 0;
        foreach (long block in blocks)
        {
            points += BlockLength(block);
        }

        return blocks;
    }

    /// <summary>Points in block <paramref name="block"/> (the last may be short).</summary>
    public int BlockLength(long block) => (int)Math.Min(BlockPoints, _points - block * BlockPoints);

    /// <summary>The order in which the points loaded for a window are visited: <paramref name="order"/> becomes a permutation of its indices.</summary>
    public void WindowOrder(int epoch, long window, Span<int> order)
    {
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        if (_shuffle)
        {
            var random = new SplitMix64(Mix(_seed, (ulong)epoch, (ulong)window + 1));
            for (int i = order.Length - 1; i > 0; i--)
            {
                int j = (int)random.Next((ulong)i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
        }
    }

    private static ulong Mix(ulong seed, ulong epoch, ulong window)
    {
        var random = new SplitMix64(seed ^ 0x9E3779B97F4A7C15UL);
        ulong a = random.NextRaw() ^ epoch;
        var second = new SplitMix64(a);
        return second.NextRaw() ^ (window * 0xBF58476D1CE4E5B9UL);
    }

    /// <summary>SplitMix64 (Steele, Lea and Flood 2014): a tiny generator whose whole state is one number.</summary>
    private struct SplitMix64(ulong state)
    {
        private ulong _state = state;

        public ulong NextRaw()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        /// <summary>Uniform in [0, bound) without modulo bias (rejection).</summary>
        public ulong Next(ulong bound)
        {
            ulong limit = ulong.MaxValue - ulong.MaxValue % bound;
            ulong value;
            do
            {
                value = NextRaw();
            }
            while (value >= limit);
            return value % bound;
        }
    }
}
