using EmKernels.Kernels;
using EmKernels.Tests.Infrastructure;
using Xunit;
using Gen = FsCheck.Fluent.Gen;

namespace EmKernels.Tests;

/// <summary>The forward–backward step kernels against their definitions, for every K from 1 past a few vector widths, in guarded buffers.</summary>
public sealed class MarkovKernelsTests
{
    [Fact]
    public void VectorTimesMatrix_AndAddOuterProduct_MatchTheirDefinitions() => Property.Run(Gen.Choose(0, int.MaxValue), seed =>
    {
        var random = new Random(seed);
        int k = random.Next(1, 41);
        using var vector = new GuardedBuffer<double>(k, random.Next(0, 8), 0, double.NaN);
        using var right = new GuardedBuffer<double>(k, random.Next(0, 8), 0, double.NaN);
        using var matrix = new GuardedBuffer<double>(k * k, random.Next(0, 8), 0, double.NaN);
        using var result = new GuardedBuffer<double>(k, random.Next(0, 8), 2, -3.5);
        using var outer = new GuardedBuffer<double>(k * k, random.Next(0, 8), 2, -3.5);
        for (int i = 0; i < k; i++)
        {
            vector.Span[i] = random.NextDouble();
            right.Span[i] = random.NextDouble() - 0.5;
        }

        for (int i = 0; i < k * k; i++)
        {
            matrix.Span[i] = random.NextDouble();
            outer.Span[i] = random.NextDouble();
        }

        double[] before = outer.Span.ToArray();
        MarkovKernels.VectorTimesMatrix(vector.Span, matrix.Span, result.Span);
        MarkovKernels.AddOuterProduct(vector.Span, right.Span, outer.Span);
        result.AssertCanariesIntact("result");
        outer.AssertCanariesIntact("matrix");
        for (int j = 0; j < k; j++)
        {
            double expected = 0;
            for (int i = 0; i < k; i++)
            {
                expected += vector.Span[i] * matrix.Span[i * k + j];
            }

            Assert.Equal(expected, result.Span[j], 1e-13 * (1 + k));
            for (int i = 0; i < k; i++)
            {
                Assert.Equal(before[i * k + j] + vector.Span[i] * right.Span[j], outer.Span[i * k + j], 1e-15);
            }
        }
    }, count: 300);

    [Fact]
    public void MismatchedShapes_AreRefused()
    {
        Assert.Equal("matrix", Assert.Throws<ArgumentException>(() => MarkovKernels.VectorTimesMatrix(new double[3], new double[8], new double[3])).ParamName);
        Assert.Equal("result", Assert.Throws<ArgumentException>(() => MarkovKernels.VectorTimesMatrix(new double[3], new double[9], new double[2])).ParamName);
        Assert.Equal("right", Assert.Throws<ArgumentException>(() => MarkovKernels.AddOuterProduct(new double[3], new double[2], new double[9])).ParamName);
    }
}
