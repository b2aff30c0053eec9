using System.Numerics;
using EmKernels.Kernels.Common;

namespace EmKernels.Engine;

/// <summary>
/// The drivers' summary of the data as a model of the engine, so that it runs as a parallel, deterministic
/// pass like any other; while <see cref="Validating"/>, every tile is checked by the model being fitted
/// first. Its sums (in double) are each taken at a few fixed powers of two, so that one of them is finite
/// and not lost to underflow whatever the magnitude of the data and weights (powers of two scale exactly):
/// <list type="bullet">
/// <item>weights: Σ w' at 2^−64, 1 and 2^1000 (w' = w·2^−k, <see cref="WeightFactor"/>; k = 0 in the pass that finds k);</item>
/// <item>without <see cref="Centre"/>: Σ w'x at 1 and 2^−64 (w' = w·2^−k, <see cref="WeightFactor"/>);</item>
/// <item>with <see cref="Centre"/>: Σ w'(x − c)² with x − c in T as the frame forms it, and with (x·2^∓600 − c·2^∓600) in double.</item>
/// </list>
/// </summary>
internal sealed class MomentsModel<T>(int features, IExpectationMaximizationModel<T> validator) : IExpectationMaximizationModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>The powers of two the candidate sums are taken at.</summary>
    public const int WeightDown = -64, WeightUp = 1000, FirstDown = -64, SecondDown = -600, SecondUp = 600;

    public bool Validating { get; set; } = true;

    /// <summary>2^−k as two factors (each within double's range): w' = w·f₁·f₂ normalizes the sample weights for the moment sums.</summary>
    public (double First, double Second) WeightFactor { get; set; } = (1, 1);

    /// <summary>Null: first moments; else the centre the second moments are taken about.</summary>
    public double[]? Centre { get; set; }

    public int Features { get; } = features;

    public int FreeParameterCount => 0;

    public StatisticsLayout StatisticsLayout { get; } = validator.AllowsMissingValues
        ? new("data-moments-missing/1", new StatisticsBlock("weight", 3), new StatisticsBlock("first-moments", 2 * features), new StatisticsBlock("second-moments", 3 * features), new StatisticsBlock("observed-weight", features))
        : new("data-moments/2", new StatisticsBlock("weight", 3), new StatisticsBlock("first-moments", 2 * features), new StatisticsBlock("second-moments", 3 * features));

    /// <summary>Whether NaN entries are missing values (the model marginalises them): each feature's sums and weight then cover its observed entries.</summary>
    public bool Missing { get; } = validator.AllowsMissingValues;

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
        if (statistics is null || tile.Points == 0)
        {
            return 0;
        }

        // Vectorized sums at the plain scale (Reductions); a sum at another power of two is the plain one scaled (exact)
        // when the plain one is finite and clear of underflow, and is otherwise taken value by value (MomentsScalar):
        // data whose sums leave double's range take the exact path, ordinary data the fast one.
        int b = tile.Points;
        bool weighted = !tile.SampleWeights.IsEmpty;
        Span<double> weights = weighted ? (b <= 1024 ? stackalloc double[b] : new double[b]) : default;
        double factor = WeightFactor.First * WeightFactor.Second;
        double total = b * factor;
        if (weighted)
        {
            total = 0;
            ReadOnlySpan<T> sampleWeights = tile.SampleWeights;
            for (int i = 0; i < b; i++)
            {
                weights[i] = double.CreateTruncating(sampleWeights[i]) * WeightFactor.First * WeightFactor.Second;
                total += weights[i];
            }
        }

        Span<double> sums = statistics.Sums;
        if (InRange(total))
        {
            sums[0] += total * Math.ScaleB(1.0, WeightDown);
            sums[1] += total;
            sums[2] += total * Math.ScaleB(1.0, WeightUp);
        }
        else
        {
            double weightDown = Math.ScaleB(1.0, WeightDown), weightUp = Math.ScaleB(1.0, WeightUp);
            for (int i = 0; i < b; i++)
            {
                double w = double.CreateTruncating(tile.Weight(i)) * WeightFactor.First * WeightFactor.Second;
                sums[0] += w * weightDown;
                sums[1] += w;
                sums[2] += w * weightUp;
            }
        }

        int d = Features;
        Span<double> first = sums.Slice(3, 2 * d);
        Span<double> second = sums.Slice(3 + 2 * d, 3 * d);
        Span<double> observed = Missing ? sums.Slice(3 + 5 * d, d) : default;
        for (int f = 0; f < d; f++)
        {
            ReadOnlySpan<T> feature = tile.Feature(f);
            if (Missing && HasMissing(feature))
            {
                // The feature's observed entries only, value by value (a tile with missing entries is the exception).
                double weight = 0;
                for (int i = 0; i < feature.Length; i++)
                {
                    weight += T.IsNaN(feature[i]) ? 0 : double.CreateTruncating(tile.Weight(i)) * WeightFactor.First * WeightFactor.Second;
                }

                observed[f] += weight;
                if (Centre is null)
                {
                    FirstMomentsScalar(tile, feature, out double exactPlain, out double down);
                    first[f] += exactPlain;
                    first[d + f] += down;
                }
                else
                {
                    SecondMomentsScalar(tile, feature, Centre[f], out double exactPlain, out double down, out double up);
                    second[f] += exactPlain;
                    second[d + f] += down;
                    second[2 * d + f] += up;
                }

                continue;
            }

            if (Missing)
            {
                observed[f] += total;
            }

            if (Centre is null)
            {
                double plain = Reductions.WeightedSum(feature, weights);
                plain = weighted ? plain : plain * factor;
                if (double.IsFinite(plain))
                {
                    first[f] += plain;
                    first[d + f] += plain * Math.ScaleB(1.0, FirstDown);
                }
                else
                {
                    FirstMomentsScalar(tile, feature, out double exactPlain, out double down);
                    first[f] += exactPlain;
                    first[d + f] += down;
                }
            }
            else
            {
                double c = Centre[f];
                double plain = Reductions.WeightedSquaredDeviations(feature, T.CreateTruncating(c), weights); // x − c as the frame forms it
                plain = weighted ? plain : plain * factor;
                if (InRange(plain))
                {
                    second[f] += plain;
                    second[d + f] += plain * Math.ScaleB(1.0, 2 * SecondDown);
                    second[2 * d + f] += plain * Math.ScaleB(1.0, 2 * SecondUp);
                }
                else
                {
                    SecondMomentsScalar(tile, feature, c, out double exactPlain, out double down, out double up);
                    second[f] += exactPlain;
                    second[d + f] += down;
                    second[2 * d + f] += up;
                }
            }
        }

        return 0;
    }

    /// <summary>Finite and either 0 or clear of the range where underflow loses digits (the threshold of <see cref="Best"/>).</summary>
    private static bool InRange(double sum) => double.IsFinite(sum) && Math.Abs(sum) >= Math.ScaleB(1.0, -900);

    private void FirstMomentsScalar(in DataTile<T> tile, ReadOnlySpan<T> feature, out double plain, out double down)
    {
        double scale = Math.ScaleB(1.0, FirstDown);
        plain = 0;
        down = 0;
        for (int i = 0; i < feature.Length; i++)
        {
            if (T.IsNaN(feature[i]))
            {
                continue; // a missing value (only where the model marginalises them: it validated the tile)
            }

            double w = double.CreateTruncating(tile.Weight(i)) * WeightFactor.First * WeightFactor.Second;
            double x = double.CreateTruncating(feature[i]);
            plain += w * x;
            down += w * (x * scale);
        }
    }

    private void SecondMomentsScalar(in DataTile<T> tile, ReadOnlySpan<T> feature, double c, out double plain, out double down, out double up)
    {
        T centreT = T.CreateTruncating(c);
        double downFactor = Math.ScaleB(1.0, SecondDown), upFactor = Math.ScaleB(1.0, SecondUp);
        double cDown = c * downFactor, cUp = c * upFactor;
        plain = 0;
        down = 0;
        up = 0;
        for (int i = 0; i < feature.Length; i++)
        {
            if (T.IsNaN(feature[i]))
            {
                continue;
            }

            double w = double.CreateTruncating(tile.Weight(i)) * WeightFactor.First * WeightFactor.Second;
            double x = double.CreateTruncating(feature[i]);
            double centred = double.CreateTruncating(feature[i] - centreT); // as the frame forms it
            double xDown = x * downFactor - cDown;
            double xUp = x * upFactor - cUp;
            plain += w * centred * centred;
            down += w * xDown * xDown;
            up += w * xUp * xUp;
        }
    }

    private static bool HasMissing(ReadOnlySpan<T> feature)
    {
        foreach (T value in feature)
        {
            if (T.IsNaN(value))
            {
                return true;
            }
        }

        return false;
    }

    public bool Maximize(SufficientStatistics statistics, MaximizationContext context) => false;

    public bool TryWriteImpliedStatistics(SufficientStatistics statistics) => false;

    public double ObjectiveCorrection() => 0;

    /// <summary>
    /// The best of a sum taken at 2^0 and at other powers of two: (value, exponent) with the sum = value·2^exponent.
    /// The plain sum when it is finite and not in the range where underflow lost its digits; else the scaled-down
    /// one when the plain one overflowed; else the scaled-up one when it is finite.
    /// </summary>
    public static (double Value, int Exponent) Best(double plain, double down, int downExponent, double up = double.NaN, int upExponent = 0)
    {
        double tiny = Math.ScaleB(1.0, -900);
        if (double.IsFinite(plain) && Math.Abs(plain) >= tiny)
        {
            return (plain, 0);
        }

        if (!double.IsFinite(plain) && double.IsFinite(down))
        {
            return (down, -downExponent);
        }

        if (double.IsFinite(up) && up != 0 && (plain == 0 || Math.Abs(plain) < tiny))
        {
            return (up, -upExponent);
        }

        return (plain, 0);
    }
}
