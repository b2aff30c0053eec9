using System.Numerics;

namespace EmKernels.Bench;

/// <summary>
/// The baselines: each kernel as a plain scalar loop in the element type, the way one would write it
/// without SIMD (the JIT does not auto-vectorize these). Same layouts and math as the kernels.
/// </summary>
internal static class ScalarKernels
{
    public static void LogSumExp<T>(ReadOnlySpan<T> logRho, int components, int points, Span<T> destination)
        where T : IBinaryFloatingPointIeee754<T>
    {
        for (int n = 0; n < points; n++)
        {
            T max = T.NegativeInfinity;
            for (int k = 0; k < components; k++)
            {
                max = T.Max(max, logRho[k * points + n]);
            }

            T sum = T.Zero;
            for (int k = 0; k < components; k++)
            {
                sum += T.Exp(logRho[k * points + n] - max);
            }

            destination[n] = max + T.Log(sum);
        }
    }

    public static double Responsibilities<T>(Span<T> logRho, int components, int points, Span<T> logLikelihoods)
        where T : IBinaryFloatingPointIeee754<T>
    {
        double total = 0;
        for (int n = 0; n < points; n++)
        {
            T max = T.NegativeInfinity;
            for (int k = 0; k < components; k++)
            {
                max = T.Max(max, logRho[k * points + n]);
            }

            T sum = T.Zero;
            for (int k = 0; k < components; k++)
            {
                sum += T.Exp(logRho[k * points + n] - max);
            }

            T l = max + T.Log(sum);
            for (int k = 0; k < components; k++)
            {
                logRho[k * points + n] = T.Exp(logRho[k * points + n] - l);
            }

            logLikelihoods[n] = l;
            total += double.CreateTruncating(l);
        }

        return total;
    }

    public static void DiagonalLogDensity<T>(
        ReadOnlySpan<T> x, int features, int points, int stride, int components, ReadOnlySpan<T> means, ReadOnlySpan<T> precisions, ReadOnlySpan<T> offsets, Span<T> destination)
        where T : IBinaryFloatingPointIeee754<T>
    {
        T half = T.CreateTruncating(0.5);
        for (int k = 0; k < components; k++)
        {
            for (int n = 0; n < points; n++)
            {
                T sum = T.Zero;
                for (int d = 0; d < features; d++)
                {
                    T diff = x[d * stride + n] - means[k * features + d];
                    sum += diff * diff * precisions[k * features + d];
                }

                destination[k * points + n] = offsets[k] - half * sum;
            }
        }
    }

    public static void SphericalLogDensity<T>(
        ReadOnlySpan<T> x, int features, int points, int stride, int components, ReadOnlySpan<T> means, ReadOnlySpan<T> precisions, ReadOnlySpan<T> offsets, Span<T> destination)
        where T : IBinaryFloatingPointIeee754<T>
    {
        T half = T.CreateTruncating(0.5);
        for (int k = 0; k < components; k++)
        {
            for (int n = 0; n < points; n++)
            {
                T sum = T.Zero;
                for (int d = 0; d < features; d++)
                {
                    T diff = x[d * stride + n] - means[k * features + d];
                    sum += diff * diff;
                }

                destination[k * points + n] = offsets[k] - half * precisions[k] * sum;
            }
        }
    }

    public static void DiagonalSufficientStatistics<T>(
        ReadOnlySpan<T> x, int features, int points, int stride, ReadOnlySpan<T> responsibilities, int components, ReadOnlySpan<T> shift,
        Span<double> mass, Span<double> first, Span<double> second)
        where T : IBinaryFloatingPointIeee754<T>
    {
        for (int k = 0; k < components; k++)
        {
            T m = T.Zero;
            for (int n = 0; n < points; n++)
            {
                m += responsibilities[k * points + n];
            }

            mass[k] += double.CreateTruncating(m);
            for (int d = 0; d < features; d++)
            {
                T s1 = T.Zero;
                T s2 = T.Zero;
                T c = shift[k * features + d];
                for (int n = 0; n < points; n++)
                {
                    T t = x[d * stride + n] - c;
                    T u = responsibilities[k * points + n] * t;
                    s1 += u;
                    s2 += u * t;
                }

                first[k * features + d] += double.CreateTruncating(s1);
                second[k * features + d] += double.CreateTruncating(s2);
            }
        }
    }

    public static void FullLogDensity<T>(
        ReadOnlySpan<T> x, int features, int points, int stride, int components, ReadOnlySpan<T> means, ReadOnlySpan<T> factors,
        ReadOnlySpan<T> offsets, Span<T> destination)
        where T : IBinaryFloatingPointIeee754<T>
    {
        T half = T.CreateTruncating(0.5);
        for (int k = 0; k < components; k++)
        {
            for (int n = 0; n < points; n++)
            {
                T sum = T.Zero;
                for (int j = 0; j < features; j++)
                {
                    T y = T.Zero;
                    for (int i = 0; i <= j; i++)
                    {
                        y += (x[i * stride + n] - means[k * features + i]) * factors[(k * features + i) * features + j];
                    }

                    sum += y * y;
                }

                destination[k * points + n] = offsets[k] - half * sum;
            }
        }
    }

    public static void FullSufficientStatistics<T>(
        ReadOnlySpan<T> x, int features, int points, int stride, ReadOnlySpan<T> responsibilities, int components, ReadOnlySpan<T> shift,
        Span<double> mass, Span<double> first, Span<double> scatter)
        where T : IBinaryFloatingPointIeee754<T>
    {
        for (int k = 0; k < components; k++)
        {
            for (int n = 0; n < points; n++)
            {
                T v = responsibilities[k * points + n];
                mass[k] += double.CreateTruncating(v);
                for (int a = 0; a < features; a++)
                {
                    T ta = x[a * stride + n] - shift[k * features + a];
                    first[k * features + a] += double.CreateTruncating(v * ta);
                    for (int b = a; b < features; b++)
                    {
                        scatter[(k * features + a) * features + b] += double.CreateTruncating(v * ta * (x[b * stride + n] - shift[k * features + b]));
                    }
                }
            }
        }
    }
}
