using System.Numerics;
using EmKernels.Kernels;
using EmKernels.Tests.Infrastructure;
using Xunit;

namespace EmKernels.Tests;

public sealed class FactorKernelsTestsSingle : FactorKernelsTests<float>;

public sealed class FactorKernelsTestsDouble : FactorKernelsTests<double>;

/// <summary>
/// The factor-analyzer log-density (Woodbury form) against its scalar reference and against the full-covariance density
/// it stands for; the factor statistics (Σ v y eᵀ, Σ v e, Σ v e eᵀ with e = B (x − μ)) against their scalar reference.
/// </summary>
public abstract class FactorKernelsTests<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private static readonly ValueKind[] DataKinds = [ValueKind.Moderate, ValueKind.LargeOffset, ValueKind.Specials];
    private static readonly ValueKind[] StatisticsKinds = [ValueKind.Moderate, ValueKind.LargeOffset];

    [Fact]
    public void FactorLogDensity_MatchesReference() => Property.Check(KernelCase.Small<T>(DataKinds), CheckLogDensity);

    [Fact]
    public void FactorLogDensity_MatchesReference_LongBlocks() => Property.Check(KernelCase.Long(DataKinds), CheckLogDensity, 100);

    [Fact]
    public void FactorSufficientStatistics_MatchesReference() => Property.Check(KernelCase.Small<T>(StatisticsKinds), CheckStatistics);

    [Fact]
    public void FactorSufficientStatistics_MatchesReference_LongBlocks() => Property.Check(KernelCase.Long(StatisticsKinds), CheckStatistics, 100);

    [Fact]
    public void FactorSufficientStatistics_RejectsInconsistentShapes()
    {
        T[] x = new T[7], r = new T[6], shift = new T[4], means = new T[4], projections = new T[2 * 3 * 2];
        double[] cross = new double[2 * 2 * 3], sums = new double[2 * 3], squares = new double[2 * 9];
        GaussianKernels.FactorSufficientStatistics<T>(x, 2, 3, 4, r, 2, 3, default, shift, means, projections, cross, sums, squares);
        Assert.Equal("posteriorProjections", Assert.Throws<ArgumentException>(() => GaussianKernels.FactorSufficientStatistics<T>(x, 2, 3, 4, r, 2, 3, default, shift, means, new T[11], cross, sums, squares)).ParamName);
        Assert.Equal("crossMoments", Assert.Throws<ArgumentException>(() => GaussianKernels.FactorSufficientStatistics<T>(x, 2, 3, 4, r, 2, 3, default, shift, means, projections, new double[11], sums, squares)).ParamName);
        Assert.Equal("factorSquares", Assert.Throws<ArgumentException>(() => GaussianKernels.FactorSufficientStatistics<T>(x, 2, 3, 4, r, 2, 3, default, shift, means, projections, cross, sums, new double[12])).ParamName);
        Assert.Equal("means", Assert.Throws<ArgumentException>(() => GaussianKernels.FactorSufficientStatistics<T>(x, 2, 3, 4, r, 2, 3, default, shift, new T[3], projections, cross, sums, squares)).ParamName);
        Assert.Equal("sampleWeights", Assert.Throws<ArgumentException>(() => GaussianKernels.FactorSufficientStatistics<T>(x, 2, 3, 4, r, 2, 3, new T[2], shift, means, projections, cross, sums, squares)).ParamName);
    }

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

    private static void CheckStatistics(KernelCase c)
    {
        int k = c.Components, d = c.Features, n = c.Points;
        Random random = c.Random();
        int q = random.Next(0, 10);
        bool weighted = random.Next(2) == 0;
        using var x = Buffers.Tile<T>(c, random);
        using var r = Buffers.Create<T>(c, k * n);
        using var weights = Buffers.Create<T>(c, weighted ? n : 0);
        using var shift = Buffers.Create<T>(c, k * d);
        using var means = Buffers.Create<T>(c, k * d);
        using var projections = Buffers.Create<T>(c, k * q * d);
        double[] cross = Enumerable.Range(0, k * d * q).Select(i => 0.25 * i).ToArray(); // added to, not overwritten
        double[] sums = Enumerable.Range(0, k * q).Select(i => -0.5 * i).ToArray();
        double[] squares = Enumerable.Range(0, k * q * q).Select(i => 0.125 * i).ToArray();
        double[] cross0 = (double[])cross.Clone(), sums0 = (double[])sums.Clone(), squares0 = (double[])squares.Clone();
        Values.Uniform<T>(r.Span, random, 0, 1, zeroProbability: 0.2);
        Values.Uniform<T>(weights.Span, random, 0, 3);
        Values.NearData<T>(shift.Span, random, c.Kind);
        Values.NearData<T>(means.Span, random, c.Kind);
        Values.Uniform<T>(projections.Span, random, -1, 1);
        double[] xs = Values.ToDouble<T>(x.Span), rs = Values.ToDouble<T>(r.Span), ws = Values.ToDouble<T>(weights.Span);
        double[] cs = Values.ToDouble<T>(shift.Span), mu = Values.ToDouble<T>(means.Span), b = Values.ToDouble<T>(projections.Span);

        GaussianKernels.FactorSufficientStatistics<T>(x.Span, d, n, c.Stride, r.Span, k, q, weights.Span, shift.Span, means.Span, projections.Span, cross, sums, squares);

        x.AssertCanariesIntact("x");
        r.AssertCanariesIntact("responsibilities");
        weights.AssertCanariesIntact("sampleWeights");
        shift.AssertCanariesIntact("shift");
        means.AssertCanariesIntact("means");
        projections.AssertCanariesIntact("posteriorProjections");
        for (int j = 0; j < k; j++)
        {
            // The reference in double: e per point (with the scale of its terms), then the three sums and their scales.
            double[] e = new double[n * q], eScale = new double[n * q];
            for (int i = 0; i < n; i++)
            {
                for (int l = 0; l < q; l++)
                {
                    for (int f = 0; f < d; f++)
                    {
                        double term = (xs[f * c.Stride + i] - mu[j * d + f]) * b[(j * q + l) * d + f];
                        e[i * q + l] += term;
                        eScale[i * q + l] += Math.Abs(term);
                    }
                }
            }

            double Weight(int i) => rs[j * n + i] * (weighted ? ws[i] : 1);
            for (int l = 0; l < q; l++)
            {
                double sum = 0, scale = 0;
                for (int i = 0; i < n; i++)
                {
                    sum += Weight(i) * e[i * q + l];
                    scale += Weight(i) * eScale[i * q + l];
                }

                Assert.True(Tolerance.IsClose<T>(sums0[j * q + l] + sum, sums[j * q + l], scale + Math.Abs(sums0[j * q + l]), 8 + 2 * d + 2 * n), $"factorSums[{j},{l}]: expected {sums0[j * q + l] + sum:R}, got {sums[j * q + l]:R}, q = {q}, in {c}");
                for (int m = 0; m < q; m++)
                {
                    double square = 0, squareScale = 0;
                    for (int i = 0; i < n; i++)
                    {
                        square += Weight(i) * e[i * q + l] * e[i * q + m];
                        squareScale += Weight(i) * eScale[i * q + l] * eScale[i * q + m];
                    }

                    double before = squares0[(j * q + l) * q + m];
                    Assert.True(Tolerance.IsClose<T>(before + square, squares[(j * q + l) * q + m], squareScale + Math.Abs(before), 8 + 4 * d + 2 * n), $"factorSquares[{j},{l},{m}]: expected {before + square:R}, got {squares[(j * q + l) * q + m]:R}, q = {q}, in {c}");
                }

                for (int f = 0; f < d; f++)
                {
                    double product = 0, productScale = 0;
                    for (int i = 0; i < n; i++)
                    {
                        double y = xs[f * c.Stride + i] - cs[j * d + f];
                        product += Weight(i) * y * e[i * q + l];
                        productScale += Weight(i) * Math.Abs(y) * eScale[i * q + l];
                    }

                    double before = cross0[(j * d + f) * q + l];
                    Assert.True(Tolerance.IsClose<T>(before + product, cross[(j * d + f) * q + l], productScale + Math.Abs(before), 8 + 2 * d + 2 * n), $"crossMoments[{j},{f},{l}]: expected {before + product:R}, got {cross[(j * d + f) * q + l]:R}, q = {q}, in {c}");
                }
            }
        }
    }
}
