namespace EmKernels.Tests.Reference;

/// <summary>
/// Naive scalar twins of the public kernels: a loop per element, double arithmetic throughout, written
/// from each kernel's documented contract rather than from its vector algorithm. Inputs arrive
/// already converted to double from the element type the kernel saw, so only the kernel's own
/// rounding is under test.
/// </summary>
internal static class ReferenceKernels
{
    /// <summary>The documented log-sum-exp contract for one point's K values.</summary>
    public static double LogSumExp(ReadOnlySpan<double> values)
    {
        double max = double.NegativeInfinity;
        foreach (double v in values)
        {
            if (double.IsNaN(v))
            {
                return double.NaN;
            }

            max = Math.Max(max, v);
        }

        if (double.IsInfinity(max))
        {
            return max; // all −∞ → −∞; any +∞ (and no NaN) → +∞
        }

        double sum = 0;
        foreach (double v in values)
        {
            sum += Math.Exp(v - max);
        }

        return max + Math.Log(sum);
    }

    /// <summary>Gathers point n's K values from a component-major block.</summary>
    public static double[] Column(ReadOnlySpan<double> block, int components, int points, int n)
    {
        double[] column = new double[components];
        for (int k = 0; k < components; k++)
        {
            column[k] = block[k * points + n];
        }

        return column;
    }

    public static double[] LogSumExp(ReadOnlySpan<double> block, int components, int points)
    {
        double[] result = new double[points];
        for (int n = 0; n < points; n++)
        {
            result[n] = LogSumExp(Column(block, components, points, n));
        }

        return result;
    }

    /// <summary>Responsibilities, per-point log-likelihoods and their weighted sum, per the documented contract.</summary>
    public static (double[] Responsibilities, double[] LogLikelihoods, double Sum) Responsibilities(
        ReadOnlySpan<double> block, int components, int points, ReadOnlySpan<double> weights)
    {
        double[] r = new double[components * points];
        double[] l = LogSumExp(block, components, points);
        double sum = 0;
        for (int n = 0; n < points; n++)
        {
            for (int k = 0; k < components; k++)
            {
                r[k * points + n] = double.IsFinite(l[n]) ? Math.Exp(block[k * points + n] - l[n]) : 0;
            }

            double w = weights.IsEmpty ? 1 : weights[n];
            sum += w == 0 ? 0 : w * l[n];
        }

        return (r, l, sum);
    }

    /// <summary>offsets[k] − ½ Σ_d p_kd (x_dn − μ_kd)² for diagonal (precisions K × D) or spherical (K) precisions.</summary>
    public static double[] LogDensity(
        ReadOnlySpan<double> x, int features, int points, int stride, int components,
        ReadOnlySpan<double> means, ReadOnlySpan<double> precisions, ReadOnlySpan<double> offsets, bool spherical)
    {
        double[] result = new double[components * points];
        for (int k = 0; k < components; k++)
        {
            for (int n = 0; n < points; n++)
            {
                double quadratic = 0;
                for (int d = 0; d < features; d++)
                {
                    double diff = x[d * stride + n] - means[k * features + d];
                    double p = spherical ? precisions[k] : precisions[k * features + d];
                    quadratic += p * diff * diff;
                }

                result[k * points + n] = offsets[k] - 0.5 * quadratic;
            }
        }

        return result;
    }

    /// <summary>The magnitude a log-density computation works at: |offset| + ½ Σ p (x − μ)².</summary>
    public static double[] LogDensityScale(
        ReadOnlySpan<double> x, int features, int points, int stride, int components,
        ReadOnlySpan<double> means, ReadOnlySpan<double> precisions, ReadOnlySpan<double> offsets, bool spherical)
    {
        double[] scale = LogDensity(x, features, points, stride, components, means, precisions, new double[components], spherical);
        for (int k = 0; k < components; k++)
        {
            for (int n = 0; n < points; n++)
            {
                scale[k * points + n] = Math.Abs(scale[k * points + n]) + Math.Abs(offsets[k]);
            }
        }

        return scale;
    }

    /// <summary>Weighted moments about the shift; also returns the sums of absolute terms, for tolerances.</summary>
    public static (double[] Mass, double[] First, double[] Second, double[] FirstScale, double[] SecondScale) SufficientStatistics(
        ReadOnlySpan<double> x, int features, int points, int stride, ReadOnlySpan<double> responsibilities, int components,
        ReadOnlySpan<double> weights, ReadOnlySpan<double> shift)
    {
        var mass = new double[components];
        var first = new double[components * features];
        var second = new double[components * features];
        var firstScale = new double[components * features];
        var secondScale = new double[components * features];
        for (int k = 0; k < components; k++)
        {
            for (int n = 0; n < points; n++)
            {
                double v = responsibilities[k * points + n] * (weights.IsEmpty ? 1 : weights[n]);
                mass[k] += v;
                for (int d = 0; d < features; d++)
                {
                    double t = x[d * stride + n] - shift[k * features + d];
                    double u = v * t;
                    first[k * features + d] += u;
                    second[k * features + d] += u * t;
                    firstScale[k * features + d] += Math.Abs(u);
                    secondScale[k * features + d] += Math.Abs(u * t);
                }
            }
        }

        return (mass, first, second, firstScale, secondScale);
    }

    /// <summary>offsets[k] − ½ Σ_j (Σ_{i ≤ j} (x_in − μ_ki) U_k[i, j])², with U_k at k·factorStride (0 = shared).</summary>
    public static (double[] Values, double[] Scale) TriangularLogDensity(
        ReadOnlySpan<double> x, int features, int points, int stride, int components,
        ReadOnlySpan<double> means, ReadOnlySpan<double> factors, int factorStride, ReadOnlySpan<double> offsets)
    {
        double[] result = new double[components * points];
        double[] scale = new double[components * points];
        for (int k = 0; k < components; k++)
        {
            for (int n = 0; n < points; n++)
            {
                double quadratic = 0;
                double magnitude = 0;
                for (int j = 0; j < features; j++)
                {
                    double y = 0;
                    double bound = 0;
                    for (int i = 0; i <= j; i++)
                    {
                        double term = (x[i * stride + n] - means[k * features + i]) * factors[k * factorStride + i * features + j];
                        y += term;
                        bound += Math.Abs(term);
                    }

                    quadratic += y * y;
                    magnitude += bound * bound;
                }

                result[k * points + n] = offsets[k] - 0.5 * quadratic;
                scale[k * points + n] = Math.Abs(offsets[k]) + 0.5 * magnitude;
            }
        }

        return (result, scale);
    }

    /// <summary>Σ v (x − c_k)(x − c_k)ᵀ per component (scatterStride = D·D) or pooled (0), full matrices, with sums of |terms|.</summary>
    public static (double[] Scatter, double[] Scale) Scatter(
        ReadOnlySpan<double> x, int features, int points, int stride, ReadOnlySpan<double> v, int components,
        ReadOnlySpan<double> shift, int scatterStride)
    {
        int matrices = scatterStride == 0 ? 1 : components;
        double[] scatter = new double[matrices * features * features];
        double[] scale = new double[scatter.Length];
        for (int k = 0; k < components; k++)
        {
            for (int n = 0; n < points; n++)
            {
                for (int a = 0; a < features; a++)
                {
                    double ta = x[a * stride + n] - shift[k * features + a];
                    for (int b = 0; b < features; b++)
                    {
                        double term = v[k * points + n] * ta * (x[b * stride + n] - shift[k * features + b]);
                        scatter[k * scatterStride + a * features + b] += term;
                        scale[k * scatterStride + a * features + b] += Math.Abs(term);
                    }
                }
            }
        }

        return (scatter, scale);
    }
}
