namespace EmKernels.Engine;

/// <summary>One named block of a <see cref="StatisticsLayout"/>.</summary>
/// <param name="Name">What the block holds, for messages and documentation (for example <c>mass</c>, <c>first-moments</c>).</param>
/// <param name="Length">How many doubles it holds (≥ 0).</param>
/// <param name="IsShift">
/// Whether the block is (part of) the shift the moments are taken about. A shift is not a sum: it is
/// neither added, scaled nor interpolated, and statistics merge only when their shifts are equal.
/// </param>
public readonly record struct StatisticsBlock(string Name, int Length, bool IsShift = false);

/// <summary>
/// The flat layout of a model's <see cref="SufficientStatistics"/>: an ordered list of blocks of doubles,
/// shift blocks first. Two layouts are equal when their kinds and blocks are equal; statistics of equal
/// layouts can be merged, and serialized statistics are read back only into an equal layout.
/// </summary>
/// <remarks>
/// The shift blocks come first so that everything after them (the sums: masses, moments) is one
/// contiguous span, which <see cref="SufficientStatistics.Add"/>, <see cref="SufficientStatistics.Scale"/> and
/// <see cref="SufficientStatistics.Lerp"/> treat with one vectorized call each.
/// </remarks>
public sealed class StatisticsLayout : IEquatable<StatisticsLayout>
{
    private readonly StatisticsBlock[] _blocks;
    private readonly int[] _offsets;

    /// <summary>Creates a layout.</summary>
    /// <param name="kind">Names the model and the version of its layout (for example <c>gaussian-full/1</c>); part of the serialized form.</param>
    /// <param name="blocks">The blocks in order; shift blocks must come before all others.</param>
    /// <exception cref="ArgumentException">The kind is empty, a block has a negative length or an empty name, or a shift block follows a sum block.</exception>
    public StatisticsLayout(string kind, params StatisticsBlock[] blocks)
    {
        ArgumentException.ThrowIfNullOrEmpty(kind);
        ArgumentNullException.ThrowIfNull(blocks);
        _blocks = (StatisticsBlock[])blocks.Clone();
        _offsets = new int[_blocks.Length + 1];
        bool sums = false;
        for (int i = 0; i < _blocks.Length; i++)
        {
            StatisticsBlock block = _blocks[i];
            if (string.IsNullOrEmpty(block.Name))
            {
                throw new ArgumentException($"Block {i} has no name.", nameof(blocks));
            }

            if (block.Length < 0)
            {
                throw new ArgumentException($"Block {i} ('{block.Name}') has length {block.Length}.", nameof(blocks));
            }

            if (block.IsShift && sums)
            {
                throw new ArgumentException($"Block {i} ('{block.Name}') is a shift after a block of sums; shift blocks come first.", nameof(blocks));
            }

            sums |= !block.IsShift;
            _offsets[i + 1] = checked(_offsets[i] + block.Length);
            if (block.IsShift)
            {
                ShiftLength = _offsets[i + 1];
            }
        }

        Kind = kind;
        Length = _offsets[^1];
    }

    /// <summary>The model and layout version these statistics belong to.</summary>
    public string Kind { get; }

    /// <summary>The blocks, in order.</summary>
    public IReadOnlyList<StatisticsBlock> Blocks => _blocks;

    /// <summary>Total number of doubles.</summary>
    public int Length { get; }

    /// <summary>Number of doubles in the leading shift blocks.</summary>
    public int ShiftLength { get; }

    /// <summary>Where block <paramref name="index"/> starts in the flat values.</summary>
    /// <param name="index">0 ≤ index &lt; number of blocks.</param>
    /// <returns>The offset in doubles.</returns>
    public int Offset(int index) => _offsets[index];

    /// <inheritdoc/>
    public bool Equals(StatisticsLayout? other) =>
        other is not null && (ReferenceEquals(this, other) || (Kind == other.Kind && _blocks.AsSpan().SequenceEqual(other._blocks)));

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as StatisticsLayout);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Kind, Length, _blocks.Length);

    /// <inheritdoc/>
    public override string ToString() => $"{Kind} [{string.Join(", ", _blocks.Select(b => $"{b.Name}{(b.IsShift ? " (shift)" : "")}: {b.Length}"))}]";
}
