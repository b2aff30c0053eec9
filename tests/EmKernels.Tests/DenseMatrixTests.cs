using EmKernels.Numerics;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// The blocked Cholesky factorization and precision factor against their definitions: L Lᵀ = A, L lower
/// triangular with a positive diagonal; U = L⁻ᵀ upper triangular with Lᵀ U = I. Sizes cross the 32-column
/// blocks (1, 31, 32, 33, 64, 100, 130).
/// </summary>
public sealed class DenseMatrixTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(31)]
    [InlineData(32)]
    [InlineData(33)]
    [InlineData(64)]
    [InlineData(100)]
    [InlineData(130)]
    public void CholeskyAndPrecisionFactor_MeetTheirDefinitions(int n)
    {
        double[] a = SymmetricPositiveDefinite(n, new Random(n));
        double[] lower = new double[n * n];
        double[] upper = new double[n * n];
        Assert.True(DenseMatrix.TryCholesky(a, n, lower));
        DenseMatrix.PrecisionCholeskyFromCovarianceCholesky(lower, n, upper);
        double scale = a.Max(Math.Abs);
        for (int i = 0; i < n; i++)
        {
            Assert.True(lower[i * n + i] > 0);
            for (int j = 0; j < n; j++)
            {
                if (j > i)
                {
                    Assert.Equal(0.0, lower[i * n + j]);
                }

                if (j < i)
                {
                    Assert.Equal(0.0, upper[i * n + j]);
                }

                double product = 0, identity = 0;
                for (int p = 0; p < n; p++)
                {
                    product += lower[i * n + p] * lower[j * n + p];
                    identity += lower[p * n + i] * upper[p * n + j]; // (Lᵀ U)[i, j]
                }

                Assert.True(Math.Abs(product - a[i * n + j]) <= 1e-13 * n * scale, $"(L Lᵀ)[{i},{j}] = {product}, A = {a[i * n + j]}");
                Assert.True(Math.Abs(identity - (i == j ? 1 : 0)) <= 1e-11 * n, $"(Lᵀ U)[{i},{j}] = {identity}");
            }
        }
    }

    [Theory]
    [InlineData(3, 0)]
    [InlineData(40, 35)]
    [InlineData(70, 69)]
    public void AMatrixThatIsNotPositiveDefinite_IsRefused(int n, int broken)
    {
        double[] a = SymmetricPositiveDefinite(n, new Random(7));
        a[broken * n + broken] = -1;
        Assert.False(DenseMatrix.TryCholesky(a, n, new double[n * n]));
        a[broken * n + broken] = double.NaN;
        Assert.False(DenseMatrix.TryCholesky(a, n, new double[n * n]));
    }

    /// <summary>B Bᵀ + n I for a random B: symmetric, well conditioned, of varied scale.</summary>
    private static double[] SymmetricPositiveDefinite(int n, Random random)
    {
        double[] b = Enumerable.Range(0, n * n).Select(_ => random.NextDouble() * 2 - 1).ToArray();
        double[] a = new double[n * n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = i == j ? n : 0;
                for (int p = 0; p < n; p++)
                {
                    sum += b[i * n + p] * b[j * n + p];
                }

                a[i * n + j] = sum;
            }
        }

        return a;
    }
}
