namespace EmKernels.Mixtures;

/// <summary>
/// The weighted sufficient statistics of one segment of points (or of all of them), in double:
/// per-component mass N_k, first moments and second moments, in the layouts the family's
/// kernels accumulate into. Allocated once per fit; cleared and added, never reallocated.
/// </summary>
internal sealed class SufficientStatistics(int components, int firstLength, int secondLength)
{
    public double[] Mass { get; } = new double[components];

    public double[] First { get; } = new double[firstLength];

    public double[] Second { get; } = new double[secondLength];

    /// <summary>Σ w ℓ of the segment's points (the log-likelihood contribution).</summary>
    public double LogLikelihood { get; set; }

    /// <summary>The segment's worst-explained point (lowest ℓ among points with positive weight), for re-seeding.</summary>
    public double WorstLogLikelihood { get; set; } = double.PositiveInfinity;

    public int WorstPoint { get; set; } = -1;

    public void Clear()
    {
        Array.Clear(Mass);
        Array.Clear(First);
        Array.Clear(Second);
        LogLikelihood = 0;
        WorstLogLikelihood = double.PositiveInfinity;
        WorstPoint = -1;
    }

    /// <summary>Adds another segment's statistics (the caller fixes the order, so sums are deterministic).</summary>
    public void Add(SufficientStatistics other)
    {
        Accumulate(Mass, other.Mass);
        Accumulate(First, other.First);
        Accumulate(Second, other.Second);
        LogLikelihood += other.LogLikelihood;
    }

    private static void Accumulate(double[] target, double[] source)
    {
        for (int i = 0; i < target.Length; i++)
        {
            target[i] += source[i];
        }
    }
}
