namespace EmKernels.Numerics;

/// <summary>
/// Small dense linear algebra on row-major D × D matrices in double, for work done once per
/// iteration (Cholesky factors of covariances, their inverses). Not a hot path: plain loops.
/// </summary>
internal static class DenseMatrix
{
    /// <summary>
    /// Cholesky factor L (lower triangular, A = L Lᵀ) of the symmetric matrix <paramref name="a"/>,
    /// reading only its lower triangle. Returns false if A is not positive definite (a pivot ≤ 0 or
    /// not finite); <paramref name="lower"/> is then unspecified.
    /// </summary>
    public static bool TryCholesky(ReadOnlySpan<double> a, int n, Span<double> lower)
    {
        lower[..(n * n)].Clear();
        for (int j = 0; j < n; j++)
        {
            double pivot = a[j * n + j];
            for (int p = 0; p < j; p++)
            {
                pivot -= lower[j * n + p] * lower[j * n + p];
            }

            if (!(pivot > 0) || !double.IsFinite(pivot))
            {
                return false;
            }

            double diagonal = Math.Sqrt(pivot);
            lower[j * n + j] = diagonal;
            for (int i = j + 1; i < n; i++)
            {
                double sum = a[i * n + j];
                for (int p = 0; p < j; p++)
                {
                    sum -= lower[i * n + p] * lower[j * n + p];
                }

                lower[i * n + j] = sum / diagonal;
            }
        }

        return true;
    }

    /// <summary>
    /// U = L⁻ᵀ (upper triangular) from a Cholesky factor L of Σ, so that Σ⁻¹ = U Uᵀ: the precision
    /// Cholesky factor. Entries below U's diagonal are set to zero.
    /// </summary>
    public static void PrecisionCholeskyFromCovarianceCholesky(ReadOnlySpan<double> lower, int n, Span<double> upper)
    {
        // Solve L Z = I column by column (Z = L⁻¹, lower triangular), then U = Zᵀ.
        upper[..(n * n)].Clear();
        for (int column = 0; column < n; column++)
        {
            for (int i = column; i < n; i++)
            {
                double sum = i == column ? 1.0 : 0.0;
                for (int p = column; p < i; p++)
                {
                    sum -= lower[i * n + p] * upper[column * n + p];
                }

                upper[column * n + i] = sum / lower[i * n + i];
            }
        }
    }

    /// <summary>Σ_j log U[j, j]: half the log-determinant of the precision, −½ log det Σ.</summary>
    public static double LogDiagonalSum(ReadOnlySpan<double> triangular, int n)
    {
        double sum = 0;
        for (int j = 0; j < n; j++)
        {
            sum += Math.Log(triangular[j * n + j]);
        }

        return sum;
    }

    /// <summary>Copies the upper triangle onto the lower one.</summary>
    public static void MirrorUpperToLower(Span<double> a, int n)
    {
        for (int i = 0; i < n; i++)
        {
            for (int j = i + 1; j < n; j++)
            {
                a[j * n + i] = a[i * n + j];
            }
        }
    }

    /// <summary>True when |A[i, j] − A[j, i]| ≤ tolerance · max(|A[i, j]|, |A[j, i]|, 1e-300) for all i &lt; j.</summary>
    public static bool IsSymmetric(ReadOnlySpan<double> a, int n, double tolerance)
    {
        for (int i = 0; i < n; i++)
        {
            for (int j = i + 1; j < n; j++)
            {
                double upper = a[i * n + j];
                double lowerValue = a[j * n + i];
                if (!(Math.Abs(upper - lowerValue) <= tolerance * Math.Max(Math.Max(Math.Abs(upper), Math.Abs(lowerValue)), 1e-300)))
                {
                    return false;
                }
            }
        }

        return true;
    }
}
