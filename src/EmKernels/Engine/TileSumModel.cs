using System.Numerics;

namespace EmKernels.Engine;

/// <summary>
/// A sum over the data as a model of the engine (<see cref="ModelInitialization{T}.Sum"/>): each segment's statistics
/// start at zero (about the totals' shift) and the action adds its tiles to them, so the sum is a pass like any other:
/// the same for any thread count, in memory or streamed, and on the processes of a distributed fit.
/// </summary>
internal sealed class TileSumModel<T>(StatisticsLayout layout, int features) : IExpectationMaximizationModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public TileStatistics<T>? Action { get; set; }

    /// <summary>Per feature, the value a missing (NaN) entry is replaced by before the action sees its tile; null: none.</summary>
    public T[]? Imputed { get; set; }

    /// <summary>Per global point, whether the action sees it with weight 0 (an initialization that leaves those points out); null: none.</summary>
    public bool[]? Excluded { get; set; }

    private T[] _buffer = [];
    private T[] _weights = [];

    public int Features { get; } = features;

    public int FreeParameterCount => 0;

    public StatisticsLayout StatisticsLayout { get; } = layout;

    public int ParameterLength => 0;

    public bool SupportsTranslation => false;

    public void Translate(ReadOnlySpan<double> offset)
    {
    }

    public void WriteParameters(Span<double> destination)
    {
    }

    public void ReadParameters(ReadOnlySpan<double> source)
    {
    }

    public int WorkspaceLength(int tilePoints) => 0;

    public void Validate(in DataTile<T> tile)
    {
    }

    public bool Initialize(ModelInitialization<T> context) => true;

    public void PrepareExpectation(bool reshift)
    {
    }

    public void AdoptShift(SufficientStatistics statistics)
    {
    }

    public void ResetStatistics(SufficientStatistics statistics) => statistics.Clear();

    public bool TryWriteImpliedStatistics(SufficientStatistics statistics) => false;

    public double Expectation(in DataTile<T> tile, SufficientStatistics? statistics, Span<T> workspace, Span<T> pointObjectives)
    {
        pointObjectives.Clear();
        if (statistics is not null)
        {
            if (Imputed is { } imputed && ImputedTile(tile, imputed, ref _buffer) is { } complete)
            {
                Run(complete.Tile, statistics);
            }
            else
            {
                Run(tile, statistics);
            }
        }

        return 0;
    }

    /// <summary>The action on the tile, with the excluded points' weights set to 0 (every tile then has weights).</summary>
    private void Run(in DataTile<T> tile, SufficientStatistics statistics)
    {
        if (Excluded is not { } excluded)
        {
            Action!(tile, statistics);
            return;
        }

        if (_weights.Length < tile.Points)
        {
            _weights = new T[Math.Max(tile.Points, 4096)];
        }

        Span<T> weights = _weights.AsSpan(0, tile.Points);
        for (int i = 0; i < tile.Points; i++)
        {
            weights[i] = excluded[tile.Start + i] ? T.Zero : tile.Weight(i);
        }

        Action!(new DataTile<T>(tile.Values, tile.Features, tile.Points, tile.Stride, tile.Start, weights, tile.Labels), statistics);
    }

    public bool Maximize(SufficientStatistics statistics, MaximizationContext context) => false;

    public double ObjectiveCorrection() => 0;

    /// <summary>The tile with its NaN entries replaced by <paramref name="imputed"/> (in <paramref name="buffer"/>), or null when it has none.</summary>
    internal static CompleteTile? ImputedTile(in DataTile<T> tile, T[] imputed, ref T[] buffer)
    {
        int d = tile.Features, n = tile.Points;
        bool any = false;
        for (int f = 0; f < d && !any; f++)
        {
            foreach (T value in tile.Feature(f))
            {
                if (T.IsNaN(value))
                {
                    any = true;
                    break;
                }
            }
        }

        if (!any)
        {
            return null;
        }

        if (buffer.Length < d * n)
        {
            buffer = new T[Math.Max(d * n, 4096)];
        }

        for (int f = 0; f < d; f++)
        {
            ReadOnlySpan<T> feature = tile.Feature(f);
            Span<T> target = buffer.AsSpan(f * n, n);
            for (int i = 0; i < n; i++)
            {
                target[i] = T.IsNaN(feature[i]) ? imputed[f] : feature[i];
            }
        }

        return new CompleteTile(buffer, d, n, tile.Start, tile.SampleWeights.ToArray(), tile.Labels.ToArray());
    }

    /// <summary>A copy of a tile without missing values.</summary>
    internal sealed class CompleteTile(T[] values, int features, int points, long start, T[] weights, int[] labels)
    {
        public DataTile<T> Tile => new(values.AsSpan(0, features * points), features, points, points, start, weights, labels);
    }
}
