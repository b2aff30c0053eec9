using System.Numerics;
using EmKernels.Kernels;
using EmKernels.Kernels.Common;

namespace EmKernels;

/// <summary>
/// Points × features data stored feature-major (structure of arrays): feature d of all points is
/// contiguous, point n of feature d at <c>d · <see cref="Stride"/> + n</c>. This is the layout every
/// kernel reads, so reductions over points are plain vector loads. Build one once per fit from what
/// the caller holds (row-major span, <c>T[,]</c> or <c>T[][]</c>); the caller's data is only read.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
/// <remarks>
/// <see cref="Stride"/> is <see cref="Points"/> rounded up to an odd number of 64-byte cache lines, so
/// that the same point of consecutive features never lands in the same L1 cache set (with a stride
/// that is a multiple of 4 KiB, reading one point's D features thrashes a 12-way L1: measured 5×
/// slower). Padding elements are zero and are never read by the kernels. The buffer is pinned and
/// starts on a 64-byte boundary, so every feature starts on a cache line and whole-vector loads of an
/// aligned tile never straddle two lines.
/// </remarks>
public sealed class FeatureMajorMatrix<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly T[] _buffer;
    private readonly int _offset;

    /// <summary>Creates a zero-filled matrix.</summary>
    /// <param name="points">N, the number of points (≥ 0).</param>
    /// <param name="features">D, the number of features (≥ 1).</param>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range, or the buffer would exceed the largest array.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    public FeatureMajorMatrix(int points, int features)
    {
        Shape.CheckElementType<T>();
        Shape.NonNegative(points, nameof(points));
        Shape.Positive(features, nameof(features));
        long stride = PaddedStride(points);
        long length = stride * features;
        if (length > Array.MaxLength)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(points), points, $"{points} points × {features} features exceed the largest array.");
        }

        Points = points;
        Features = features;
        Stride = (int)stride;
        _buffer = Aligned.Allocate<T>((int)length, out _offset);
    }

    /// <summary>N, the number of points.</summary>
    public int Points { get; }

    /// <summary>D, the number of features.</summary>
    public int Features { get; }

    /// <summary>Distance in elements between consecutive features: ≥ <see cref="Points"/>, an odd number of 64-byte lines.</summary>
    public int Stride { get; }

    /// <summary>The whole buffer, <see cref="Features"/> × <see cref="Stride"/> elements.</summary>
    public ReadOnlySpan<T> Values => All;

    private Span<T> All => _buffer.AsSpan(_offset, Features * Stride);

    /// <summary>The whole buffer, writable: for the library's own buffers (stepwise EM's minibatches).</summary>
    internal Span<T> Writable => All;

    /// <summary>Gets or sets feature <paramref name="feature"/> of point <paramref name="point"/>.</summary>
    /// <param name="point">0 ≤ point &lt; <see cref="Points"/>.</param>
    /// <param name="feature">0 ≤ feature &lt; <see cref="Features"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">An index is out of range.</exception>
    public T this[int point, int feature]
    {
        get => _buffer[_offset + Index(point, feature)];
        set => _buffer[_offset + Index(point, feature)] = value;
    }

    /// <summary>The <see cref="Points"/> values of one feature, writable.</summary>
    /// <param name="feature">0 ≤ feature &lt; <see cref="Features"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="feature"/> is out of range.</exception>
    public Span<T> Feature(int feature)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(feature);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(feature, Features);
        return All.Slice(feature * Stride, Points);
    }

    /// <summary>
    /// The tile of points [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>) as the kernels take it:
    /// a span starting at feature 0 of point <paramref name="start"/>, with stride <see cref="Stride"/>.
    /// </summary>
    /// <param name="start">First point of the tile.</param>
    /// <param name="count">Number of points in the tile.</param>
    /// <exception cref="ArgumentOutOfRangeException">The range is not inside [0, <see cref="Points"/>].</exception>
    public ReadOnlySpan<T> Tile(int start, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Points - start);
        if (count == 0)
        {
            return [];
        }

        return All.Slice(start, (Features - 1) * Stride + count);
    }

    /// <summary>Converts row-major data (point n, feature d at <c>n · features + d</c>).</summary>
    /// <param name="values">N × D values, row-major.</param>
    /// <param name="points">N (≥ 0).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <returns>A new feature-major copy.</returns>
    /// <exception cref="ArgumentException"><paramref name="values"/> does not hold exactly N × D values.</exception>
    public static FeatureMajorMatrix<T> FromRowMajor(ReadOnlySpan<T> values, int points, int features)
    {
        Shape.NonNegative(points, nameof(points));
        Shape.Positive(features, nameof(features));
        Shape.Exact(values.Length, points, features, nameof(values), "points × features, row-major");
        var matrix = new FeatureMajorMatrix<T>(points, features);

        int[] columns = new int[features];
        for (int d = 0; d < features; d++)
        {
            columns[d] = d;
        }

        LayoutKernels.RowMajorToFeatureMajor<T, T>(values, points, features, columns, matrix.All, matrix.Stride);
        return matrix;
    }

    /// <summary>Converts a two-dimensional array indexed [point, feature].</summary>
    /// <param name="values">N × D values; D ≥ 1.</param>
    /// <returns>A new feature-major copy.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="values"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="values"/> has no columns.</exception>
    public static FeatureMajorMatrix<T> From(T[,] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        int points = values.GetLength(0);
        int features = values.GetLength(1);
        if (features < 1)
        {
            ThrowHelper.ThrowArgument(nameof(values), "The array has no columns (features).");
        }

        var matrix = new FeatureMajorMatrix<T>(points, features);
        for (int d = 0; d < features; d++)
        {
            Span<T> column = matrix.Feature(d);
            for (int n = 0; n < points; n++)
            {
                column[n] = values[n, d];
            }
        }

        return matrix;
    }

    /// <summary>Converts a jagged array of points, each an array of D features.</summary>
    /// <param name="values">N rows of equal length D ≥ 1.</param>
    /// <returns>A new feature-major copy.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="values"/> or one of its rows is null.</exception>
    /// <exception cref="ArgumentException">Rows differ in length, or there are no features.</exception>
    public static FeatureMajorMatrix<T> From(T[][] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Length == 0)
        {
            ThrowHelper.ThrowArgument(nameof(values), "There are no rows, so the number of features is unknown.");
        }

        int features = RowLength(values, 0);
        if (features < 1)
        {
            ThrowHelper.ThrowArgument(nameof(values), "Row 0 has no features.");
        }

        var matrix = new FeatureMajorMatrix<T>(values.Length, features);
        Span<T> target = matrix.All;
        int stride = matrix.Stride;
        for (int n = 0; n < values.Length; n++)
        {
            if (RowLength(values, n) != features)
            {
                ThrowHelper.ThrowArgument(nameof(values), $"Row {n} has {values[n].Length} features; row 0 has {features}.");
            }

            T[] row = values[n];
            for (int d = 0; d < features; d++)
            {
                target[d * stride + n] = row[d];
            }
        }

        return matrix;
    }

    /// <summary>Copies the data back out row-major (point n, feature d at <c>n · D + d</c>).</summary>
    /// <param name="destination">N × D values.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> does not hold exactly N × D values.</exception>
    public void CopyToRowMajor(Span<T> destination)
    {
        Shape.Exact(destination.Length, Points, Features, nameof(destination), "points × features, row-major");
        for (int d = 0; d < Features; d++)
        {
            ReadOnlySpan<T> column = All.Slice(d * Stride, Points);
            for (int n = 0; n < Points; n++)
            {
                destination[n * Features + d] = column[n];
            }
        }
    }

    /// <summary>Points rounded up to an odd number of cache lines (see the remarks on the type).</summary>
    private static long PaddedStride(int points)
    {
        int lane = 64 / System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        long lines = ((long)points + lane - 1) / lane;
        if (lines % 2 == 0 && lines > 0)
        {
            lines++;
        }

        return lines * lane;
    }

    private static int RowLength(T[][] values, int row)
    {
        if (values[row] is null)
        {
            throw new ArgumentNullException(nameof(values), $"Row {row} is null.");
        }

        return values[row].Length;
    }

    private int Index(int point, int feature)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(point);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(point, Points);
        ArgumentOutOfRangeException.ThrowIfNegative(feature);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(feature, Features);
        return feature * Stride + point;
    }
}
