using System.Numerics;
using EmKernels.Kernels;
using EmKernels.Tests.Infrastructure;
using Xunit;

namespace EmKernels.Tests;

public sealed class FactorKernelsTestsSingle : FactorKernelsTests<float>;

public sealed class FactorKernelsTestsDouble : FactorKernelsTests<double>;

/// <summary>The factor-analyzer log-density (Woodbury form) against its scalar reference and against the full-covariance density it stands for.</summary>
public abstract class FactorKernelsTests<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private static readonly ValueKind[] DataKinds = [ValueKind.Moderate, ValueKind.LargeOffset, ValueKind.Specials];

    [Fact]
    public void FactorLogDensity_MatchesReference() => Property.Check(KernelCase.Small<T>(DataKinds), CheckLogDensity);

    [Fact]
    public void FactorLogDensity_MatchesReference_LongBlocks() => Property.Check(KernelCase.Long(DataKinds), CheckLogDensity, 100);

    [Fact]
    public void FactorLogDensity_IsTheGaussianOfWWtPlusPsi()
    {
        // D = 3, q = 2: C = W Wᵀ + Ψ written out, its density by the test's own inverse, against the kernel fed the
        // Woodbury projections P = Lᵀ Wᵀ Ψ⁻¹ with G = (I + Wᵀ Ψ⁻¹ W)⁻¹ = L Lᵀ.
        double[] w = [1.0, 0.5, -0.3, 2.0, 0.8, -1.1];
        double[] psi = [0.5, 1.5, 0.2];
        double[] mu = [0.3, -1.0, 2.0];
        double[] point = [1.1, 0.4, 1.7];
        const int d = 3, q = 2;
        double[] c = new double[d * d];
        for (int a = 0; a < d; a++)
        {
            for (int b = 0; b < d; b++)
            {
                c[a * d + b] = (a == b ? psi[a] : 0) + w[a * q] * w[b * q] + w[a * q + 1] * w[b * q + 1];
            }
        }

        (double[] inverse, double logDeterminant) = DenseReference.Invert(c, d);
        double quadratic = 0;
        for (int a = 0; a < d; a++)
        {
            for (int b = 0; b < d; b++)
            {
                quadratic += (point[a] - mu[a]) * inverse[a * d + b] * (point[b] - mu[b]);
            }
        }

        double expected = -0.5 * (d * Math.Log(2 * Math.PI) + logDeterminant + quadratic);

        // M = I + Wᵀ Ψ⁻¹ W, G = M⁻¹ = L Lᵀ (2 × 2 by hand), P = Lᵀ Wᵀ Ψ⁻¹.
        double m00 = 1, m01 = 0, m11 = 1;
        for (int j = 0; j < d; j++)
        {
            m00 += w[j * q] * w[j * q] / psi[j];
            m01 += w[j * q] * w[j * q + 1] / psi[j];
            m11 += w[j * q + 1] * w[j * q + 1] / psi[j];
        }

        double det = m00 * m11 - m01 * m01;
        double g00 = m11 / det, g01 = -m01 / det, g11 = m00 / det;
        double l00 = Math.Sqrt(g00), l10 = g01 / l00, l11 = Math.Sqrt(g11 - l10 * l10);
        T[] projections = new T[q * d];
        for (int j = 0; j < d; j++)
        {
            double u0 = w[j * q] / psi[j], u1 = w[j * q + 1] / psi[j];
            projections[j] = T.CreateTruncating(l00 * u0 + l10 * u1);   // row 0 of Lᵀ Uᵀ
            projections[d + j] = T.CreateTruncating(l11 * u1);          // row 1
        }

        double offset = -0.5 * (d * Math.Log(2 * Math.PI) + Math.Log(det) + psi.Sum(Math.Log));
        T[] result = new T[1];
        GaussianKernels.FactorLogDensity<T>(
            point.Select(T.CreateTruncating).ToArray(), d, 1, 1, 1, q, mu.Select(T.CreateTruncating).ToArray(), psi.Select(p => T.CreateTruncating(1 / p)).ToArray(),
            projections, [T.CreateTruncating(offset)], result);
        Assert.Equal(expected, double.CreateTruncating(result[0]), typeof(T) == typeof(float) ? 1e-5 : 1e-13);
    }

    [Fact]
    public void FactorLogDensity_RejectsInconsistentShapes()
    {
        T[] x = new T[7], means = new T[4], precisions = new T[4], projections = new T[2 * 3 * 2], offsets = new T[2], destination = new T[6];
        GaussianKernels.FactorLogDensity<T>(x, 2, 3, 4, 2, 3, means, precisions, projections, offsets, destination);
        Assert.Equal("projections", Assert.Throws<ArgumentException>(() => GaussianKernels.FactorLogDensity<T>(x, 2, 3, 4, 2, 2, means, precisions, projections, offsets, destination)).ParamName);
        Assert.Equal("noisePrecisions", Assert.Throws<ArgumentException>(() => GaussianKernels.FactorLogDensity<T>(x, 2, 3, 4, 2, 3, means, new T[3], projections, offsets, destination)).ParamName);
        Assert.Equal("factors", Assert.Throws<ArgumentOutOfRangeException>(() => GaussianKernels.FactorLogDensity<T>(x, 2, 3, 4, 2, -1, means, precisions, projections, offsets, destination)).ParamName);
        Assert.Equal("x", Assert.Throws<ArgumentException>(() => GaussianKernels.FactorLogDensity<T>(new T[6], 2, 3, 4, 2, 3, means, precisions, projections, offsets, destination)).ParamName);
    }

    private static void CheckLogDensity(KernelCase c)
    {
        int k = c.Components, d = c.Features, n = c.Points;
        Random random = c.Random();
        int q = random.Next(0, 10);
        using var x = Buffers.Tile<T>(c, random);
        using var means = Buffers.Create<T>(c, k * d);
        using var precisions = Buffers.Create<T>(c, k * d);
        using var projections = Buffers.Create<T>(c, k * q * d);
        using var offsets = Buffers.Create<T>(c, k);
        using var destination = Buffers.Create<T>(c, k * n);
        Values.NearData<T>(means.Span, random, c.Kind);
        Values.Uniform<T>(precisions.Span, random, 0.1, 10);
        Values.Uniform<T>(projections.Span, random, -1, 1);
        Values.Uniform<T>(offsets.Span, random, -10, 10);
        double[] xs = Values.ToDouble<T>(x.Span), mu = Values.ToDouble<T>(means.Span), p = Values.ToDouble<T>(precisions.Span);
        double[] proj = Values.ToDouble<T>(projections.Span), o = Values.ToDouble<T>(offsets.Span);

        GaussianKernels.FactorLogDensity<T>(x.Span, d, n, c.Stride, k, q, means.Span, precisions.Span, projections.Span, offsets.Span, destination.Span);

        x.AssertCanariesIntact("x");
        means.AssertCanariesIntact("means");
        precisions.AssertCanariesIntact("noisePrecisions");
        projections.AssertCanariesIntact("projections");
        offsets.AssertCanariesIntact("offsets");
        destination.AssertCanariesIntact("destination");
        for (int j = 0; j < k; j++)
        {
            for (int i = 0; i < n; i++)
            {
                // The reference, in double and in the kernel's order of operations; the scale is the sum of absolute terms.
                double diagonal = 0, explained = 0, scale = Math.Abs(o[j]);
                for (int f = 0; f < d; f++)
                {
                    double delta = xs[f * c.Stride + i] - mu[j * d + f];
                    diagonal += delta * delta * p[j * d + f];
                }

                for (int l = 0; l < q; l++)
                {
                    double s = 0, absolute = 0;
                    for (int f = 0; f < d; f++)
                    {
                        double delta = xs[f * c.Stride + i] - mu[j * d + f];
                        s += delta * proj[(j * q + l) * d + f];
                        absolute += Math.Abs(delta * proj[(j * q + l) * d + f]);
                    }

                    explained += s * s;
                    scale += 0.5 * absolute * absolute;
                }

                double expected = (diagonal - explained) * -0.5 + o[j];
                scale += 0.5 * Math.Abs(diagonal);
                Tolerance.AssertClose<T>(expected, destination.Span[j * n + i], scale, 4 + 2 * d * (q + 1), () => $"factor log-density [{j},{i}], q = {q}, in {c}");
            }
        }
    }
}
