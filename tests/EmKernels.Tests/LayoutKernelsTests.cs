using System.Numerics;
using EmKernels.Kernels;
using EmKernels.Tests.Infrastructure;
using Xunit;
using Gen = FsCheck.Fluent.Gen;

namespace EmKernels.Tests;

public sealed class LayoutKernelsTestsSingle : LayoutKernelsTests<float>;

public sealed class LayoutKernelsTestsDouble : LayoutKernelsTests<double>;

/// <summary>
/// <see cref="LayoutKernels.RowMajorToFeatureMajor{TFrom, T}"/> against its definition, element by element
/// (exact: it only moves and converts), for every stored type, any shape, column choice and order, with the
/// destination inside a guarded buffer (canaries before and after, a no-access page beyond).
/// </summary>
public abstract class LayoutKernelsTests<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    [Fact]
    public void FromFloat_MatchesDefinition() => Check<float>(r => (float)(r.NextDouble() * 2e3 - 1e3));

    [Fact]
    public void FromDouble_MatchesDefinition() => Check<double>(r => (r.NextDouble() - 0.5) * Math.Pow(10, r.Next(-30, 30)));

    [Fact]
    public void FromIntegers_MatchesDefinition()
    {
        Check<int>(r => r.Next(int.MinValue, int.MaxValue));
        Check<long>(r => r.NextInt64());
        Check<byte>(r => (byte)r.Next(256));
    }

    [Fact]
    public void ChecksItsArguments()
    {
        float[] rows = new float[12];
        T[] destination = new T[12];
        Assert.Throws<ArgumentOutOfRangeException>(() => LayoutKernels.RowMajorToFeatureMajor<float, T>(rows, 3, 4, [4], destination, 3));
        Assert.Throws<ArgumentException>(() => LayoutKernels.RowMajorToFeatureMajor<float, T>(rows, 4, 4, [0], destination, 4));
        Assert.Throws<ArgumentException>(() => LayoutKernels.RowMajorToFeatureMajor<float, T>(rows, 3, 4, [0, 1, 2, 3, 0], destination, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => LayoutKernels.RowMajorToFeatureMajor<float, T>(rows, 3, 4, [0], destination, 2));
    }

    private static void Check<TFrom>(Func<Random, TFrom> draw)
        where TFrom : unmanaged, INumberBase<TFrom> => Property.Run(Gen.Choose(0, int.MaxValue), seed =>
    {
        var random = new Random(seed);
        int points = random.Next(0, 70);
        int rowLength = random.Next(1, 40);
        int chosen = random.Next(1, 2 * rowLength + 1);
        int[] columns = random.Next(3) switch
        {
            0 => Enumerable.Range(0, rowLength).ToArray(), // every column in order: the block path's case
            1 => Enumerable.Range(0, chosen).Select(_ => random.Next(rowLength)).ToArray(),
            _ => Enumerable.Range(random.Next(rowLength), rowLength).Select(c => c % rowLength).ToArray(),
        };
        int stride = points + random.Next(0, 5);
        TFrom[] rows = Enumerable.Range(0, Math.Max(0, points * rowLength)).Select(_ => draw(random)).ToArray();
        int length = Math.Max(0, (columns.Length - 1) * stride + points);
        using var destination = new GuardedBuffer<T>(length, random.Next(0, 8), random.Next(0, 3), T.CreateTruncating(-7.25));
        LayoutKernels.RowMajorToFeatureMajor<TFrom, T>(rows, points, rowLength, columns, destination.Span, stride);
        destination.AssertCanariesIntact("destination");
        for (int j = 0; j < columns.Length; j++)
        {
            for (int i = 0; i < points; i++)
            {
                T expected = T.CreateTruncating(rows[i * rowLength + columns[j]]);
                Assert.True(expected.Equals(destination.Span[j * stride + i]), $"point {i}, column {j} (file column {columns[j]}) of {points} × {rowLength}");
            }
        }
    }, count: 300);
}
