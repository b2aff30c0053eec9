using System.Numerics;
using Xunit;

namespace EmKernels.Tests;

public sealed class FeatureMajorMatrixTestsSingle : FeatureMajorMatrixTests<float>;

public sealed class FeatureMajorMatrixTestsDouble : FeatureMajorMatrixTests<double>;

public abstract class FeatureMajorMatrixTests<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 3)]
    [InlineData(300, 5)]
    [InlineData(4096, 3)]
    public void EveryFeature_StartsOnACacheLine(int points, int features)
    {
        // Several matrices, so that an unaligned start would show up whatever the heap hands out.
        for (int copy = 0; copy < 8; copy++)
        {
            var matrix = new FeatureMajorMatrix<T>(points + copy, features);
            for (int d = 0; d < features; d++)
            {
                Assert.Equal(0, AddressOf(matrix.Feature(d)) % 64);
            }

            Assert.Equal(0, (matrix.Stride * System.Runtime.CompilerServices.Unsafe.SizeOf<T>()) % 64);
        }
    }

    private static unsafe long AddressOf(Span<T> span)
    {
        fixed (T* pointer = span)
        {
            return (long)pointer;
        }
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 1)]
    [InlineData(7, 3)]
    [InlineData(300, 5)]
    [InlineData(1000, 2)]
    [InlineData(4096, 3)]
    public void EveryInputShape_GivesTheSameFeatureMajorLayout(int points, int features)
    {
        T[] rowMajor = new T[points * features];
        T[,] grid = new T[points, features];
        T[][] jagged = new T[points][];
        for (int n = 0; n < points; n++)
        {
            jagged[n] = new T[features];
            for (int d = 0; d < features; d++)
            {
                T value = T.CreateTruncating(n * 1000 + d);
                rowMajor[n * features + d] = value;
                grid[n, d] = value;
                jagged[n][d] = value;
            }
        }

        var matrices = new List<FeatureMajorMatrix<T>> { FeatureMajorMatrix<T>.FromRowMajor(rowMajor, points, features), FeatureMajorMatrix<T>.From(grid) };
        if (points > 0)
        {
            matrices.Add(FeatureMajorMatrix<T>.From(jagged));
        }

        foreach (var matrix in matrices)
        {
            Assert.Equal(points, matrix.Points);
            Assert.Equal(features, matrix.Features);
            Assert.True(matrix.Stride >= points);
            int strideBytes = matrix.Stride * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
            Assert.Equal(0, strideBytes % 64);
            Assert.True(points == 0 || strideBytes / 64 % 2 == 1, $"stride of {strideBytes} bytes is an even number of cache lines");
            for (int d = 0; d < features; d++)
            {
                for (int n = 0; n < points; n++)
                {
                    Assert.Equal(T.CreateTruncating(n * 1000 + d), matrix.Values[d * matrix.Stride + n]);
                    Assert.Equal(matrix.Values[d * matrix.Stride + n], matrix[n, d]);
                }

                for (int n = points; n < matrix.Stride; n++)
                {
                    Assert.Equal(T.Zero, matrix.Values[d * matrix.Stride + n]);
                }
            }

            T[] back = new T[points * features];
            matrix.CopyToRowMajor(back);
            Assert.Equal(rowMajor, back);
        }
    }

    [Fact]
    public void Tile_StartsAtThePointAndReachesTheLastFeature()
    {
        var matrix = new FeatureMajorMatrix<T>(10, 3);
        matrix[4, 0] = T.One;
        matrix[6, 2] = T.CreateTruncating(2);
        ReadOnlySpan<T> tile = matrix.Tile(4, 3);
        Assert.Equal(2 * matrix.Stride + 3, tile.Length);
        Assert.Equal(T.One, tile[0]);
        Assert.Equal(T.CreateTruncating(2), tile[2 * matrix.Stride + 2]);
        Assert.Throws<ArgumentOutOfRangeException>(() => matrix.Tile(8, 3));
    }

    [Fact]
    public void BadInput_IsRejectedWithTheArgumentNamed()
    {
        Assert.Equal("values", Assert.Throws<ArgumentException>(() => FeatureMajorMatrix<T>.FromRowMajor(new T[5], 2, 3)).ParamName);
        Assert.Equal("features", Assert.Throws<ArgumentOutOfRangeException>(() => FeatureMajorMatrix<T>.FromRowMajor(new T[0], 2, 0)).ParamName);
        Assert.Equal("values", Assert.Throws<ArgumentException>(() => FeatureMajorMatrix<T>.From(new T[][] { new T[2], new T[3] })).ParamName);
        Assert.Equal("values", Assert.Throws<ArgumentNullException>(() => FeatureMajorMatrix<T>.From(new T[][] { new T[2], null! })).ParamName);
        Assert.Equal("values", Assert.Throws<ArgumentException>(() => FeatureMajorMatrix<T>.From(new T[3, 0])).ParamName);
        Assert.Throws<ArgumentNullException>(() => FeatureMajorMatrix<T>.From((T[,])null!));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FeatureMajorMatrix<T>(2, 3)[2, 0]);
    }

    [Fact]
    public void Conversion_LeavesTheCallersDataUntouched()
    {
        T[] rowMajor = [T.One, T.CreateTruncating(2), T.CreateTruncating(3), T.CreateTruncating(4)];
        T[] copy = (T[])rowMajor.Clone();
        var matrix = FeatureMajorMatrix<T>.FromRowMajor(rowMajor, 2, 2);
        matrix[0, 0] = T.CreateTruncating(99);
        Assert.Equal(copy, rowMajor);
    }
}
