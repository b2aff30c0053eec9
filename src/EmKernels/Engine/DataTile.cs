using System.Numerics;

namespace EmKernels.Engine;

/// <summary>
/// A tile of points as a model's E-step sees them: feature-major values (feature d of point i at
/// <c>d · <see cref="Stride"/> + i</c>), the points' optional sample weights and known components, and
/// where the tile starts in the whole data set. Tiles hold a few hundred points, so that a model's
/// per-tile work (K × B log-probabilities, say) stays in cache between its steps.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public readonly ref struct DataTile<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Creates a tile over existing buffers (nothing is copied).</summary>
    /// <param name="values">Feature-major values: at least (D − 1) · stride + B of them.</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="points">B (≥ 0).</param>
    /// <param name="stride">Distance between features (≥ B).</param>
    /// <param name="start">Global index of the tile's first point (≥ 0).</param>
    /// <param name="sampleWeights">Empty (every weight 1) or B non-negative weights.</param>
    /// <param name="labels">Empty (no component known) or B values: a known component index, or −1 where unknown.</param>
    /// <exception cref="ArgumentException">A length does not fit the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range.</exception>
    public DataTile(ReadOnlySpan<T> values, int features, int points, int stride, long start, ReadOnlySpan<T> sampleWeights = default, ReadOnlySpan<int> labels = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(points);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, points);
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        if (points > 0 && values.Length < (long)(features - 1) * stride + points)
        {
            throw new ArgumentException($"A tile of {points} points × {features} features with stride {stride} needs {(long)(features - 1) * stride + points} values, got {values.Length}.", nameof(values));
        }

        if (!sampleWeights.IsEmpty && sampleWeights.Length != points)
        {
            throw new ArgumentException($"Expected {points} sample weights (or none), got {sampleWeights.Length}.", nameof(sampleWeights));
        }

        if (!labels.IsEmpty && labels.Length != points)
        {
            throw new ArgumentException($"Expected {points} labels (or none), got {labels.Length}.", nameof(labels));
        }

        Values = points == 0 ? default : values;
        Features = features;
        Points = points;
        Stride = stride;
        Start = start;
        SampleWeights = sampleWeights;
        Labels = labels;
    }

    /// <summary>The feature-major values: feature d of point i at <c>d · Stride + i</c>.</summary>
    public ReadOnlySpan<T> Values { get; }

    /// <summary>D.</summary>
    public int Features { get; }

    /// <summary>B, the number of points in the tile.</summary>
    public int Points { get; }

    /// <summary>Distance between features in <see cref="Values"/>.</summary>
    public int Stride { get; }

    /// <summary>Global index of the first point.</summary>
    public long Start { get; }

    /// <summary>Empty (every weight is 1) or one non-negative weight per point: a point of weight w counts as w copies of it.</summary>
    public ReadOnlySpan<T> SampleWeights { get; }

    /// <summary>Empty, or per point the component it is known to come from (−1: unknown): semi-supervised fitting.</summary>
    public ReadOnlySpan<int> Labels { get; }

    /// <summary>
    /// For models that use sequences (<see cref="IExpectationMaximizationModel{T}.UsesSequences"/>): the lengths of the
    /// whole sequences this tile holds, in order, summing to <see cref="Points"/>; empty otherwise (and in a
    /// <see cref="Slice"/>).
    /// </summary>
    public ReadOnlySpan<int> SequenceLengths { get; init; }

    /// <summary>This tile as the whole sequences of the given lengths.</summary>
    /// <param name="lengths">Lengths ≥ 1 summing to <see cref="Points"/>.</param>
    /// <returns>The tile with <see cref="SequenceLengths"/> set.</returns>
    /// <exception cref="ArgumentException">The lengths do not sum to the tile's points.</exception>
    public DataTile<T> WithSequences(ReadOnlySpan<int> lengths)
    {
        long total = 0;
        foreach (int length in lengths)
        {
            if (length < 1)
            {
                throw new ArgumentException("Every sequence length must be at least 1.", nameof(lengths));
            }

            total += length;
        }

        if (total != Points)
        {
            throw new ArgumentException($"The sequence lengths sum to {total}; the tile has {Points} points.", nameof(lengths));
        }

        return this with { SequenceLengths = lengths };
    }

    /// <summary>Feature <paramref name="feature"/> of point <paramref name="point"/>.</summary>
    /// <param name="point">0 ≤ point &lt; B.</param>
    /// <param name="feature">0 ≤ feature &lt; D.</param>
    public T this[int point, int feature] => Values[feature * Stride + point];

    /// <summary>The B values of one feature.</summary>
    /// <param name="feature">0 ≤ feature &lt; D.</param>
    /// <returns>A span of B values.</returns>
    public ReadOnlySpan<T> Feature(int feature) => Points == 0 ? default : Values.Slice(feature * Stride, Points);

    /// <summary>The sample weight of a point (1 when the tile has none).</summary>
    /// <param name="point">0 ≤ point &lt; B.</param>
    /// <returns>w_i.</returns>
    public T Weight(int point) => SampleWeights.IsEmpty ? T.One : SampleWeights[point];

    /// <summary>The points [<paramref name="first"/>, <paramref name="first"/> + <paramref name="count"/>) of this tile as a tile of their own.</summary>
    /// <param name="first">First point, relative to this tile.</param>
    /// <param name="count">Number of points.</param>
    /// <returns>The sub-tile.</returns>
    public DataTile<T> Slice(int first, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(first);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Points - first);
        return new DataTile<T>(
            count == 0 ? default : Values[first..],
            Features,
            count,
            Stride,
            Start + first,
            SampleWeights.IsEmpty ? default : SampleWeights.Slice(first, count),
            Labels.IsEmpty ? default : Labels.Slice(first, count));
    }
}

/// <summary>Receives the tiles of a pass over the data, in order.</summary>
/// <typeparam name="T">float or double.</typeparam>
/// <param name="tile">The tile.</param>
public delegate void TileAction<T>(in DataTile<T> tile)
    where T : unmanaged, IBinaryFloatingPointIeee754<T>;

/// <summary>Adds a tile's contribution to a segment's statistics (<see cref="ModelInitialization{T}.Sum"/>).</summary>
/// <typeparam name="T">float or double.</typeparam>
/// <param name="tile">The tile.</param>
/// <param name="statistics">The statistics of the tile's segment, to add to.</param>
public delegate void TileStatistics<T>(in DataTile<T> tile, SufficientStatistics statistics)
    where T : unmanaged, IBinaryFloatingPointIeee754<T>;
