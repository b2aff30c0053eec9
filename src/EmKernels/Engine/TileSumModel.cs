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
            Action!(tile, statistics);
        }

        return 0;
    }

    public bool Maximize(SufficientStatistics statistics, MaximizationContext context) => false;

    public double ObjectiveCorrection() => 0;
}
