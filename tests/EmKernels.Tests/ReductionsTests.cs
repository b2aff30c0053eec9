using System.Numerics;
using EmKernels.Kernels.Common;
using EmKernels.Tests.Infrastructure;
using Xunit;
using Gen = FsCheck.Fluent.Gen;

namespace EmKernels.Tests;

public sealed class ReductionsTestsSingle : ReductionsTests<float>;

public sealed class ReductionsTestsDouble : ReductionsTests<double>;

/// <summary>
/// The summary passes' reductions (<see cref="Reductions"/>) against value-by-value sums in double, for every length
/// from 0 past a few vector widths (so every tail), weighted and not, with the values at the end of a guarded buffer
/// (a read past the span crashes) and at any misalignment; finiteness against its definition with a NaN or an
/// infinity at a random place.
/// </summary>
public abstract class ReductionsTests<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    [Fact]
    public void WeightedSum_AndSquaredDeviations_MatchValueByValueSums() => Property.Run(Gen.Choose(0, int.MaxValue), seed =>
    {
        var random = new Random(seed);
        int length = random.Next(0, 4 * KernelCase.WidestVector<T>() + 40);
        double magnitude = Math.Pow(10, random.Next(-20, 21));
        bool weighted = random.Next(2) == 0;
        using var values = new GuardedBuffer<T>(length, random.Next(0, 8), 0, T.CreateTruncating(1e30));
        using var weights = new GuardedBuffer<double>(weighted ? length : 0, random.Next(0, 8), 0, 1e30);
        for (int i = 0; i < length; i++)
        {
            values.Span[i] = T.CreateTruncating(magnitude * (random.NextDouble() * 2 - 0.5));
            if (weighted)
            {
                weights.Span[i] = random.NextDouble() * 3;
            }
        }

        T centre = T.CreateTruncating(magnitude * random.NextDouble());
        double sum = 0, absolute = 0, squares = 0;
        for (int i = 0; i < length; i++)
        {
            double w = weighted ? weights.Span[i] : 1;
            double x = double.CreateTruncating(values.Span[i]);
            double deviation = double.CreateTruncating(values.Span[i] - centre);
            sum += w * x;
            absolute += Math.Abs(w * x);
            squares += w * deviation * deviation;
        }

        double actualSum = Reductions.WeightedSum<T>(values.Span, weights.Span);
        double actualSquares = Reductions.WeightedSquaredDeviations(values.Span, centre, weights.Span);
        Tolerance.AssertClose<double>(sum, actualSum, absolute, 4 * (length + 1), $"Σ w x, {length} values, weighted {weighted}");
        Tolerance.AssertClose<double>(squares, actualSquares, squares, 4 * (length + 1), $"Σ w (x − c)², {length} values, weighted {weighted}");
        values.AssertCanariesIntact("values");
    }, count: 500);

    [Fact]
    public void WeightedEntropy_MatchesTermByTermSums() => Property.Run(Gen.Choose(0, int.MaxValue), seed =>
    {
        // Log-probabilities with −∞ among them (and a point impossible under every component), their responsibilities and
        // normalizers computed here in double; Σ w r ln r term by term against the kernel's Σ w (Σ r log ρ − ℓ), within
        // guarded buffers, every tail length.
        var random = new Random(seed);
        int k = random.Next(1, 6), points = random.Next(0, 3 * KernelCase.WidestVector<T>() + 40);
        bool weighted = random.Next(2) == 0;
        using var r = new GuardedBuffer<T>(k * points, random.Next(0, 8), 0, T.CreateTruncating(1e30));
        using var logRho = new GuardedBuffer<T>(k * points, random.Next(0, 8), 0, T.CreateTruncating(1e30));
        using var lse = new GuardedBuffer<T>(points, random.Next(0, 8), 0, T.CreateTruncating(1e30));
        using var w = new GuardedBuffer<T>(weighted ? points : 0, random.Next(0, 8), 0, T.CreateTruncating(1e30));
        double expected = 0, scale = 0;
        int impossible = points > 0 ? random.Next(points) : -1;
        for (int i = 0; i < points; i++)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < k; j++)
            {
                T value = i == impossible || random.Next(5) == 0 ? T.NegativeInfinity : T.CreateTruncating(-60 * random.NextDouble());
                logRho.Span[j * points + i] = value;
                max = Math.Max(max, double.CreateTruncating(value));
            }

            double sum = 0;
            for (int j = 0; j < k; j++)
            {
                sum += Math.Exp(double.CreateTruncating(logRho.Span[j * points + i]) - max);
            }

            double l = double.IsFinite(max) ? max + Math.Log(sum) : double.NegativeInfinity;
            lse.Span[i] = T.CreateTruncating(l);
            double weight = weighted ? random.NextDouble() * 3 : 1;
            if (weighted)
            {
                w.Span[i] = T.CreateTruncating(weight);
            }

            for (int j = 0; j < k; j++)
            {
                double logR = double.CreateTruncating(logRho.Span[j * points + i]) - double.CreateTruncating(lse.Span[i]);
                double p = double.IsFinite(logR) ? Math.Exp(logR) : 0;
                r.Span[j * points + i] = T.CreateTruncating(p);
                double rounded = double.CreateTruncating(r.Span[j * points + i]);
                double term = rounded > 0 ? rounded * logR : 0;
                expected += double.CreateTruncating(T.CreateTruncating(weight)) * term;
                scale += rounded > 0 ? Math.Abs(weight) * rounded * (Math.Abs(double.CreateTruncating(logRho.Span[j * points + i])) + Math.Abs(l)) : 0;
            }
        }

        // The kernel's identity takes Σ_k r = 1, which responsibilities rounded to T meet within ε_T: an error of ε_T |ℓ| per point.
        double normalizers = 0;
        for (int i = 0; i < points; i++)
        {
            double l = double.CreateTruncating(lse.Span[i]);
            normalizers += double.IsFinite(l) ? (weighted ? double.CreateTruncating(w.Span[i]) : 1) * Math.Abs(l) : 0;
        }

        double actual = Reductions.WeightedEntropy<T>(r.Span, logRho.Span, lse.Span, k, points, w.Span);
        double unit = typeof(T) == typeof(float) ? Math.ScaleB(1.0, -24) : Math.ScaleB(1.0, -53);
        double allowed = 8 * (k + 2) * ((unit * normalizers) + (Math.ScaleB(1.0, -52) * scale));
        Assert.True(Math.Abs(actual - expected) <= allowed, $"Σ w r ln r, K = {k}, {points} points, weighted {weighted}: expected {expected:R}, got {actual:R}, allowed {allowed:E3}");
        r.AssertCanariesIntact("responsibilities");
        logRho.AssertCanariesIntact("log-probabilities");
    }, count: 500);

    [Fact]
    public void AllFinite_IsTrueExactlyWhenNoValueIsNaNOrInfinite() => Property.Run(Gen.Choose(0, int.MaxValue), seed =>
    {
        var random = new Random(seed);
        int length = random.Next(0, 4 * KernelCase.WidestVector<T>() + 40);
        using var values = new GuardedBuffer<T>(length, random.Next(0, 8), 0, T.NaN);
        for (int i = 0; i < length; i++)
        {
            values.Span[i] = random.Next(4) == 0 ? T.CreateTruncating(typeof(T) == typeof(float) ? float.MaxValue : double.MaxValue) : T.CreateTruncating(random.NextDouble() - 0.5);
        }

        bool expected = true;
        if (length > 0 && random.Next(3) > 0)
        {
            values.Span[random.Next(length)] = random.Next(3) switch { 0 => T.NaN, 1 => T.PositiveInfinity, _ => T.NegativeInfinity };
            expected = false;
        }

        Assert.Equal(expected, Reductions.AllFinite<T>(values.Span));
    }, count: 500);

    [Fact]
    public void MismatchedWeights_AreRefused()
    {
        T[] values = new T[5];
        Assert.Throws<ArgumentException>(() => Reductions.WeightedSum<T>(values, new double[4]));
        Assert.Throws<ArgumentException>(() => Reductions.WeightedSquaredDeviations<T>(values, T.Zero, new double[6]));
    }
}
