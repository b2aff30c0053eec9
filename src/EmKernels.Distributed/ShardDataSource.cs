using System.Numerics;
using EmKernels.Engine;

namespace EmKernels.Distributed;

/// <summary>
/// A process's shard seen as the whole data set: N points, of which this process holds (and may read) only rows
/// [<paramref name="firstRow"/>, <paramref name="firstRow"/> + the shard's points).
/// </summary>
internal sealed class ShardDataSource<T>(DataSource<T> shard, long firstRow, long points, int rank) : DataSource<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public override long Points => points;

    public override int Features => shard.Features;

    public override bool HasSampleWeights => shard.HasSampleWeights;

    public override bool HasLabels => shard.HasLabels;

    public override string Name => shard.Name;

    public override int? PreferredChunkPoints => shard.PreferredChunkPoints;

    public override void Read(long start, int count, Span<T> values, int stride, Span<T> sampleWeights, Span<int> labels)
    {
        if (start < firstRow || start + count > firstRow + shard.Points)
        {
            throw new InvalidOperationException($"Rank {rank} holds rows {firstRow} … {firstRow + shard.Points - 1}; rows {start} … {start + count - 1} were asked for.");
        }

        shard.Read(start - firstRow, count, values, stride, sampleWeights, labels);
    }
}
