using System.Numerics;
using EmKernels.Engine;
using EmKernels.Mixtures;
using EmKernels.Tests.Infrastructure;
using Gen = FsCheck.Fluent.Gen;

using Xunit;

namespace EmKernels.Tests;

public sealed class SufficientStatisticsTestsSingle : SufficientStatisticsTests<float>;

public sealed class SufficientStatisticsTestsDouble : SufficientStatisticsTests<double>;

/// <summary>The statistics value: merge, scale, interpolation and serialization, for every family.</summary>
public abstract class SufficientStatisticsTests<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private static readonly double Rounding = typeof(T) == typeof(float) ? 2e-4 : 1e-10;

    /// <summary>s(A) ⊕ s(B) = s(A ∪ B) within rounding, for every family, any split and sample weights or none.</summary>
    [Fact]
    public void MergeOfTwoParts_IsTheStatisticsOfTheWhole() => Property.Run(Gen.Choose(0, int.MaxValue), seed =>
    {
        var random = new Random(seed);
        string family = Models.Families[random.Next(Models.Families.Length)];
        int k = random.Next(1, 5), d = Models.FeaturesOf(family, random.Next(1, 6)), n = random.Next(1, 1500);
        int split = random.Next(0, n + 1);
        double[] x = Models.Data(family, n, d, random);
        T[]? weights = random.Next(2) == 0 ? null : Enumerable.Range(0, n).Select(_ => T.CreateTruncating(random.NextDouble() * 2)).ToArray();
        FiniteMixture<T> model = Models.Random<T>(family, k, d, random);
        model.PrepareExpectation(reshift: true);
        SufficientStatistics whole = Accumulate(model, x, d, 0, n, weights);
        SufficientStatistics merged = Accumulate(model, x, d, 0, split, weights);
        merged.Add(Accumulate(model, x, d, split, n, weights));
        AssertClose(whole, merged, $"{family}, K = {k}, D = {d}, N = {n}, split at {split}");
    });

    [Fact]
    public void Serialization_RoundTripsBitwise() => Property.Run(Gen.Choose(0, int.MaxValue), seed =>
    {
        var random = new Random(seed);
        string family = Models.Families[random.Next(Models.Families.Length)];
        int k = random.Next(1, 6), d = Models.FeaturesOf(family, random.Next(1, 8));
        FiniteMixture<T> model = Models.Random<T>(family, k, d, random);
        model.PrepareExpectation(reshift: true);
        var statistics = new SufficientStatistics(model.StatisticsLayout);
        Span<double> values = statistics.Values;
        double[] specials = [0.0, -0.0, double.Epsilon, -double.Epsilon, double.MaxValue, double.NaN, double.PositiveInfinity, 1e-310];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = random.Next(8) == 0 ? specials[random.Next(specials.Length)] : (random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-300, 300));
        }

        byte[] bytes = statistics.ToBytes();
        SufficientStatistics back = SufficientStatistics.FromBytes(bytes, model.StatisticsLayout);
        Assert.Equal(statistics.Layout, back.Layout);
        for (int i = 0; i < values.Length; i++)
        {
            Assert.Equal(BitConverter.DoubleToInt64Bits(values[i]), BitConverter.DoubleToInt64Bits(back.Values[i]));
        }
    });

    [Fact]
    public void Deserialization_RefusesWhatIsNotItsOwn()
    {
        var layout = new StatisticsLayout("test/1", new StatisticsBlock("shift", 2, IsShift: true), new StatisticsBlock("mass", 3));
        var statistics = new SufficientStatistics(layout);
        statistics.Values.Fill(1.5);
        byte[] bytes = statistics.ToBytes();

        Assert.Contains("EMKS", Assert.Throws<ArgumentException>(() => SufficientStatistics.FromBytes("nonsense"u8, layout)).Message, StringComparison.Ordinal);
        Assert.Contains("truncated", Assert.Throws<ArgumentException>(() => SufficientStatistics.FromBytes(bytes.AsSpan(0, bytes.Length - 1), layout)).Message, StringComparison.Ordinal);
        Assert.Contains("too long", Assert.Throws<ArgumentException>(() => SufficientStatistics.FromBytes([.. bytes, 0], layout)).Message, StringComparison.Ordinal);
        byte[] otherVersion = (byte[])bytes.Clone();
        otherVersion[4] = 2;
        Assert.Contains("version 2", Assert.Throws<ArgumentException>(() => SufficientStatistics.FromBytes(otherVersion, layout)).Message, StringComparison.Ordinal);
        var other = new StatisticsLayout("test/1", new StatisticsBlock("shift", 2, IsShift: true), new StatisticsBlock("mass", 4));
        Assert.Contains("layout", Assert.Throws<ArgumentException>(() => SufficientStatistics.FromBytes(bytes, other)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Merging_RequiresTheSameShiftAndLayout()
    {
        var layout = new StatisticsLayout("test/1", new StatisticsBlock("shift", 2, IsShift: true), new StatisticsBlock("mass", 3));
        var a = new SufficientStatistics(layout);
        var b = new SufficientStatistics(layout);
        b.Shift[1] = 1e-300;
        Assert.False(a.CanMergeWith(b));
        Assert.Contains("shifts", Assert.Throws<ArgumentException>(() => a.Add(b)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => a.Lerp(b, 0.5));
        var c = new SufficientStatistics(new StatisticsLayout("other/1", new StatisticsBlock("shift", 2, IsShift: true), new StatisticsBlock("mass", 3)));
        Assert.Throws<ArgumentException>(() => a.Add(c));
        Assert.Throws<ArgumentException>(() => new StatisticsLayout("bad/1", new StatisticsBlock("mass", 3), new StatisticsBlock("shift", 2, IsShift: true)));
    }

    [Fact]
    public void ScaleAndLerp_AreTheArithmeticTheySay()
    {
        var layout = new StatisticsLayout("test/1", new StatisticsBlock("shift", 2, IsShift: true), new StatisticsBlock("sums", 5));
        var s = new SufficientStatistics(layout);
        var t = new SufficientStatistics(layout);
        double[] a = [1, -2, 3.5, 1e-300, 7e200];
        double[] b = [0.25, 8, -3, 2e-300, -1e200];
        a.CopyTo(s.Sums);
        b.CopyTo(t.Sums);
        s.Shift.Fill(4);
        t.Shift.Fill(4);

        s.Lerp(t, 1);
        Assert.Equal(b, s.Sums.ToArray()); // γ = 1: ŝ exactly
        a.CopyTo(s.Sums);
        s.Lerp(t, 0);
        Assert.Equal(a, s.Sums.ToArray()); // γ = 0: s unchanged
        s.Lerp(t, 0.25);
        for (int i = 0; i < a.Length; i++)
        {
            Assert.Equal(0.75 * a[i] + 0.25 * b[i], s.Sums[i], Math.Abs(0.75 * a[i] + 0.25 * b[i]) * 1e-15);
        }

        b.CopyTo(s.Sums);
        s.Scale(0.5);
        Assert.Equal(b.Select(v => v * 0.5).ToArray(), s.Sums.ToArray());
        Assert.Equal([4.0, 4.0], s.Shift.ToArray()); // the shift is not a sum
        s.Clear();
        Assert.All(s.Sums.ToArray(), v => Assert.Equal(0, v));
        Assert.Equal([4.0, 4.0], s.Shift.ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Lerp(t, 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Scale(double.NaN));
    }

    /// <summary>The E-step statistics of rows [from, to) through the model's public contract, tile by tile.</summary>
    internal static SufficientStatistics Accumulate(IExpectationMaximizationModel<T> model, double[] x, int d, int from, int to, T[]? weights)
    {
        var statistics = new SufficientStatistics(model.StatisticsLayout);
        model.ResetStatistics(statistics);
        int n = to - from;
        if (n == 0)
        {
            return statistics;
        }

        var matrix = FeatureMajorMatrix<T>.FromRowMajor(x.AsSpan(from * d, n * d).ToArray().Select(T.CreateTruncating).ToArray(), n, d);
        int tile = ExpectationMaximization.TilePoints;
        T[] workspace = new T[model.WorkspaceLength(tile)];
        T[] objectives = new T[tile];
        for (int start = 0; start < n; start += tile)
        {
            int count = Math.Min(tile, n - start);
            var dataTile = new DataTile<T>(matrix.Tile(start, count), d, count, matrix.Stride, from + start, weights is null ? default : weights.AsSpan(from + start, count));
            model.Expectation(dataTile, statistics, workspace, objectives.AsSpan(0, count));
        }

        return statistics;
    }

    private static void AssertClose(SufficientStatistics expected, SufficientStatistics actual, string where)
    {
        Assert.True(expected.CanMergeWith(actual), where);
        for (int b = 0; b < expected.Layout.Blocks.Count; b++)
        {
            double[] e = expected.Block(b).ToArray();
            double[] a = actual.Block(b).ToArray();
            double scale = e.Length == 0 ? 0 : e.Max(Math.Abs);
            for (int i = 0; i < e.Length; i++)
            {
                Assert.True(Math.Abs(e[i] - a[i]) <= Rounding * Math.Max(Math.Abs(e[i]), 1e-3 * scale) + 1e-300,
                    $"{where}: block {expected.Layout.Blocks[b].Name}[{i}] {a[i]:R} vs the whole's {e[i]:R}");
            }
        }
    }
}
