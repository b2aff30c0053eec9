using System.Numerics;
using EmKernels.Kernels;
using EmKernels.Tests.Infrastructure;
using EmKernels.Tests.Reference;
using Xunit;

namespace EmKernels.Tests;

public sealed class FullCovarianceKernelsTestsSingle : FullCovarianceKernelsTests<float>;

public sealed class FullCovarianceKernelsTestsDouble : FullCovarianceKernelsTests<double>;

/// <summary>Full and tied log-densities and scatter matrices against their scalar references.</summary>
public abstract class FullCovarianceKernelsTests<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private static readonly ValueKind[] DataKinds = [ValueKind.Moderate, ValueKind.LargeOffset, ValueKind.Specials];

    [Fact]
    public void FullLogDensity_MatchesReference() => Property.Check(KernelCase.Small<T>(DataKinds), c => CheckLogDensity(c, tied: false));

    [Fact]
    public void TiedLogDensity_MatchesReference() => Property.Check(KernelCase.Small<T>(DataKinds), c => CheckLogDensity(c, tied: true));

    [Fact]
    public void FullSufficientStatistics_MatchesReference() => Property.Check(KernelCase.Small<T>(DataKinds), c => CheckScatter(c, tied: false));

    [Fact]
    public void TiedSufficientStatistics_MatchesReference() => Property.Check(KernelCase.Small<T>(DataKinds), c => CheckScatter(c, tied: true));

    [Fact]
    public void FullSufficientStatistics_MatchesReference_LongBlocks() => Property.Check(KernelCase.Long(DataKinds), c => CheckScatter(c, tied: false), 100);

    /// <summary>The shapes the EM loop calls with (256-point tiles, many features): whole register blocks and long dot products.</summary>
    [Theory]
    [InlineData(16, 256, 32, false)]
    [InlineData(16, 256, 32, true)]
    [InlineData(5, 256, 13, false)]
    [InlineData(3, 700, 9, true)]
    public void SufficientStatistics_MatchReference_OnLoopSizedTiles(int components, int points, int features, bool tied)
    {
        for (int seed = 0; seed < 3; seed++)
        {
            CheckScatter(new KernelCase(components, points, features, 0, seed, 0, seed == 1, ValueKind.Moderate, seed), tied);
            CheckLogDensity(new KernelCase(components, points, features, 5, seed, 0, false, ValueKind.Moderate, seed), tied);
        }
    }

    [Fact]
    public void FullLogDensity_WithPreparedParameters_IsTheNormalLogDensity()
    {
        // Σ = [[2, 0.6], [0.6, 1]]: det = 1.64, Σ⁻¹ = [[1, −0.6], [−0.6, 2]] / 1.64, written out by hand.
        double[] covariance = [2, 0.6, 0.6, 1];
        T[] x = [T.CreateTruncating(1.5), T.CreateTruncating(-0.5)];
        T[] mean = [T.CreateTruncating(0.25), T.CreateTruncating(0.5)];
        T[] factor = new T[4];
        T[] offset = new T[1];
        T[] result = new T[1];
        GaussianKernels.FullParameters<T>(covariance, 1, 2, [Math.Log(0.4)], factor, offset);
        GaussianKernels.FullLogDensity<T>(x, 2, 1, 1, 1, mean, factor, offset, result);
        double d0 = 1.25, d1 = -1.0;
        double mahalanobis = (d0 * d0 * 1 - 2 * 0.6 * d0 * d1 + 2 * d1 * d1) / 1.64;
        double expected = Math.Log(0.4) - Math.Log(2 * Math.PI) - 0.5 * Math.Log(1.64) - 0.5 * mahalanobis;
        Tolerance.AssertClose<T>(expected, result[0], 10, 8, "log w + log N");
        Assert.Equal(T.Zero, factor[2]); // below the diagonal
    }

    [Fact]
    public void FullParameters_RejectsCovariancesThatAreNotSymmetricPositiveDefinite()
    {
        T[] factor = new T[4];
        T[] offset = new T[1];
        Assert.Equal("covariances", Assert.Throws<ArgumentException>(() => GaussianKernels.FullParameters<T>([1, 2, 2, 1], 1, 2, default, factor, offset)).ParamName);
        Assert.Equal("covariances", Assert.Throws<ArgumentException>(() => GaussianKernels.FullParameters<T>([1, 0.5, 0.4, 1], 1, 2, default, factor, offset)).ParamName);
        Assert.Equal("covariances", Assert.Throws<ArgumentException>(() => GaussianKernels.FullParameters<T>([1, 0, 0, double.NaN], 1, 2, default, factor, offset)).ParamName);
    }

    [Fact]
    public void Kernels_RejectInconsistentShapes()
    {
        T[] x = new T[7];
        T[] means = new T[4];
        T[] offsets = new T[2];
        T[] destination = new T[6];
        Assert.Equal("precisionCholesky", Assert.Throws<ArgumentException>(() => GaussianKernels.FullLogDensity<T>(x, 2, 3, 4, 2, means, new T[4], offsets, destination)).ParamName);
        Assert.Equal("precisionCholesky", Assert.Throws<ArgumentException>(() => GaussianKernels.TiedLogDensity<T>(x, 2, 3, 4, 2, means, new T[8], offsets, destination)).ParamName);
        Assert.Equal("x", Assert.Throws<ArgumentException>(() => GaussianKernels.FullLogDensity<T>(new T[6], 2, 3, 4, 2, means, new T[8], offsets, destination)).ParamName);
        T[] r = new T[6];
        Assert.Equal("scatter", Assert.Throws<ArgumentException>(() => GaussianKernels.FullSufficientStatistics<T>(x, 2, 3, 4, r, 2, default, means, new double[2], new double[4], new double[4])).ParamName);
        Assert.Equal("scatter", Assert.Throws<ArgumentException>(() => GaussianKernels.TiedSufficientStatistics<T>(x, 2, 3, 4, r, 2, default, means, new double[2], new double[4], new double[8])).ParamName);
        Assert.Equal("responsibilities", Assert.Throws<ArgumentException>(() => GaussianKernels.TiedSufficientStatistics<T>(x, 2, 3, 4, new T[5], 2, default, means, new double[2], new double[4], new double[4])).ParamName);
    }

    private static void CheckLogDensity(KernelCase c, bool tied)
    {
        int k = c.Components;
        int d = c.Features;
        int factorStride = tied ? 0 : d * d;
        Random random = c.Random();
        using var x = Buffers.Tile<T>(c, random);
        using var means = Buffers.Create<T>(c, k * d);
        using var factors = Buffers.Create<T>(c, (tied ? 1 : k) * d * d);
        using var offsets = Buffers.Create<T>(c, k);
        using var destination = Buffers.Create<T>(c, k * c.Points);
        Values.NearData<T>(means.Span, random, c.Kind);
        Values.Uniform<T>(offsets.Span, random, -10, 10);
        FillUpperTriangular(factors.Span, d, random);
        double[] xs = Values.ToDouble<T>(x.Span);
        var expected = ReferenceKernels.TriangularLogDensity(xs, d, c.Points, c.Stride, k, Values.ToDouble<T>(means.Span), Values.ToDouble<T>(factors.Span), factorStride, Values.ToDouble<T>(offsets.Span));

        if (tied)
        {
            GaussianKernels.TiedLogDensity<T>(x.Span, d, c.Points, c.Stride, k, means.Span, factors.Span, offsets.Span, destination.Span);
        }
        else
        {
            GaussianKernels.FullLogDensity<T>(x.Span, d, c.Points, c.Stride, k, means.Span, factors.Span, offsets.Span, destination.Span);
        }

        x.AssertCanariesIntact("x");
        means.AssertCanariesIntact("means");
        factors.AssertCanariesIntact("precisionCholesky");
        offsets.AssertCanariesIntact("offsets");
        destination.AssertCanariesIntact("destination");
        for (int i = 0; i < expected.Values.Length; i++)
        {
            Tolerance.AssertClose<T>(expected.Values[i], destination.Span[i], expected.Scale[i], 4 + 2 * d, () => $"log-density [{i / c.Points},{i % c.Points}] in {c}");
        }
    }

    /// <summary>A well-conditioned upper-triangular factor per matrix; below the diagonal NaN, which must never be read.</summary>
    private static void FillUpperTriangular(Span<T> factors, int d, Random random)
    {
        for (int m = 0; m < factors.Length / (d * d); m++)
        {
            for (int i = 0; i < d; i++)
            {
                for (int j = 0; j < d; j++)
                {
                    double value = i == j ? 0.5 + 1.5 * random.NextDouble() : i < j ? random.NextDouble() - 0.5 : double.NaN;
                    factors[m * d * d + i * d + j] = T.CreateTruncating(value);
                }
            }
        }
    }

    private static void CheckScatter(KernelCase c, bool tied)
    {
        int k = c.Components;
        int d = c.Features;
        int scatterStride = tied ? 0 : d * d;
        Random random = c.Random();
        using var x = Buffers.Tile<T>(c, random);
        using var r = Buffers.Create<T>(c, k * c.Points);
        using var weights = Buffers.Create<T>(c, c.Weighted ? c.Points : 0);
        using var shift = Buffers.Create<T>(c, k * d);
        using var mass = new GuardedBuffer<double>(k, c.Misalignment, c.Gap, double.NaN);
        using var first = new GuardedBuffer<double>(k * d, c.Misalignment, c.Gap, double.NaN);
        using var scatter = new GuardedBuffer<double>((tied ? 1 : k) * d * d, c.Misalignment, c.Gap, double.NaN);
        Values.Uniform<T>(r.Span, random, 0, 1, zeroProbability: 0.2);
        Values.Uniform<T>(weights.Span, random, 0, 3, zeroProbability: 0.1);
        Values.NearData<T>(shift.Span, random, c.Kind);
        Values.Uniform<double>(mass.Span, random, -5, 5);
        Values.Uniform<double>(first.Span, random, -5, 5);
        Values.Uniform<double>(scatter.Span, random, -5, 5);
        double[] scatter0 = scatter.Span.ToArray();

        // v = w·r as the kernel forms it, in the element type.
        double[] v = new double[k * c.Points];
        for (int j = 0; j < k; j++)
        {
            for (int n = 0; n < c.Points; n++)
            {
                T value = c.Weighted ? r.Span[j * c.Points + n] * weights.Span[n] : r.Span[j * c.Points + n];
                v[j * c.Points + n] = double.CreateTruncating(value);
            }
        }

        double[] xs = Values.ToDouble<T>(x.Span);
        double[] cs = Values.ToDouble<T>(shift.Span);
        var expected = ReferenceKernels.Scatter(xs, d, c.Points, c.Stride, v, k, cs, scatterStride);
        var moments = ReferenceKernels.SufficientStatistics(xs, d, c.Points, c.Stride, v, k, default, cs);
        double[] mass0 = mass.Span.ToArray();
        double[] first0 = first.Span.ToArray();

        if (tied)
        {
            GaussianKernels.TiedSufficientStatistics<T>(x.Span, d, c.Points, c.Stride, r.Span, k, weights.Span, shift.Span, mass.Span, first.Span, scatter.Span);
        }
        else
        {
            GaussianKernels.FullSufficientStatistics<T>(x.Span, d, c.Points, c.Stride, r.Span, k, weights.Span, shift.Span, mass.Span, first.Span, scatter.Span);
        }

        x.AssertCanariesIntact("x");
        r.AssertCanariesIntact("responsibilities");
        weights.AssertCanariesIntact("sampleWeights");
        shift.AssertCanariesIntact("shift");
        mass.AssertCanariesIntact("weightSums");
        first.AssertCanariesIntact("firstMoments");
        scatter.AssertCanariesIntact("scatter");
        // Summation in T over up to 256 points; the pooled (tied) scatter also adds K chunk sums into one accumulator.
        double factor = 8 + Math.Min(c.Points, 256) / 4.0 + (tied ? k : 0);
        for (int j = 0; j < k; j++)
        {
            Accumulated(mass0[j], moments.Mass[j], moments.Mass[j], mass.Span[j], factor, () => $"N[{j}] in {c}");
            for (int f = 0; f < d; f++)
            {
                Accumulated(first0[j * d + f], moments.First[j * d + f], moments.FirstScale[j * d + f], first.Span[j * d + f], factor, () => $"S1[{j},{f}] in {c}");
            }
        }

        for (int m = 0; m < (tied ? 1 : k); m++)
        {
            for (int a = 0; a < d; a++)
            {
                for (int b = 0; b < d; b++)
                {
                    int i = m * d * d + a * d + b;
                    if (a > b)
                    {
                        Assert.Equal(scatter0[i], scatter.Span[i]); // the strictly lower triangle is never touched
                    }
                    else
                    {
                        Accumulated(scatter0[i], expected.Scatter[i], expected.Scale[i], scatter.Span[i], factor, () => $"S[{m}][{a},{b}] in {c}");
                    }
                }
            }
        }
    }

    private static void Accumulated(double start, double sum, double termScale, double actual, double factor, Func<string> what)
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
