using System.Numerics;

namespace EmKernels.Engine;

/// <summary>
/// What a model gets to choose its starting parameters for one run of EM: the data in the fit's frame
/// (streamed tile by tile, in order), their summary, the restart's random source and the fit's
/// cancellation token.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class ModelInitialization<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly FramedData<T> _data;

    internal ModelInitialization(
        FramedData<T> data, DataSummary summary, int restart, Random random, int tilePoints, CancellationToken cancellationToken, SufficientStatistics? dataStatistics = null)
    {
        _data = data;
        DataStatistics = dataStatistics;
        Summary = summary;
        Restart = restart;
        Random = random;
        TilePoints = tilePoints;
        CancellationToken = cancellationToken;
    }

    /// <summary>0-based restart; models compute what depends only on the data (reseed spreads, frequencies) when it is 0.</summary>
    public int Restart { get; }

    /// <summary>The restart's random source: seeded from the fit's seed and the restart, so a fit is reproducible.</summary>
    public Random Random { get; }

    /// <summary>N, Σ w, the mean and variances of the data, and the frame's centre.</summary>
    public DataSummary Summary { get; }

    /// <summary>
    /// For a model whose statistics do not depend on its parameters
    /// (<see cref="IExpectationMaximizationModel{T}.StatisticsIndependentOfParameters"/>), in the batch driver: the
    /// statistics of all the data (the one pass of the fit runs before the initialization), so that the start can be
    /// chosen from them (factor analysis starts from the principal subspace of the scatter matrix). Null otherwise.
    /// </summary>
    public SufficientStatistics? DataStatistics { get; }

    /// <summary>Whether the points carry sample weights.</summary>
    public bool SampleWeighted => _data.SampleWeighted;

    /// <summary>Whether the data are held in memory (so a model may keep per-point values without making a fit's memory grow with N beyond what the data already take).</summary>
    public bool InMemory => _data.InMemory;

    /// <summary>Points per tile of <see cref="ForEachTile"/>.</summary>
    public int TilePoints { get; }

    /// <summary>The fit's cancellation token (<see cref="ForEachTile"/> checks it between chunks).</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>
    /// Passes every point, in order, in the fit's frame, as tiles of <see cref="TilePoints"/> points
    /// starting at multiples of it: the same tiles whether the data are in memory or streamed from a file,
    /// so an initialization gives the same result for both.
    /// </summary>
    /// <param name="action">Called once per tile, on the calling thread.</param>
    public void ForEachTile(TileAction<T> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        _data.ForEachTile(TilePoints, action, CancellationToken);
    }
}
