using System.Numerics;
using EmKernels.Kernels;
using EmKernels.Tests.Infrastructure;
using EmKernels.Tests.Reference;
using Xunit;

namespace EmKernels.Tests;

public sealed class GaussianKernelsTestsSingle : GaussianKernelsTests<float>;

public sealed class GaussianKernelsTestsDouble : GaussianKernelsTests<double>;

/// <summary>Diagonal and spherical log-densities and sufficient statistics against their scalar references.</summary>
public abstract class GaussianKernelsTests<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private static readonly ValueKind[] DataKinds = [ValueKind.Moderate, ValueKind.LargeOffset, ValueKind.Specials];

    [Fact]
    public void DiagonalLogDensity_MatchesReference() => Property.Check(KernelCase.Small<T>(DataKinds), c => CheckLogDensity(c, spherical: false));

    [Fact]
    public void SphericalLogDensity_MatchesReference() => Property.Check(KernelCase.Small<T>(DataKinds), c => CheckLogDensity(c, spherical: true));

    [Fact]
    public void DiagonalSufficientStatistics_MatchesReference() => Property.Check(KernelCase.Small<T>(DataKinds), CheckSufficientStatistics);

    [Fact]
    public void DiagonalSufficientStatistics_MatchesReference_LongBlocks() => Property.Check(KernelCase.Long(DataKinds), CheckSufficientStatistics, 100);

    [Fact]
    public void LogDensity_WithPreparedParameters_IsTheNormalLogDensity()
    {
        // log w + log N(x | μ, diag σ²) written out from its definition, for one point and two components.
        T[] x = [T.CreateTruncating(0.5), T.CreateTruncating(-1.25)];
        T[] means = [T.Zero, T.One, T.CreateTruncating(2), T.CreateTruncating(-1)];
        double[] variances = [0.5, 2, 3, 0.25];
        double[] logWeights = [Math.Log(0.3), Math.Log(0.7)];
        T[] precisions = new T[4];
        T[] offsets = new T[2];
        T[] result = new T[2];
        GaussianKernels.DiagonalParameters<T>(variances, 2, 2, logWeights, precisions, offsets);
        GaussianKernels.DiagonalLogDensity<T>(x, 2, 1, 1, 2, means, precisions, offsets, result);
        for (int k = 0; k < 2; k++)
        {
            double expected = Math.Log(k == 0 ? 0.3 : 0.7);
            for (int d = 0; d < 2; d++)
            {
                double v = variances[k * 2 + d];
                double diff = double.CreateTruncating(x[d]) - double.CreateTruncating(means[k * 2 + d]);
                expected += -0.5 * Math.Log(2 * Math.PI * v) - diff * diff / (2 * v);
            }

            Tolerance.AssertClose<T>(expected, result[k], 10, 8, $"diagonal component {k}");
        }

        double[] sphericalVariances = [0.5, 3];
        T[] sphericalPrecisions = new T[2];
        GaussianKernels.SphericalParameters<T>(sphericalVariances, 2, logWeights, sphericalPrecisions, offsets);
        GaussianKernels.SphericalLogDensity<T>(x, 2, 1, 1, 2, means, sphericalPrecisions, offsets, result);
        for (int k = 0; k < 2; k++)
        {
            double v = sphericalVariances[k];
            double expected = Math.Log(k == 0 ? 0.3 : 0.7) - Math.Log(2 * Math.PI * v);
            for (int d = 0; d < 2; d++)
            {
                double diff = double.CreateTruncating(x[d]) - double.CreateTruncating(means[k * 2 + d]);
                expected -= diff * diff / (2 * v);
            }

            Tolerance.AssertClose<T>(expected, result[k], 10, 8, $"spherical component {k}");
        }
    }

    [Fact]
    public void SufficientStatistics_AboutTheShift_KeepTheSpreadOfDataFarFromTheOrigin()
    {
        // Points 1e6 + {−1, 0, +1}: variance 2/3. Uncentred float sums (Σx² − N μ²) would lose it entirely.
        T[] x = [T.CreateTruncating(1e6 - 1), T.CreateTruncating(1e6), T.CreateTruncating(1e6 + 1)];
        T[] r = [T.One, T.One, T.One];
        double[] mass = new double[1];
        double[] first = new double[1];
        double[] second = new double[1];
        GaussianKernels.DiagonalSufficientStatistics<T>(x, 1, 3, 3, r, 1, default, [T.CreateTruncating(1e6)], mass, first, second);
        double mean = first[0] / mass[0];
        Assert.Equal(0, mean);
        Assert.Equal(2.0 / 3.0, second[0] / mass[0] - mean * mean, 12);
    }

    [Fact]
    public void Parameters_RejectNonPositiveVariances()
    {
        T[] precisions = new T[2];
        T[] offsets = new T[1];
        Assert.Equal("variances", Assert.Throws<ArgumentException>(() => GaussianKernels.DiagonalParameters<T>([1.0, 0.0], 1, 2, default, precisions, offsets)).ParamName);
        Assert.Equal("variances", Assert.Throws<ArgumentException>(() => GaussianKernels.DiagonalParameters<T>([1.0, double.NaN], 1, 2, default, precisions, offsets)).ParamName);
        Assert.Equal("variances", Assert.Throws<ArgumentException>(() => GaussianKernels.SphericalParameters<T>([double.PositiveInfinity], 2, default, new T[1], offsets)).ParamName);
    }

    [Fact]
    public void Kernels_RejectInconsistentShapes()
    {
        // A valid call: D = 2, B = 3, stride 4, K = 2.
        T[] x = new T[7];
        T[] means = new T[4];
        T[] precisions = new T[4];
        T[] offsets = new T[2];
        T[] destination = new T[6];
        GaussianKernels.DiagonalLogDensity<T>(x, 2, 3, 4, 2, means, precisions, offsets, destination);
        Assert.Equal("x", Assert.Throws<ArgumentException>(() => GaussianKernels.DiagonalLogDensity<T>(new T[6], 2, 3, 4, 2, means, precisions, offsets, destination)).ParamName);
        Assert.Equal("stride", Assert.Throws<ArgumentOutOfRangeException>(() => GaussianKernels.DiagonalLogDensity<T>(x, 2, 3, 2, 2, means, precisions, offsets, destination)).ParamName);
        Assert.Equal("means", Assert.Throws<ArgumentException>(() => GaussianKernels.DiagonalLogDensity<T>(x, 2, 3, 4, 2, new T[3], precisions, offsets, destination)).ParamName);
        Assert.Equal("precisions", Assert.Throws<ArgumentException>(() => GaussianKernels.DiagonalLogDensity<T>(x, 2, 3, 4, 2, means, new T[2], offsets, destination)).ParamName);
        Assert.Equal("precisions", Assert.Throws<ArgumentException>(() => GaussianKernels.SphericalLogDensity<T>(x, 2, 3, 4, 2, means, new T[4], offsets, destination)).ParamName);
        Assert.Equal("offsets", Assert.Throws<ArgumentException>(() => GaussianKernels.DiagonalLogDensity<T>(x, 2, 3, 4, 2, means, precisions, new T[3], destination)).ParamName);
        Assert.Equal("destination", Assert.Throws<ArgumentException>(() => GaussianKernels.DiagonalLogDensity<T>(x, 2, 3, 4, 2, means, precisions, offsets, new T[5])).ParamName);
        Assert.Equal("features", Assert.Throws<ArgumentOutOfRangeException>(() => GaussianKernels.SphericalLogDensity<T>(x, 0, 3, 4, 2, means, new T[2], offsets, destination)).ParamName);

        T[] r = new T[6];
        double[] mass = new double[2];
        double[] moments = new double[4];
        GaussianKernels.DiagonalSufficientStatistics<T>(x, 2, 3, 4, r, 2, default, means, mass, moments, new double[4]);
        Assert.Equal("responsibilities", Assert.Throws<ArgumentException>(() => GaussianKernels.DiagonalSufficientStatistics<T>(x, 2, 3, 4, new T[5], 2, default, means, mass, moments, new double[4])).ParamName);
        Assert.Equal("sampleWeights", Assert.Throws<ArgumentException>(() => GaussianKernels.DiagonalSufficientStatistics<T>(x, 2, 3, 4, r, 2, new T[2], means, mass, moments, new double[4])).ParamName);
        Assert.Equal("shift", Assert.Throws<ArgumentException>(() => GaussianKernels.DiagonalSufficientStatistics<T>(x, 2, 3, 4, r, 2, default, new T[2], mass, moments, new double[4])).ParamName);
        Assert.Equal("weightSums", Assert.Throws<ArgumentException>(() => GaussianKernels.DiagonalSufficientStatistics<T>(x, 2, 3, 4, r, 2, default, means, new double[1], moments, new double[4])).ParamName);
        Assert.Equal("firstMoments", Assert.Throws<ArgumentException>(() => GaussianKernels.DiagonalSufficientStatistics<T>(x, 2, 3, 4, r, 2, default, means, mass, new double[3], new double[4])).ParamName);
        Assert.Equal("secondMoments", Assert.Throws<ArgumentException>(() => GaussianKernels.DiagonalSufficientStatistics<T>(x, 2, 3, 4, r, 2, default, means, mass, moments, new double[5])).ParamName);
        Assert.Equal("x", Assert.Throws<ArgumentException>(() => GaussianKernels.DiagonalSufficientStatistics<T>(new T[4], 2, 3, 4, r, 2, default, means, mass, moments, new double[4])).ParamName);
    }

    private static void CheckLogDensity(KernelCase c, bool spherical)
    {
        int k = c.Components;
        int d = c.Features;
        Random random = c.Random();
        using var x = Buffers.Tile<T>(c, random);
        using var means = Buffers.Create<T>(c, k * d);
        using var precisions = Buffers.Create<T>(c, spherical ? k : k * d);
        using var offsets = Buffers.Create<T>(c, k);
        using var destination = Buffers.Create<T>(c, k * c.Points);
        Values.NearData<T>(means.Span, random, c.Kind);
        Values.Uniform<T>(precisions.Span, random, 0.1, 10);
        Values.Uniform<T>(offsets.Span, random, -10, 10);
        double[] xs = Values.ToDouble<T>(x.Span);
        double[] mu = Values.ToDouble<T>(means.Span);
        double[] p = Values.ToDouble<T>(precisions.Span);
        double[] o = Values.ToDouble<T>(offsets.Span);
        double[] expected = ReferenceKernels.LogDensity(xs, d, c.Points, c.Stride, k, mu, p, o, spherical);
        double[] scale = ReferenceKernels.LogDensityScale(xs, d, c.Points, c.Stride, k, mu, p, o, spherical);

        if (spherical)
        {
            GaussianKernels.SphericalLogDensity<T>(x.Span, d, c.Points, c.Stride, k, means.Span, precisions.Span, offsets.Span, destination.Span);
        }
        else
        {
            GaussianKernels.DiagonalLogDensity<T>(x.Span, d, c.Points, c.Stride, k, means.Span, precisions.Span, offsets.Span, destination.Span);
        }

        x.AssertCanariesIntact("x");
        means.AssertCanariesIntact("means");
        precisions.AssertCanariesIntact("precisions");
        offsets.AssertCanariesIntact("offsets");
        destination.AssertCanariesIntact("destination");
        for (int i = 0; i < expected.Length; i++)
        {
            Tolerance.AssertClose<T>(expected[i], destination.Span[i], scale[i], 4 + 2 * d, () => $"log-density [{i / Math.Max(1, c.Points)},{i % Math.Max(1, c.Points)}] in {c}");
        }
    }

    private static void CheckSufficientStatistics(KernelCase c)
    {
        int k = c.Components;
        int d = c.Features;
        Random random = c.Random();
        using var x = Buffers.Tile<T>(c, random);
        using var r = Buffers.Create<T>(c, k * c.Points);
        using var weights = Buffers.Create<T>(c, c.Weighted ? c.Points : 0);
        using var shift = Buffers.Create<T>(c, k * d);
        using var mass = new GuardedBuffer<double>(k, c.Misalignment, c.Gap, double.NaN);
        using var first = new GuardedBuffer<double>(k * d, c.Misalignment, c.Gap, double.NaN);
        using var second = new GuardedBuffer<double>(k * d, c.Misalignment, c.Gap, double.NaN);
        Values.Uniform<T>(r.Span, random, 0, 1, zeroProbability: 0.2);
        Values.Uniform<T>(weights.Span, random, 0, 3, zeroProbability: 0.1);
        Values.NearData<T>(shift.Span, random, c.Kind);

        // The kernel adds to its accumulators: start them at arbitrary values.
        Values.Uniform<double>(mass.Span, random, -5, 5);
        Values.Uniform<double>(first.Span, random, -5, 5);
        Values.Uniform<double>(second.Span, random, -5, 5);
        double[] mass0 = mass.Span.ToArray();
        double[] first0 = first.Span.ToArray();
        double[] second0 = second.Span.ToArray();

        double[] rs = Values.ToDouble<T>(r.Span);
        double[] ws = Values.ToDouble<T>(weights.Span);

        // w·r is formed in the element type by the kernel; the reference sees the same rounded product.
        if (c.Weighted)
        {
            for (int j = 0; j < k; j++)
            {
                for (int n = 0; n < c.Points; n++)
                {
                    rs[j * c.Points + n] = double.CreateTruncating(r.Span[j * c.Points + n] * weights.Span[n]);
                }
            }
        }

        var expected = ReferenceKernels.SufficientStatistics(Values.ToDouble<T>(x.Span), d, c.Points, c.Stride, rs, k, default, Values.ToDouble<T>(shift.Span));

        GaussianKernels.DiagonalSufficientStatistics<T>(x.Span, d, c.Points, c.Stride, r.Span, k, weights.Span, shift.Span, mass.Span, first.Span, second.Span);

        x.AssertCanariesIntact("x");
        r.AssertCanariesIntact("responsibilities");
        weights.AssertCanariesIntact("sampleWeights");
        shift.AssertCanariesIntact("shift");
        mass.AssertCanariesIntact("weightSums");
        first.AssertCanariesIntact("firstMoments");
        second.AssertCanariesIntact("secondMoments");

        // Summation in T over up to 1024 points: error grows with the number of vector adds per lane.
        double factor = 8 + Math.Min(c.Points, 1024) / 4.0;
        for (int j = 0; j < k; j++)
        {
            AssertAccumulated(mass0[j], expected.Mass[j], expected.Mass[j], mass.Span[j], factor, () => $"N[{j}] in {c}");
            for (int f = 0; f < d; f++)
            {
                int i = j * d + f;
                AssertAccumulated(first0[i], expected.First[i], expected.FirstScale[i], first.Span[i], factor, () => $"S1[{j},{f}] in {c}");
                AssertAccumulated(second0[i], expected.Second[i], expected.SecondScale[i], second.Span[i], factor, () => $"S2[{j},{f}] in {c}");
            }
        }
    }

    /// <summary>The accumulator must hold start + sum, with the sum as exact as T allows at the scale of its terms.</summary>
    private static void AssertAccumulated(double start, double sum, double termScale, double actual, double factor, Func<string> what)
    {
        double increment = actual - start;
        if (!double.IsFinite(sum))
        {
            Tolerance.AssertClose<double>(sum, increment, 0, 0, what);
            return;
        }

        Tolerance.AssertClose<T>(sum, T.CreateTruncating(increment), termScale + Math.Abs(start) * Tolerance.Epsilon<double>() / Tolerance.Epsilon<T>(), factor, what);
    }
}
