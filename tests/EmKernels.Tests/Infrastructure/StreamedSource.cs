using System.Numerics;
using EmKernels.Engine;

namespace EmKernels.Tests.Infrastructure;

/// <summary>
/// A data source that is not in memory as far as the drivers know: every read converts the requested rows
/// from a row-major double array (as a file source converts what it reads), in chunks of a chosen size.
/// Records the largest read, so tests can check that memory stays bounded by the chunk.
/// </summary>
public sealed class StreamedSource<T>(double[] rowMajor, int points, int features, int? chunkPoints = null, double[]? weights = null, int[]? labels = null) : DataSource<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private int _largestRead;

    public override long Points => points;

    public override int Features => features;

    public override bool HasSampleWeights => weights is not null;

    public override bool HasLabels => labels is not null;

    public override int? PreferredChunkPoints => chunkPoints;

    public int LargestRead => Volatile.Read(ref _largestRead);

    public override void Read(long start, int count, Span<T> values, int stride, Span<T> sampleWeights, Span<int> labelsOut)
    {
        CheckRead(start, count, values, stride, sampleWeights, labelsOut);
        int largest;
        do
        {
            largest = Volatile.Read(ref _largestRead);
        }
        while (count > largest && Interlocked.CompareExchange(ref _largestRead, count, largest) != largest);

        for (int i = 0; i < count; i++)
        {
            long row = start + i;
            for (int d = 0; d < features; d++)
            {
                values[d * stride + i] = T.CreateTruncating(rowMajor[row * features + d]);
            }

            if (weights is not null)
            {
                sampleWeights[i] = T.CreateTruncating(weights[row]);
            }

            if (labels is not null)
            {
                labelsOut[i] = labels[row];
            }
        }
    }

    /// <summary>The same data held in memory, as the estimators would hold them.</summary>
    public InMemoryDataSource<T> InMemory() => new(
        rowMajor.Select(T.CreateTruncating).ToArray(), points, features,
        weights is null ? default : weights.Select(T.CreateTruncating).ToArray(),
        labels is null ? default : labels);
}
