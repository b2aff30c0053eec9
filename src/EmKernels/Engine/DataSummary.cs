namespace EmKernels.Engine;

/// <summary>
/// What a driver learns about the data before fitting, in two or three passes: how many points and how much
/// weight, the weighted mean and per-feature variance, and the fit's frame — its centre, and the powers of
/// two the data and the sample weights are divided by in it. Every sum is taken so that it neither overflows
/// nor underflows, for data and weights of any finite magnitude.
/// </summary>
/// <param name="Points">N.</param>
/// <param name="TotalWeight">Σ w in the frame: the sample weights divided by 2^<see cref="WeightScaleExponent"/> (N without sample weights).</param>
/// <param name="Mean">The weighted mean of each feature, in the user's coordinates.</param>
/// <param name="Variance">The weighted variance of each feature (divisor Σ w) in the frame: divided by 2^(2·<see cref="ScaleExponent"/>).</param>
/// <param name="Centre">The origin of the fit's frame in the user's coordinates: the mean when the model is translation-equivariant, else zero.</param>
public sealed record DataSummary(long Points, double TotalWeight, double[] Mean, double[] Variance, double[] Centre)
{
    /// <summary>D.</summary>
    public int Features => Mean.Length;

    /// <summary>The variances averaged over the features: the data's scale in the frame.</summary>
    public double MeanVariance => Variance.Average();

    /// <summary>s: the frame holds (x − <see cref="Centre"/>)·2^−s. 0 unless the model asked otherwise (<see cref="IExpectationMaximizationModel{T}.FrameScaleExponent"/>).</summary>
    public int ScaleExponent { get; init; }

    /// <summary>k: the frame's sample weights are the user's divided by 2^k, chosen so that their mean is about 1 (0 without sample weights).</summary>
    public int WeightScaleExponent { get; init; }

    /// <summary>log₂ of the largest per-feature standard deviation, in the user's units (finite even where the variance itself is not representable; −∞ when every feature is constant).</summary>
    public double Log2Spread { get; init; } = double.NegativeInfinity;

    /// <summary>Per feature: the variance in the user's units is <c>VarianceMantissa[f]·2^(2·VarianceExponent[f])</c> (representable whatever the magnitude).</summary>
    internal (double[] Mantissa, int[] Exponent)? VarianceInParts { get; init; }

    /// <summary>This summary for a frame that divides the data by 2^<paramref name="scaleExponent"/>: the variances in that frame.</summary>
    internal DataSummary InFrame(int scaleExponent)
    {
        if (VarianceInParts is not { } parts)
        {
            return this with { ScaleExponent = scaleExponent };
        }

        double[] variance = new double[Features];
        for (int f = 0; f < Features; f++)
        {
            variance[f] = Frames.ScaleByPowerOfTwo(parts.Mantissa[f], 2L * (parts.Exponent[f] - scaleExponent));
        }

        return this with { Variance = variance, ScaleExponent = scaleExponent };
    }
}
