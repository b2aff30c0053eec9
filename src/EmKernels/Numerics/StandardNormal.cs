namespace EmKernels.Numerics;

/// <summary>Draws of the standard normal distribution, the one way samplers and random starts get them.</summary>
internal static class StandardNormal
{
    /// <summary>One draw of N(0, 1) by Box–Muller; 1 − U keeps the logarithm's argument in (0, 1].</summary>
    public static double Next(Random random)
    {
        double u1 = 1.0 - random.NextDouble();
        double u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
