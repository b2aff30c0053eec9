using System.Numerics;
using System.Runtime.CompilerServices;
using EmKernels.Kernels.Common;

namespace EmKernels.Engine;

/// <summary>
/// The one owner of a fit's frame (<see cref="Frame"/>): a data source seen with the frame's centre subtracted
/// and scaled by its power of two (in <typeparamref name="T"/>, as x·2^−s − c·2^−s, which is (x − c)·2^−s exactly,
/// so that in-memory and streamed reads give bitwise the same values), its sample weights by theirs.
/// In-memory data are transformed in place once and read without copying; other sources are read in chunks
/// into per-worker buffers made once per fit, so memory does not grow with N.
/// </summary>
internal sealed class FramedData<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Bytes of values per worker buffer for streamed sources.</summary>
    private const int ChunkBytes = 256 << 10;

    private readonly DataSource<T> _source;
    private readonly FeatureMajorMatrix<T>? _matrix;
    private readonly T[]? _weights;
    private readonly int[]? _labels;
    private readonly T[] _centre;
    private readonly T _scale1;
    private readonly T _scale2;
    private readonly T _weightScale1;
    private readonly T _weightScale2;
    private readonly Memory<T>[] _values;
    private readonly T[][] _chunkWeights;
    private readonly int[][] _chunkLabels;

    /// <param name="source">The data.</param>
    /// <param name="centre">The frame's origin in the user's coordinates (D values), or null for none.</param>
    /// <param name="workers">How many threads will load chunks at once.</param>
    /// <param name="tile">Points per tile: chunks are multiples of it.</param>
    public FramedData(DataSource<T> source, double[]? centre, int workers, int tile)
        : this(source, new Frame(centre, 0, 0), workers, tile)
    {
    }

    /// <param name="source">The data.</param>
    /// <param name="frame">The frame: centre, and the powers of two the values and the weights are divided by.</param>
    /// <param name="workers">How many threads will load chunks at once.</param>
    /// <param name="tile">Points per tile: chunks are multiples of it.</param>
    public FramedData(DataSource<T> source, Frame frame, int workers, int tile)
    {
        _source = source;
        Frame = frame;
        Features = source.Features;
        Points = source.Points;
        Centre = frame.Centre ?? new double[Features];
        (_scale1, _scale2) = Frames.Factors<T>(-frame.ScaleExponent);
        (_weightScale1, _weightScale2) = Frames.Factors<T>(-frame.WeightScaleExponent);
        _centre = new T[Features];
        for (int d = 0; d < Features; d++)
        {
            _centre[d] = T.CreateTruncating(Centre[d]) * _scale1 * _scale2; // c·2^−s, exactly
        }

        // In memory, the frame's values are the source's own buffer, moved into the frame once. A pass in the
        // user's coordinates over a buffer that a fit has moved (a summary of it, during that fit) reads it
        // through Read instead, which moves values back, so that the buffer is never moved under a live frame.
        if ((source is SequenceDataSource<T> sequences ? sequences.Inner : source) is InMemoryDataSource<T> memory && !(frame.Centre is null && frame.ScaleExponent == 0 && memory.IsTransformed))
        {
            _matrix = memory.Centred(frame.Centre, frame.ScaleExponent);
            _weights = memory.SampleWeights;
            if (_weights is not null && frame.WeightScaleExponent != 0)
            {
                // The source's weights are the caller's to read back: the frame's are a copy, made once per fit.
                _weights = (T[])_weights.Clone();
                foreach (ref T w in _weights.AsSpan())
                {
                    w = w * _weightScale1 * _weightScale2;
                }
            }

            _labels = memory.Labels;
            ChunkPoints = int.MaxValue;
            _values = [];
            _chunkWeights = [];
            _chunkLabels = [];
            return;
        }

        int perChunk = source.PreferredChunkPoints is int preferred and > 0
            ? (int)Math.Min(int.MaxValue / 2, ((long)preferred + tile - 1) / tile * tile)
            : Math.Max(tile, ChunkBytes / (Features * System.Runtime.CompilerServices.Unsafe.SizeOf<T>()) / tile * tile);
        ChunkPoints = (int)Math.Min(perChunk, (Points + tile - 1) / tile * tile);
        _values = new Memory<T>[workers];
        _chunkWeights = new T[workers][];
        _chunkLabels = new int[workers][];
        for (int w = 0; w < workers; w++)
        {
            _values[w] = Aligned.Memory<T>(ChunkPoints * Features);
            _chunkWeights[w] = source.HasSampleWeights ? new T[ChunkPoints] : [];
            _chunkLabels[w] = source.HasLabels ? new int[ChunkPoints] : [];
        }
    }

    /// <summary>Moves points the driver gathered itself into <paramref name="frame"/>, in place, exactly as <see cref="Load"/> moves a chunk.</summary>
    public static void Transform(FeatureMajorMatrix<T> points, T[]? weights, Frame frame)
    {
        (T scale1, T scale2) = Frames.Factors<T>(-frame.ScaleExponent);
        for (int d = 0; d < points.Features; d++)
        {
            T shift = (frame.Centre is null ? T.Zero : T.CreateTruncating(frame.Centre[d])) * scale1 * scale2;
            Span<T> feature = points.Feature(d);
            for (int i = 0; i < feature.Length; i++)
            {
                feature[i] = frame.ScaleExponent != 0 ? feature[i] * scale1 * scale2 - shift : feature[i] - shift;
            }
        }

        if (weights is not null && frame.WeightScaleExponent != 0)
        {
            (T w1, T w2) = Frames.Factors<T>(-frame.WeightScaleExponent);
            foreach (ref T w in weights.AsSpan())
            {
                w = w * w1 * w2;
            }
        }
    }

    /// <summary>N (for a minibatch buffer, the current minibatch's size: see <see cref="SetPoints"/>).</summary>
    public long Points { get; private set; }

    /// <summary>An in-memory buffer whose first <paramref name="points"/> points are the current minibatch.</summary>
    public void SetPoints(long points)
    {
        if (_matrix is null || points > _matrix.Points)
        {
            throw new InvalidOperationException("Only an in-memory buffer's point count can change, within its capacity.");
        }

        Points = points;
    }

    /// <summary>D.</summary>
    public int Features { get; }

    /// <summary>The frame's origin in the user's coordinates.</summary>
    public double[] Centre { get; }

    /// <summary>The frame.</summary>
    public Frame Frame { get; }

    /// <summary>Most points one <see cref="Load"/> returns (a multiple of the tile).</summary>
    public int ChunkPoints { get; }

    /// <summary>Whether the points carry sample weights.</summary>
    public bool SampleWeighted => _source.HasSampleWeights;

    /// <summary>The source's sequence lengths (empty: independent points, or one sequence).</summary>
    public ReadOnlyMemory<int> SequenceLengths => _source.SequenceLengths;

    /// <summary>Whether the data live in memory (read without copying).</summary>
    public bool InMemory => _matrix is not null;

    /// <summary>
    /// Points [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>) in the frame,
    /// <paramref name="count"/> ≤ <see cref="ChunkPoints"/>; streamed chunks land in <paramref name="worker"/>'s
    /// buffer and stay valid until that worker's next load.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public Chunk Load(int worker, long start, int count)
    {
        if (_matrix is not null)
        {
            int first = (int)start;
            return new Chunk(
                _matrix.Tile(first, count), _matrix.Stride,
                _weights is null ? default : _weights.AsSpan(first, count),
                _labels is null ? default : _labels.AsSpan(first, count));
        }

        Span<T> values = _values[worker].Span;
        int stride = ChunkPoints;
        Span<T> weights = _chunkWeights[worker].AsSpan(0, _source.HasSampleWeights ? count : 0);
        Span<int> labels = _chunkLabels[worker].AsSpan(0, _source.HasLabels ? count : 0);
        _source.Read(start, count, values, stride, weights, labels);
        for (int d = 0; d < Features; d++)
        {
            Span<T> feature = values.Slice(d * stride, count);
            T shift = _centre[d];
            if (Frame.ScaleExponent != 0)
            {
                for (int i = 0; i < feature.Length; i++)
                {
                    feature[i] = feature[i] * _scale1 * _scale2 - shift; // exactly as the in-memory copy: x·2^−s − c·2^−s in T
                }
            }
            else if (shift != T.Zero)
            {
                for (int i = 0; i < feature.Length; i++)
                {
                    feature[i] -= shift; // exactly as the in-memory copy is centred: x − c in T
                }
            }
        }

        if (Frame.WeightScaleExponent != 0)
        {
            foreach (ref T w in weights)
            {
                w = w * _weightScale1 * _weightScale2;
            }
        }

        return new Chunk(values[..((Features - 1) * stride + count)], stride, weights, labels);
    }

    /// <summary>
    /// Every point in order, as tiles of <paramref name="tile"/> points starting at multiples of it (so the
    /// tiles, and with them every float sum, are the same whether the data are in memory or streamed).
    /// Uses worker 0's buffer: call it only between passes.
    /// </summary>
    public void ForEachTile(int tile, TileAction<T> action, CancellationToken cancellationToken)
    {
        int chunkPoints = _matrix is not null ? (int)Math.Min(int.MaxValue / 2, Points) : ChunkPoints;
        for (long start = 0; start < Points; start += chunkPoints)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = (int)Math.Min(chunkPoints, Points - start);
            Chunk chunk = Load(0, start, count);
            for (int first = 0; first < count; first += tile)
            {
                int points = Math.Min(tile, count - first);
                action(chunk.Tile(Features, first, points, start));
            }
        }
    }

    /// <summary>A loaded range of points.</summary>
    public readonly ref struct Chunk(ReadOnlySpan<T> values, int stride, ReadOnlySpan<T> weights, ReadOnlySpan<int> labels)
    {
        public ReadOnlySpan<T> Values { get; } = values;

        public int Stride { get; } = stride;

        public ReadOnlySpan<T> Weights { get; } = weights;

        public ReadOnlySpan<int> Labels { get; } = labels;

        /// <summary>The tile of <paramref name="points"/> points from <paramref name="first"/> (relative to the chunk, which starts at global <paramref name="chunkStart"/>).</summary>
        public DataTile<T> Tile(int features, int first, int points, long chunkStart) => new(
            Values[first..], features, points, Stride, chunkStart + first,
            Weights.IsEmpty ? default : Weights.Slice(first, points),
            Labels.IsEmpty ? default : Labels.Slice(first, points));
    }
}
