using System.Runtime.CompilerServices;
using System.Numerics;
using EmKernels.Kernels.Common;

namespace EmKernels.Engine;

/// <summary>
/// Where a driver's points come from: a fixed number of points of D features, read in chunks by global
/// index, in any order and from several threads at once. <see cref="InMemoryDataSource{T}"/> holds them
/// in memory; file sources (EmKernels.IO: .npy, CSV, Parquet) read them on demand, so that a fit's memory
/// does not grow with the number of points. The values read are the user's; the drivers centre them.
/// </summary>
/// <typeparam name="T">float or double: the type the points are delivered in.</typeparam>
public abstract class DataSource<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>N, the number of points.</summary>
    public abstract long Points { get; }

    /// <summary>D, the number of features.</summary>
    public abstract int Features { get; }

    /// <summary>Whether the points carry sample weights (otherwise every weight is 1).</summary>
    public virtual bool HasSampleWeights => false;

    /// <summary>Whether the points carry known components (semi-supervised fitting).</summary>
    public virtual bool HasLabels => false;

    /// <summary>A name for messages (a file name, "data").</summary>
    public virtual string Name => "data";

    /// <summary>
    /// How many points a streamed read should cover (rounded up to a multiple of the drivers' tile), or
    /// null for the drivers' default (about 4 MiB of values per worker). Results never depend on it.
    /// </summary>
    public virtual int? PreferredChunkPoints => null;

    /// <summary>
    /// The lengths of the observation sequences the points form, in order (they sum to <see cref="Points"/>), for
    /// models whose points are not independent (hidden Markov models: <see cref="IExpectationMaximizationModel{T}.UsesSequences"/>);
    /// empty when the points are independent or form one sequence. <see cref="SequenceDataSource{T}"/> gives any source lengths.
    /// </summary>
    public virtual ReadOnlyMemory<int> SequenceLengths => default;

    /// <summary>
    /// Reads points [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>) into
    /// <paramref name="values"/>, feature-major: feature d of point start + i at <c>d · stride + i</c>.
    /// Must be safe to call from several threads at once for disjoint destinations.
    /// </summary>
    /// <param name="start">First point (0 ≤ start, start + count ≤ N).</param>
    /// <param name="count">Number of points (≥ 0).</param>
    /// <param name="values">At least (D − 1) · stride + count elements.</param>
    /// <param name="stride">Distance between features in <paramref name="values"/> (≥ count).</param>
    /// <param name="sampleWeights">count outputs when <see cref="HasSampleWeights"/>, else empty.</param>
    /// <param name="labels">count outputs (−1: unknown) when <see cref="HasLabels"/>, else empty.</param>
    /// <exception cref="ArgumentException">The data at the range are malformed (the message names where).</exception>
    public abstract void Read(long start, int count, Span<T> values, int stride, Span<T> sampleWeights, Span<int> labels);

    /// <summary>Checks a read range and the destination sizes, naming the argument.</summary>
    /// <param name="start">First point.</param>
    /// <param name="count">Number of points.</param>
    /// <param name="values">Destination of the values.</param>
    /// <param name="stride">Distance between features.</param>
    /// <param name="sampleWeights">Destination of the weights.</param>
    /// <param name="labels">Destination of the labels.</param>
    protected void CheckRead(long start, int count, Span<T> values, int stride, Span<T> sampleWeights, Span<int> labels)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(start + count, Points, nameof(count));
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, count);
        if (count > 0 && values.Length < (long)(Features - 1) * stride + count)
        {
            throw new ArgumentException($"{count} points × {Features} features with stride {stride} need {(long)(Features - 1) * stride + count} values.", nameof(values));
        }

        if (HasSampleWeights && sampleWeights.Length < count)
        {
            throw new ArgumentException($"Expected room for {count} sample weights.", nameof(sampleWeights));
        }

        if (HasLabels && labels.Length < count)
        {
            throw new ArgumentException($"Expected room for {count} labels.", nameof(labels));
        }
    }
}

/// <summary>
/// Points held in memory, feature-major (<see cref="FeatureMajorMatrix{T}"/>), with optional sample
/// weights and known components. The source keeps its own copy of what it is given; a fit of a
/// translation-equivariant model centres that copy in place once (so it needs no second copy) and
/// remembers the centre, so the source can be fitted again.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class InMemoryDataSource<T> : DataSource<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly FeatureMajorMatrix<T> _matrix;
    private readonly T[]? _weights;
    private readonly int[]? _labels;
    private readonly bool _owned;
    private double[]? _centre;
    private int _scaleExponent;

    // A caller's source: its last framed copy, shared by the fits of it in the same frame (a model selection's candidates,
    // side by side) while any of them holds it; weak, so the source keeps no second copy of the data alive after its fits.
    private readonly object _framing = new();
    private (double[]? Centre, int ScaleExponent, WeakReference<FeatureMajorMatrix<T>> Copy)? _framed;

    /// <summary>Copies row-major data (point n, feature d at <c>n · features + d</c>).</summary>
    /// <param name="data">N × D values.</param>
    /// <param name="points">N (≥ 0).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="sampleWeights">Empty, or N finite non-negative weights, not all zero.</param>
    /// <param name="labels">Empty, or N known components (−1 where unknown); checked against K by the model.</param>
    /// <exception cref="ArgumentException">A length does not match, or a weight is invalid (the message says which).</exception>
    public InMemoryDataSource(ReadOnlySpan<T> data, int points, int features, ReadOnlySpan<T> sampleWeights = default, ReadOnlySpan<int> labels = default)
        : this(FeatureMajorMatrix<T>.FromRowMajor(data, points, features), sampleWeights, labels, copy: false)
    {
        _owned = false; // the caller holds this source and may fit it again: centre copies of it
    }

    /// <summary>Copies a feature-major matrix.</summary>
    /// <param name="data">The points; only read.</param>
    /// <param name="sampleWeights">Empty, or N finite non-negative weights, not all zero.</param>
    /// <param name="labels">Empty, or N known components (−1 where unknown).</param>
    /// <exception cref="ArgumentException">A length does not match, or a weight is invalid.</exception>
    public InMemoryDataSource(FeatureMajorMatrix<T> data, ReadOnlySpan<T> sampleWeights = default, ReadOnlySpan<int> labels = default)
        : this(data, sampleWeights, labels, copy: true)
    {
    }

    private InMemoryDataSource(FeatureMajorMatrix<T> data, ReadOnlySpan<T> sampleWeights, ReadOnlySpan<int> labels, bool copy)
    {
        ArgumentNullException.ThrowIfNull(data);
        _matrix = copy ? Copy(data) : data;
        _owned = !copy;
        _weights = CheckWeights(sampleWeights, data.Points);
        if (!labels.IsEmpty)
        {
            if (labels.Length != data.Points)
            {
                throw new ArgumentException($"There are {labels.Length} labels for {data.Points} points.", nameof(labels));
            }

            for (int i = 0; i < labels.Length; i++)
            {
                if (labels[i] < -1)
                {
                    throw new ArgumentException($"Label {i} is {labels[i]}; a label is a component index, or −1 where unknown.", nameof(labels));
                }
            }

            _labels = labels.ToArray();
        }
    }

    /// <summary>
    /// A buffer the library fills itself (stepwise EM's minibatches, already in the fit's frame): the arrays
    /// are used as they are, without checks or copies, and never centred.
    /// </summary>
    internal static InMemoryDataSource<T> Buffer(FeatureMajorMatrix<T> matrix, T[]? sampleWeights, int[]? labels) => new(matrix, sampleWeights, labels);

    private InMemoryDataSource(FeatureMajorMatrix<T> matrix, T[]? sampleWeights, int[]? labels)
    {
        _matrix = matrix;
        _weights = sampleWeights;
        _labels = labels;
        _owned = false;
    }

    /// <summary>
    /// Reads every point of <paramref name="source"/> (a file, say) into memory: one feature-major copy in
    /// <typeparamref name="T"/>, with its sample weights and labels, and no other. The source holds the only copy,
    /// so a fit centres it in place rather than copying it again: the values <see cref="Read"/> returns after a fit
    /// are the originals to within the rounding of subtracting and adding the centre, and a later fit sees those.
    /// </summary>
    /// <param name="source">The points; read once, in chunks.</param>
    /// <param name="cancellationToken">Stops the reading.</param>
    /// <returns>The points in memory.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="source"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The points do not fit one array (N × D beyond <see cref="Array.MaxLength"/>): stream them instead.</exception>
    public static InMemoryDataSource<T> Load(DataSource<T> source, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.Points > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(source), source.Points, $"{source.Points} points are more than one array holds; stream them.");
        }

        int n = (int)source.Points, d = source.Features;
        var matrix = new FeatureMajorMatrix<T>(n, d);
        T[]? weights = source.HasSampleWeights ? new T[n] : null;
        int[]? labels = source.HasLabels ? new int[n] : null;
        int chunk = source.PreferredChunkPoints ?? Math.Max(1, (1 << 18) / (d * System.Runtime.CompilerServices.Unsafe.SizeOf<T>()));
        chunk = Math.Clamp(chunk, 1, Math.Max(1, n));
        T[] buffer = new T[(long)chunk * d];
        Span<T> all = matrix.Writable;
        for (int start = 0; start < n; start += chunk)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = Math.Min(chunk, n - start);
            source.Read(start, count, buffer, count, weights is null ? default : weights.AsSpan(start, count), labels is null ? default : labels.AsSpan(start, count));
            for (int j = 0; j < d; j++)
            {
                buffer.AsSpan(j * count, count).CopyTo(all.Slice(j * matrix.Stride + start, count));
            }
        }

        return new InMemoryDataSource<T>(matrix, weights, labels, copy: false);
    }

    /// <summary>Takes ownership of <paramref name="matrix"/> (no copy): for the estimators, which convert the caller's data once.</summary>
    internal static InMemoryDataSource<T> Own(FeatureMajorMatrix<T> matrix, ReadOnlySpan<T> sampleWeights, ReadOnlySpan<int> labels = default) =>
        new(matrix, sampleWeights, labels, copy: false);

    /// <inheritdoc/>
    public override long Points => _matrix.Points;

    /// <inheritdoc/>
    public override int Features => _matrix.Features;

    /// <inheritdoc/>
    public override bool HasSampleWeights => _weights is not null;

    /// <inheritdoc/>
    public override bool HasLabels => _labels is not null;

    /// <summary>The sample weights, or null.</summary>
    internal T[]? SampleWeights => _weights;

    /// <summary>Whether the only copy has been moved into a fit's frame (<see cref="Read"/> then moves values back).</summary>
    internal bool IsTransformed => _owned && (_centre is not null || _scaleExponent != 0);

    /// <summary>The labels, or null.</summary>
    internal int[]? Labels => _labels;

    /// <inheritdoc/>
    public override void Read(long start, int count, Span<T> values, int stride, Span<T> sampleWeights, Span<int> labels)
    {
        CheckRead(start, count, values, stride, sampleWeights, labels);
        int first = (int)start;
        (T up1, T up2) = Frames.Factors<T>(_scaleExponent);
        for (int d = 0; d < Features; d++)
        {
            ReadOnlySpan<T> feature = _matrix.Feature(d).Slice(first, count);
            Span<T> target = values.Slice(d * stride, count);
            feature.CopyTo(target);
            if (_centre is not null || _scaleExponent != 0)
            {
                T shift = _centre is null ? T.Zero : T.CreateTruncating(_centre[d]);
                for (int i = 0; i < count; i++)
                {
                    target[i] = target[i] * up1 * up2 + shift; // the user's values, as near as the transformed copy allows
                }
            }
        }

        _weights?.AsSpan(first, count).CopyTo(sampleWeights);
        _labels?.AsSpan(first, count).CopyTo(labels);
    }

    /// <summary>
    /// The points in a fit's frame — centred about <paramref name="centre"/> (null: not centred) and divided by
    /// 2^<paramref name="scaleExponent"/>, as x·2^−s − c·2^−s in T — for a fit. A source the library made from the
    /// caller's arrays, or loaded itself (<see cref="Load"/>), is transformed in place; a source the caller made
    /// is copied first, so that it stays as it was and every fit of it starts from the same values.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal FeatureMajorMatrix<T> Centred(double[]? centre, int scaleExponent = 0)
    {
        if (centre is null && scaleExponent == 0 && !IsTransformed)
        {
            return _matrix;
        }

        if (_owned && (_centre is not null || _scaleExponent != 0))
        {
            if ((_centre ?? []).AsSpan().SequenceEqual(centre ?? []) && _scaleExponent == scaleExponent)
            {
                return _matrix;
            }

            // A second fit in another frame: back to the user's values (as near as the transformed copy
            // allows), then into the new frame (see Load).
            (T up1, T up2) = Frames.Factors<T>(_scaleExponent);
            for (int d = 0; d < Features; d++)
            {
                T shift = _centre is null ? T.Zero : T.CreateTruncating(_centre[d]);
                foreach (ref T value in _matrix.Feature(d))
                {
                    value = value * up1 * up2 + shift;
                }
            }

            _centre = null;
            _scaleExponent = 0;
        }

        if (!_owned)
        {
            lock (_framing)
            {
                if (_framed is { } framed && framed.ScaleExponent == scaleExponent && (framed.Centre ?? []).AsSpan().SequenceEqual(centre ?? [])
                    && framed.Copy.TryGetTarget(out FeatureMajorMatrix<T>? shared))
                {
                    return shared;
                }
            }
        }

        FeatureMajorMatrix<T> target = _owned ? _matrix : Copy(_matrix);
        (T down1, T down2) = Frames.Factors<T>(-scaleExponent);
        for (int d = 0; d < Features; d++)
        {
            T shift = (centre is null ? T.Zero : T.CreateTruncating(centre[d])) * down1 * down2;
            Span<T> feature = target.Feature(d);
            if (scaleExponent == 0)
            {
                foreach (ref T value in feature)
                {
                    value -= shift;
                }
            }
            else
            {
                foreach (ref T value in feature)
                {
                    value = value * down1 * down2 - shift;
                }
            }
        }

        if (_owned)
        {
            _centre = (double[]?)centre?.Clone();
            _scaleExponent = scaleExponent;
        }
        else
        {
            lock (_framing)
            {
                _framed = ((double[]?)centre?.Clone(), scaleExponent, new WeakReference<FeatureMajorMatrix<T>>(target));
            }
        }

        return target;
    }

    private static FeatureMajorMatrix<T> Copy(FeatureMajorMatrix<T> data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var copy = new FeatureMajorMatrix<T>(data.Points, data.Features);
        for (int d = 0; d < data.Features; d++)
        {
            data.Feature(d).CopyTo(copy.Feature(d));
        }

        return copy;
    }

    private static T[]? CheckWeights(ReadOnlySpan<T> weights, int points)
    {
        if (weights.IsEmpty)
        {
            return null;
        }

        ValidateSampleWeights(weights, points);
        return weights.ToArray();
    }

    /// <summary>N finite non-negative weights, not all zero; else an ArgumentException naming "sampleWeights".</summary>
    internal static void ValidateSampleWeights(ReadOnlySpan<T> weights, long points)
    {
        if (weights.Length != points)
        {
            throw new ArgumentException($"There are {weights.Length} sample weights for {points} points.", "sampleWeights");
        }

        double sum = 0;
        for (int i = 0; i < weights.Length; i++)
        {
            if (!T.IsFinite(weights[i]) || weights[i] < T.Zero)
            {
                throw new ArgumentException($"Sample weight {i} is {weights[i]}; weights must be finite and non-negative.", "sampleWeights");
            }

            sum += double.CreateTruncating(weights[i]);
        }

        if (!(sum > 0))
        {
            throw new ArgumentException("All sample weights are zero.", "sampleWeights");
        }
    }
}

/// <summary>
/// Points in a caller's row-major buffer (point n, feature d at <c>n · features + d</c>), read in place: nothing is
/// copied up front, each read transposes the chunk it is asked for. For fits that pass over the data a few times
/// (models whose statistics do not depend on their parameters, such as factor analysis, or a single evaluation),
/// this saves the feature-major copy that <see cref="InMemoryDataSource{T}"/> makes — its memory and the time to touch
/// it; for fits of many passes that copy pays for itself. The buffer must not change while a driver reads it.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class RowMajorDataSource<T> : DataSource<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly ReadOnlyMemory<T> _data;
    private readonly ReadOnlyMemory<T> _weights;
    private readonly int[] _columns;

    /// <summary>Wraps row-major data and optional sample weights (not copied).</summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N (≥ 0).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="sampleWeights">Empty, or N finite non-negative weights, not all zero.</param>
    /// <exception cref="ArgumentException">A length does not match N × D or N, or a weight is invalid.</exception>
    public RowMajorDataSource(ReadOnlyMemory<T> data, long points, int features, ReadOnlyMemory<T> sampleWeights = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(points);
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        if (points * features != data.Length)
        {
            throw new ArgumentException($"Expected {points} × {features} values, got {data.Length}.", nameof(data));
        }

        if (!sampleWeights.IsEmpty)
        {
            InMemoryDataSource<T>.ValidateSampleWeights(sampleWeights.Span, points);
        }

        _data = data;
        _weights = sampleWeights;
        _columns = Enumerable.Range(0, features).ToArray();
        Points = points;
        Features = features;
    }

    /// <inheritdoc/>
    public override long Points { get; }

    /// <inheritdoc/>
    public override int Features { get; }

    /// <inheritdoc/>
    public override bool HasSampleWeights => !_weights.IsEmpty;

    /// <inheritdoc/>
    public override void Read(long start, int count, Span<T> values, int stride, Span<T> sampleWeights, Span<int> labels)
    {
        CheckRead(start, count, values, stride, sampleWeights, labels);
        int d = Features;
        ReadOnlySpan<T> rows = _data.Span.Slice((int)start * d, count * d);
        Kernels.LayoutKernels.RowMajorToFeatureMajor<T, T>(rows, count, d, _columns, values, stride);

        if (HasSampleWeights)
        {
            _weights.Span.Slice((int)start, count).CopyTo(sampleWeights);
        }
    }
}

/// <summary>
/// A data source whose points form consecutive observation sequences of the given lengths (for hidden Markov models):
/// everything else is the wrapped source's.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class SequenceDataSource<T> : DataSource<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly DataSource<T> _source;
    private readonly int[] _lengths;

    /// <summary>Gives <paramref name="source"/>'s points the sequence lengths <paramref name="lengths"/> (copied).</summary>
    /// <param name="source">The points, in sequence order.</param>
    /// <param name="lengths">S ≥ 1 lengths, each ≥ 1, summing to the source's number of points.</param>
    /// <exception cref="ArgumentException">A length is below 1, or the lengths do not sum to the number of points.</exception>
    public SequenceDataSource(DataSource<T> source, ReadOnlySpan<int> lengths)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (lengths.IsEmpty)
        {
            throw new ArgumentException("Give at least one sequence length.", nameof(lengths));
        }

        long total = 0;
        for (int s = 0; s < lengths.Length; s++)
        {
            if (lengths[s] < 1)
            {
                throw new ArgumentException($"Sequence {s} has length {lengths[s]}; every length must be at least 1.", nameof(lengths));
            }

            total += lengths[s];
        }

        if (total != source.Points)
        {
            throw new ArgumentException($"The sequence lengths sum to {total}; the data have {source.Points} points.", nameof(lengths));
        }

        _source = source;
        _lengths = lengths.ToArray();
    }

    /// <inheritdoc/>
    public override long Points => _source.Points;

    /// <inheritdoc/>
    public override int Features => _source.Features;

    /// <inheritdoc/>
    public override bool HasSampleWeights => _source.HasSampleWeights;

    /// <inheritdoc/>
    public override bool HasLabels => _source.HasLabels;

    /// <inheritdoc/>
    public override string Name => _source.Name;

    /// <inheritdoc/>
    public override int? PreferredChunkPoints => _source.PreferredChunkPoints;

    /// <inheritdoc/>
    public override ReadOnlyMemory<int> SequenceLengths => _lengths;

    /// <summary>The wrapped source (an in-memory one is read in place).</summary>
    internal DataSource<T> Inner => _source;

    /// <inheritdoc/>
    public override void Read(long start, int count, Span<T> values, int stride, Span<T> sampleWeights, Span<int> labels) =>
        _source.Read(start, count, values, stride, sampleWeights, labels);
}
