using System.Numerics;
using EmKernels.Kernels;
using EmKernels.Tests.Infrastructure;
using EmKernels.Tests.Reference;
using FsCheck.Fluent;
using Xunit;

namespace EmKernels.Tests;

public sealed class MixtureKernelsTestsSingle : MixtureKernelsTests<float>;

public sealed class MixtureKernelsTestsDouble : MixtureKernelsTests<double>;

/// <summary>LogSumExp and Responsibilities against their scalar references, for one element type.</summary>
public abstract class MixtureKernelsTests<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private static readonly ValueKind[] AllKinds = Enum.GetValues<ValueKind>();

    [Fact]
    public void LogSumExp_MatchesReference() => Property.Check(KernelCase.Small<T>(AllKinds), CheckLogSumExp);

    [Fact]
    public void LogSumExp_MatchesReference_LongBlocks() => Property.Check(KernelCase.Long(AllKinds), CheckLogSumExp, 100);

    [Fact]
    public void Responsibilities_MatchesReference() => Property.Check(KernelCase.Small<T>(AllKinds), CheckResponsibilities);

    [Fact]
    public void Responsibilities_MatchesReference_LongBlocks() => Property.Check(KernelCase.Long(AllKinds), CheckResponsibilities, 100);

    [Fact]
    public void LogSumExp_OfOneComponent_IsTheValueItself()
    {
        Property.Check(KernelCase.Small<T>([ValueKind.Moderate, ValueKind.Wide, ValueKind.LargeOffset]), c =>
        {
            T[] values = new T[c.Points];
            Values.LogProbabilities<T>(values, c.Random(), c.Kind, 1);
            T[] result = new T[c.Points];
            MixtureKernels.LogSumExp<T>(values, 1, c.Points, result);
            Assert.Equal(values, result);
        });
    }

    [Fact]
    public void Responsibilities_OfEachPoint_SumToOne()
    {
        Property.Check(KernelCase.Small<T>([ValueKind.Moderate, ValueKind.Wide, ValueKind.NegativeInfinity]), c =>
        {
            int k = c.Components;
            T[] block = new T[k * c.Points];
            Values.LogProbabilities<T>(block, c.Random(), c.Kind, k);
            T[] l = new T[c.Points];
            MixtureKernels.Responsibilities<T>(block, k, c.Points, l);
            for (int n = 0; n < c.Points; n++)
            {
                double sum = 0;
                for (int j = 0; j < k; j++)
                {
                    sum += double.CreateTruncating(block[j * c.Points + n]);
                }

                Tolerance.AssertClose<T>(T.IsFinite(l[n]) ? 1 : 0, T.CreateTruncating(sum), 1, 4 + k, $"Σ_k r of point {n} in {c}");
            }
        });
    }

    [Fact]
    public void LogSumExp_SpecialValues_FollowTheContract()
    {
        T inf = T.PositiveInfinity;
        T[] block = [T.NegativeInfinity, T.NegativeInfinity, inf, T.NaN, T.Zero, /* second row */ T.NegativeInfinity, T.One, T.NegativeInfinity, T.One, T.NegativeInfinity];
        T[] result = new T[5];
        MixtureKernels.LogSumExp<T>(block, 2, 5, result);
        Assert.Equal(T.NegativeInfinity, result[0]);
        Assert.Equal(T.One, result[1]);
        Assert.Equal(inf, result[2]);
        Assert.True(T.IsNaN(result[3]));
        Assert.Equal(T.Zero, result[4]);
    }

    [Fact]
    public void Kernels_RejectInconsistentShapes()
    {
        T[] six = new T[6];
        T[] three = new T[3];
        T[] two = new T[2];
        Assert.Equal("logProbabilities", Assert.Throws<ArgumentException>(() => MixtureKernels.LogSumExp<T>(six, 4, 2, two)).ParamName);
        Assert.Equal("destination", Assert.Throws<ArgumentException>(() => MixtureKernels.LogSumExp<T>(six, 2, 3, two)).ParamName);
        Assert.Equal("components", Assert.Throws<ArgumentOutOfRangeException>(() => MixtureKernels.LogSumExp<T>(six, 0, 3, three)).ParamName);
        Assert.Equal("points", Assert.Throws<ArgumentOutOfRangeException>(() => MixtureKernels.LogSumExp<T>(six, 2, -3, three)).ParamName);
        Assert.Equal("logProbabilities", Assert.Throws<ArgumentException>(() => MixtureKernels.Responsibilities<T>(six, 4, 2, two)).ParamName);
        Assert.Equal("logLikelihoods", Assert.Throws<ArgumentException>(() => MixtureKernels.Responsibilities<T>(six, 2, 3, two)).ParamName);
        Assert.Equal("sampleWeights", Assert.Throws<ArgumentException>(() => MixtureKernels.Responsibilities<T>(six, 2, 3, three, two)).ParamName);
        Assert.Throws<NotSupportedException>(() => MixtureKernels.LogSumExp<Half>(new Half[2], 1, 2, new Half[2]));
    }

    private static void CheckLogSumExp(KernelCase c)
    {
        int k = c.Components;
        Random random = c.Random();
        using var block = Buffers.Create<T>(c, k * c.Points);
        using var destination = Buffers.Create<T>(c, c.Points);
        Values.LogProbabilities<T>(block.Span, random, c.Kind, k);
        double[] input = Values.ToDouble<T>(block.Span);

        MixtureKernels.LogSumExp<T>(block.Span, k, c.Points, destination.Span);

        block.AssertCanariesIntact("logProbabilities");
        destination.AssertCanariesIntact("destination");
        Assert.Equal(input, Values.ToDouble<T>(block.Span)); // input untouched
        for (int n = 0; n < c.Points; n++)
        {
            double[] column = ReferenceKernels.Column(input, k, c.Points, n);
            Tolerance.AssertClose<T>(ReferenceKernels.LogSumExp(column), destination.Span[n], Scale(column), 8 + Math.Log2(k), $"LogSumExp of point {n} in {c}");
        }
    }

    private static void CheckResponsibilities(KernelCase c)
    {
        int k = c.Components;
        Random random = c.Random();
        using var block = Buffers.Create<T>(c, k * c.Points);
        using var normalizers = Buffers.Create<T>(c, c.Points);
        using var weights = Buffers.Create<T>(c, c.Weighted ? c.Points : 0);
        Values.LogProbabilities<T>(block.Span, random, c.Kind, k);
        Values.Uniform<T>(weights.Span, random, 0, 3, zeroProbability: 0.1);
        double[] input = Values.ToDouble<T>(block.Span);
        var expected = ReferenceKernels.Responsibilities(input, k, c.Points, Values.ToDouble<T>(weights.Span));

        double sum = MixtureKernels.Responsibilities<T>(block.Span, k, c.Points, normalizers.Span, weights.Span);

        block.AssertCanariesIntact("logProbabilities");
        normalizers.AssertCanariesIntact("logLikelihoods");
        weights.AssertCanariesIntact("sampleWeights");
        double sumScale = 0;
        for (int n = 0; n < c.Points; n++)
        {
            double[] column = ReferenceKernels.Column(input, k, c.Points, n);
            double scale = Scale(column);
            Tolerance.AssertClose<T>(expected.LogLikelihoods[n], normalizers.Span[n], scale, 8 + Math.Log2(k), $"ℓ of point {n} in {c}");
            for (int j = 0; j < k; j++)
            {
                double r = expected.Responsibilities[j * c.Points + n];

                // exp(x − ℓ) is as exact as its argument: relative error ≈ ε·|x − ℓ|.
                double argument = double.IsFinite(column[j]) && double.IsFinite(expected.LogLikelihoods[n]) ? Math.Abs(column[j]) + Math.Abs(expected.LogLikelihoods[n]) : 0;
                Tolerance.AssertClose<T>(r, block.Span[j * c.Points + n], r * (2 + argument), 8 + Math.Log2(k), $"r[{j},{n}] in {c}");
            }

            double w = c.Weighted ? double.CreateTruncating(weights.Span[n]) : 1;
            if (w != 0 && double.IsFinite(expected.LogLikelihoods[n]))
            {
                sumScale += Math.Abs(w * expected.LogLikelihoods[n]) + w * scale;
            }
        }

        Tolerance.AssertClose<double>(expected.Sum, sum, sumScale * (Tolerance.Epsilon<T>() / Tolerance.Epsilon<double>()), 16 + c.Points / 8.0, $"Σ w ℓ in {c}");
    }

    /// <summary>A log-sum-exp works at the magnitude of its largest finite input, plus log K.</summary>
    private static double Scale(double[] column)
    {
        double scale = 1 + Math.Log(column.Length);
        foreach (double v in column)
        {
            if (double.IsFinite(v))
            {
                scale = Math.Max(scale, Math.Abs(v));
            }
        }

        return scale;
    }
}
