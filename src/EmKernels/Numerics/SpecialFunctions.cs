using System.Numerics;

namespace EmKernels.Numerics;

/// <summary>Special functions the priors' densities need (not in the BCL).</summary>
internal static class SpecialFunctions
{
    // Lanczos approximation, g = 7, n = 9 (Numerical Recipes' coefficients as widely published): relative error
    // below 1e-15 for x > 0.5; the reflection formula covers (0, 0.5].
    private static readonly double[] Lanczos =
    [
        0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
        12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
    ];

    /// <summary>ln Γ(x) for x &gt; 0.</summary>
    public static double LogGamma(double x)
    {
        if (!(x > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(x), x, "ln Γ is taken here for positive arguments only.");
        }

        if (x < 0.5)
        {
            // Γ(x) Γ(1 − x) = π / sin(πx).
            return Math.Log(Math.PI / Math.Sin(Math.PI * x)) - LogGamma(1 - x);
        }

        x -= 1;
        double sum = Lanczos[0];
        for (int i = 1; i < Lanczos.Length; i++)
        {
            sum += Lanczos[i] / (x + i);
        }

        double t = x + 7.5;
        return (0.5 * Math.Log(2 * Math.PI)) + ((x + 0.5) * Math.Log(t)) - t + Math.Log(sum);
    }

    /// <summary>
    /// ln Γ(a + h) − ln Γ(a) for a &gt; 0, h ≥ 0, accurate to rounding of the result even for large a (where the two ln Γ
    /// are large and nearly cancel): from Stirling's series, (a − ½) ln(1 + h/a) + h ln(a + h) − h + Σ B_{2j}/(2j(2j − 1))
    /// (1/(a + h)^{2j−1} − 1/a^{2j−1}), for a ≥ 10; directly below.
    /// </summary>
    public static double LogGammaRatio(double a, double h)
    {
        if (a < 10)
        {
            return LogGamma(a + h) - LogGamma(a);
        }

        double b = a + h;
        static double Tail(double z)
        {
            double z2 = z * z;
            return (1 / (12 * z)) - (1 / (360 * z * z2)) + (1 / (1260 * z * z2 * z2)) - (1 / (1680 * z * z2 * z2 * z2));
        }

        return ((a - 0.5) * LogOnePlus(h / a)) + (h * Math.Log(b)) - h + (Tail(b) - Tail(a));
    }

    /// <summary>
    /// ln(1 + x) accurate for small |x| (the BCL's LogP1 is ln(x + 1), whose rounding of 1 + x costs the relative precision
    /// of a small x): Goldberg's ln(u) · x / (u − 1) with u = 1 + x rounded, or x when u rounds to 1.
    /// </summary>
    public static T LogOnePlus<T>(T x)
        where T : IBinaryFloatingPointIeee754<T>
    {
        T u = T.One + x;
        return u == T.One ? x : T.Log(u) * x / (u - T.One);
    }

    /// <summary>ln Γ_D(a) = D(D − 1)/4 · ln π + Σ_{j=1…D} ln Γ(a + (1 − j)/2), the multivariate gamma of the Wishart densities.</summary>
    public static double LogMultivariateGamma(int dimension, double a)
    {
        double sum = dimension * (dimension - 1) / 4.0 * Math.Log(Math.PI);
        for (int j = 1; j <= dimension; j++)
        {
            sum += LogGamma(a + ((1 - j) / 2.0));
        }

        return sum;
    }

    /// <summary>ψ(x) = d ln Γ(x) / dx for x &gt; 0: the recurrence ψ(x) = ψ(x + 1) − 1/x up to x ≥ 10, then the asymptotic series.</summary>
    public static double Digamma(double x)
    {
        if (!(x > 0) || double.IsInfinity(x))
        {
            throw new ArgumentOutOfRangeException(nameof(x), x, "ψ is taken here for positive finite arguments only.");
        }

        double result = 0;
        while (x < 10)
        {
            result -= 1 / x;
            x += 1;
        }

        // ln x − 1/(2x) − Σ B_2n / (2n x^2n), n = 1 … 7: the first omitted term, B_16 / (16 x^16), is below 5e-17 from x = 10.
        double inverse = 1 / x, z = inverse * inverse;
        double series = z * ((1.0 / 12) - (z * ((1.0 / 120) - (z * ((1.0 / 252) - (z * ((1.0 / 240) - (z * ((1.0 / 132) - (z * ((691.0 / 32760) - (z / 12))))))))))));
        return result + Math.Log(x) - (0.5 * inverse) - series;
    }
}
