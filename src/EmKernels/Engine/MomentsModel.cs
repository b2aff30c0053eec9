using System.Numerics;

namespace EmKernels.Engine;

/// <summary>
/// The drivers' summary of the data as a model of the engine, so that it runs as a parallel,
/// deterministic pass like any other: statistics Σ w, Σ w x and Σ w x² per feature (in double), and, while
/// <see cref="Validating"/>, every tile checked by the model being fitted first.
/// </summary>
internal sealed class MomentsModel<T>(int features, IExpectationMaximizationModel<T> validator) : IExpectationMaximizationModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public bool Validating { get; set; } = true;

    public int Features { get; } = features;

    public int FreeParameterCount => 0;

    public StatisticsLayout StatisticsLayout { get; } = new(
        "data-moments/1", new StatisticsBlock("weight", 1), new StatisticsBlock("first-moments", features), new StatisticsBlock("second-moments", features));

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

    public void Validate(in DataTile<T> tile) => validator.Validate(tile);

    public bool Initialize(ModelInitialization<T> context) => true;

    public void PrepareExpectation(bool reshift)
    {
    }

    public void ResetStatistics(SufficientStatistics statistics) => statistics.Clear();

    public void AdoptShift(SufficientStatistics statistics)
    {
    }

    public double Expectation(in DataTile<T> tile, SufficientStatistics? statistics, Span<T> workspace, Span<T> pointObjectives)
    {
        if (Validating)
        {
            validator.Validate(tile);
        }

        pointObjectives.Clear();
        if (statistics is null)
        {
            return 0;
        }

        Span<double> sums = statistics.Sums;
        double weight = 0;
        for (int i = 0; i < tile.Points; i++)
        {
            weight += double.CreateTruncating(tile.Weight(i));
        }

        sums[0] += weight;
        for (int d = 0; d < Features; d++)
        {
            ReadOnlySpan<T> feature = tile.Feature(d);
            double first = 0, second = 0;
            for (int i = 0; i < feature.Length; i++)
            {
                double w = double.CreateTruncating(tile.Weight(i));
                double x = double.CreateTruncating(feature[i]);
                first += w * x;
                second += w * x * x;
            }

            sums[1 + d] += first;
            sums[1 + Features + d] += second;
        }

        return 0;
    }

    public bool Maximize(SufficientStatistics statistics, MaximizationContext context) => false;

    public bool TryWriteImpliedStatistics(SufficientStatistics statistics) => false;

    public double ObjectiveCorrection() => 0;
}
