using System.Runtime.CompilerServices;
using System.Numerics.Tensors;

namespace EmKernels.Numerics;

/// <summary>
/// Dense linear algebra on row-major D × D matrices in double, for work done once per iteration
/// (Cholesky factors of covariances, their inverses): blocked loops of vectorized dot products, so that
/// wide data (D in the thousands) cost seconds, not minutes.
/// </summary>
internal static class DenseMatrix
{
    /// <summary>Columns per block of the factorizations: a block's rows stay in L2 while each row of the matrix streams past them once.</summary>
    private const int Block = 32;

    /// <summary>
    /// Cholesky factor L (lower triangular, A = L Lᵀ) of the symmetric matrix <paramref name="a"/>,
    /// reading only its lower triangle. Returns false if A is not positive definite (a pivot ≤ 0 or
    /// not finite); <paramref name="lower"/> is then unspecified.
    /// </summary>
    /// <remarks>
    /// Left-looking (Crout) by blocks of <see cref="Block"/> columns, every inner product a vectorized dot
    /// product of two contiguous row segments: first each row i ≥ J0 has the block's columns updated by the
    /// finished columns (row i's prefix read once for all the block's columns), then the block is factored.
    /// O(n³/3) multiply-adds; D = 3,000 takes well under a second where the scalar row-by-row loop took a minute.
    /// </remarks>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static bool TryCholesky(ReadOnlySpan<double> a, int n, Span<double> lower)
    {
        lower[..(n * n)].Clear();
        for (int j0 = 0; j0 < n; j0 += Block)
        {
            int j1 = Math.Min(j0 + Block, n);

            // The block's columns of every row below: A[i, j] − L[i, 0:j0] · L[j, 0:j0].
            for (int i = j0; i < n; i++)
            {
                ReadOnlySpan<double> rowPrefix = lower.Slice(i * n, j0);
                int last = Math.Min(i, j1 - 1);
                for (int j = j0; j <= last; j++)
                {
                    lower[i * n + j] = a[i * n + j] - Dot(rowPrefix, lower.Slice(j * n, j0));
                }
            }

            // Factor the block: columns j0 … j1 − 1 of every row below, using the block's own finished columns.
            for (int j = j0; j < j1; j++)
            {
                ReadOnlySpan<double> rowJ = lower.Slice(j * n + j0, j - j0);
                double pivot = lower[j * n + j] - Dot(rowJ, rowJ);
                if (!(pivot > 0) || !double.IsFinite(pivot))
                {
                    return false;
                }

                double diagonal = Math.Sqrt(pivot);
                lower[j * n + j] = diagonal;
                for (int i = j + 1; i < n; i++)
                {
                    double value = lower[i * n + j] - Dot(lower.Slice(i * n + j0, j - j0), rowJ);
                    lower[i * n + j] = value / diagonal;
                }
            }
        }

        return true;
    }

    /// <summary>Solves A x = b in place (b becomes x) from the Cholesky factor L of A (A = L Lᵀ, lower, row-major): L z = b, then Lᵀ x = z.</summary>
    /// <param name="lower">n × n, from <see cref="TryCholesky"/>.</param>
    /// <param name="n">n.</param>
    /// <param name="b">n values; overwritten by x.</param>
    public static void CholeskySolve(ReadOnlySpan<double> lower, int n, Span<double> b)
    {
        for (int i = 0; i < n; i++)
        {
            b[i] = (b[i] - Dot(lower.Slice(i * n, i), b[..i])) / lower[i * n + i];
        }

        for (int i = n - 1; i >= 0; i--)
        {
            double sum = b[i];
            for (int j = i + 1; j < n; j++)
            {
                sum -= lower[j * n + i] * b[j];
            }

            b[i] = sum / lower[i * n + i];
        }
    }

    /// <summary>
    /// U = L⁻ᵀ (upper triangular) from a Cholesky factor L of Σ, so that Σ⁻¹ = U Uᵀ: the precision
    /// Cholesky factor. Entries below U's diagonal are set to zero.
    /// </summary>
    /// <remarks>
    /// Row c of U is column c of Z = L⁻¹: Z[i, c] = (δ_ic − L[i, c:i] · Z[c:i, c]) / L[i, i], a dot product of two
    /// contiguous segments. Columns are done by blocks of <see cref="Block"/>, row i of L read once per block.
    /// </remarks>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void PrecisionCholeskyFromCovarianceCholesky(ReadOnlySpan<double> lower, int n, Span<double> upper)
    {
        upper[..(n * n)].Clear();
        for (int c0 = 0; c0 < n; c0 += Block)
        {
            int c1 = Math.Min(c0 + Block, n);
            for (int i = c0; i < n; i++)
            {
                double pivot = lower[i * n + i];
                int last = Math.Min(i, c1 - 1);
                for (int column = c0; column <= last; column++)
                {
                    double value = i == column ? 1.0 : 0.0;
                    value -= Dot(lower.Slice(i * n + column, i - column), upper.Slice(column * n + column, i - column));
                    upper[column * n + i] = value / pivot;
                }
            }
        }
    }

    /// <summary>
    /// A⁻¹ and log det A of a small symmetric positive definite matrix (reading its lower triangle), through its
    /// Cholesky factor: A⁻¹ = U Uᵀ with U = L⁻ᵀ. Returns false if A is not positive definite.
    /// </summary>
    /// <param name="a">n × n.</param>
    /// <param name="n">n ≥ 0.</param>
    /// <param name="inverse">n × n output (full, symmetric).</param>
    /// <param name="scratch">2 n² doubles.</param>
    /// <param name="logDeterminant">log det A.</param>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static bool TryInvertPositiveDefinite(ReadOnlySpan<double> a, int n, Span<double> inverse, Span<double> scratch, out double logDeterminant)
    {
        Span<double> lower = scratch[..(n * n)];
        Span<double> upper = scratch.Slice(n * n, n * n);
        logDeterminant = double.NaN;
        if (!TryCholesky(a, n, lower))
        {
            return false;
        }

        PrecisionCholeskyFromCovarianceCholesky(lower, n, upper);
        logDeterminant = -2 * LogDiagonalSum(upper, n);
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                // (U Uᵀ)[i, j] = Σ_{c ≥ max(i, j)} U[i, c] U[j, c].
                double sum = Dot(upper.Slice(i * n + i, n - i), upper.Slice(j * n + i, n - i));
                inverse[i * n + j] = sum;
                inverse[j * n + i] = sum;
            }
        }

        return true;
    }

    /// <summary>
    /// The <paramref name="count"/> largest eigenvalues (descending) of a symmetric positive semi-definite n × n matrix
    /// and their eigenvectors (rows of <paramref name="vectors"/>, each of n values), by subspace iteration on a block of
    /// count + 5 vectors from a fixed pseudo-random start (30 steps of S Q then Gram–Schmidt, O(n² · block) each) and a
    /// Rayleigh–Ritz step (Jacobi on the block × block projection). Accurate where the spectrum has a gap after the
    /// count-th value; elsewhere a good approximation of the leading subspace, which is what a start needs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LeadingEigenvectors(ReadOnlySpan<double> matrix, int n, int count, Span<double> values, Span<double> vectors)
    {
        int block = Math.Min(n, count + 5);
        double[] q = new double[block * n];
        double[] z = new double[block * n];
        var random = new Random(20261130);
        for (int i = 0; i < q.Length; i++)
        {
            q[i] = random.NextDouble() - 0.5;
        }

        Orthonormalize(q, block, n);
        for (int step = 0; step < 30; step++)
        {
            MultiplyRows(matrix, n, q, z, block);
            (q, z) = (z, q);
            Orthonormalize(q, block, n);
        }

        // Rayleigh–Ritz: T = Q S Qᵀ, T = E Θ Eᵀ, the Ritz vectors Eᵀ Q.
        MultiplyRows(matrix, n, q, z, block);
        double[] t = new double[block * block];
        for (int a = 0; a < block; a++)
        {
            for (int b = 0; b < block; b++)
            {
                t[a * block + b] = TensorPrimitives.Dot(new ReadOnlySpan<double>(q, a * n, n), new ReadOnlySpan<double>(z, b * n, n));
            }
        }

        double[] theta = new double[block];
        double[] e = new double[block * block];
        SymmetricEigen(t, block, theta, e);
        int[] order = Enumerable.Range(0, block).OrderByDescending(i => theta[i]).ToArray();
        for (int l = 0; l < count; l++)
        {
            int c = order[l];
            values[l] = theta[c];
            Span<double> vector = vectors.Slice(l * n, n);
            vector.Clear();
            for (int m = 0; m < block; m++)
            {
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<double>(q, m * n, n), e[m * block + c], vector, vector);
            }
        }
    }

    /// <summary>Z's row i = S · Q's row i for the first <paramref name="rows"/> rows (S symmetric n × n).</summary>
    private static void MultiplyRows(ReadOnlySpan<double> s, int n, double[] q, double[] z, int rows)
    {
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<double> v = new(q, r * n, n);
            for (int i = 0; i < n; i++)
            {
                z[r * n + i] = TensorPrimitives.Dot(s.Slice(i * n, n), v);
            }
        }
    }

    /// <summary>Modified Gram–Schmidt on the rows of q (rows × n); a row that vanishes is replaced by a unit vector.</summary>
    private static void Orthonormalize(double[] q, int rows, int n)
    {
        for (int r = 0; r < rows; r++)
        {
            Span<double> row = q.AsSpan(r * n, n);
            for (int p = 0; p < r; p++)
            {
                ReadOnlySpan<double> previous = q.AsSpan(p * n, n);
                TensorPrimitives.MultiplyAdd(previous, -TensorPrimitives.Dot(previous, row), row, row);
            }

            double norm = TensorPrimitives.Norm(row);
            if (norm > 0 && double.IsFinite(norm))
            {
                TensorPrimitives.Divide(row, norm, row);
            }
            else
            {
                row.Clear();
                row[r % n] = 1;
            }
        }
    }

    /// <summary>
    /// The orthogonal polar factor P Rᵀ of a small square matrix F = P S Rᵀ (its singular value decomposition), by one-sided
    /// Jacobi rotations (Hestenes): columns of F V are orthogonalized, their norms are S and their directions P; singular
    /// values come with high relative accuracy, so an ill-conditioned F (where F (FᵀF)^(−1/2) loses the small ones) keeps an
    /// accurate factor. Columns of P for zero singular values complete an orthonormal basis (F = 0 gives the identity, as
    /// LAPACK's SVD does).
    /// </summary>
    /// <param name="f">n × n, row-major.</param>
    /// <param name="n">n.</param>
    /// <returns>P Rᵀ, n × n.</returns>
    public static double[] PolarFactor(ReadOnlySpan<double> f, int n)
    {
        double[] result = new double[n * n];
        PolarFactor(f, n, result, new double[(2 * n * n) + (2 * n)]);
        return result;
    }

    /// <summary><see cref="PolarFactor(ReadOnlySpan{double}, int)"/> into <paramref name="result"/> (n × n), with <paramref name="scratch"/> of 2n² + 2n values: no allocation.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void PolarFactor(ReadOnlySpan<double> f, int n, Span<double> result, Span<double> scratch) => PolarFactor(f, n, result, scratch, default);

    /// <summary>
    /// <see cref="PolarFactor(ReadOnlySpan{double}, int, Span{double}, Span{double})"/> started from the rotation of a previous,
    /// nearby call (n × n, kept in this method's own layout; start from the identity; updated to this call's): the rotations
    /// then start from F V, nearly orthogonal already when F changed little, so fewer sweeps run. The result is the polar factor
    /// all the same.
    /// </summary>
    /// <remarks>
    /// The columns of F V and of V are kept as rows (B = (F V)ᵀ, W = Vᵀ), so every rotation is two dot products and two updates
    /// of contiguous rows (vectorized). At convergence row j of B is s_j u_jᵀ, and P Rᵀ = U Vᵀ = Σ_j (B[j, :] / s_j)ᵀ W[j, :].
    /// </remarks>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void PolarFactor(ReadOnlySpan<double> f, int n, Span<double> result, Span<double> scratch, Span<double> rotation)
    {
        Span<double> b = scratch[..(n * n)];
        Span<double> w = scratch.Slice(n * n, n * n);
        Span<double> norms = scratch.Slice(2 * n * n, n);
        Span<double> candidate = scratch.Slice((2 * n * n) + n, n);
        if (rotation.IsEmpty)
        {
            w.Clear();
            for (int i = 0; i < n; i++)
            {
                w[i * n + i] = 1;
            }
        }
        else
        {
            rotation[..(n * n)].CopyTo(w);
        }

        // B[j, r] = (F V)[r, j] = F[r, :] · W[j, :].
        for (int j = 0; j < n; j++)
        {
            ReadOnlySpan<double> wj = w.Slice(j * n, n);
            for (int r = 0; r < n; r++)
            {
                b[j * n + r] = Dot(f.Slice(r * n, n), wj);
            }
        }

        for (int sweep = 0; sweep < 100; sweep++)
        {
            // The rows' squared norms, exact at the start of a sweep and carried through its rotations (Hestenes): a rotation
            // by t that zeroes ⟨b_p, b_q⟩ = γ takes ‖b_p‖² to ‖b_p‖² − tγ and ‖b_q‖² to ‖b_q‖² + tγ, so a pair costs one
            // dot product rather than three.
            for (int j = 0; j < n; j++)
            {
                norms[j] = Dot(b.Slice(j * n, n), b.Slice(j * n, n));
            }

            bool rotated = false;
            for (int p = 0; p < n - 1; p++)
            {
                Span<double> bp = b.Slice(p * n, n), wp = w.Slice(p * n, n);
                for (int q = p + 1; q < n; q++)
                {
                    Span<double> bq = b.Slice(q * n, n), wq = w.Slice(q * n, n);
                    double alpha = norms[p], beta = norms[q], gamma = Dot(bp, bq);
                    if (gamma == 0 || Math.Abs(gamma) <= 1e-15 * Math.Sqrt(alpha * beta))
                    {
                        continue;
                    }

                    rotated = true;
                    double zeta = (beta - alpha) / (2 * gamma);
                    double t = Math.Sign(zeta == 0 ? 1 : zeta) / (Math.Abs(zeta) + Math.Sqrt(1 + (zeta * zeta)));
                    double c = 1 / Math.Sqrt(1 + (t * t)), s = c * t;
                    Rotate(bp, bq, c, s);
                    Rotate(wp, wq, c, s);
                    norms[p] = alpha - (t * gamma);
                    norms[q] = beta + (t * gamma);
                }
            }

            if (!rotated)
            {
                break;
            }
        }

        // U: the normalized rows of B; a zero one (its norm marked −1) is completed from the standard basis, orthogonal to the others.
        double largest = 0;
        for (int j = 0; j < n; j++)
        {
            norms[j] = Math.Sqrt(Dot(b.Slice(j * n, n), b.Slice(j * n, n)));
            largest = Math.Max(largest, norms[j]);
        }

        for (int j = 0; j < n; j++)
        {
            if (!(norms[j] > 1e-300 && norms[j] > n * 2.220446049250313e-16 * largest))
            {
                norms[j] = -1;
                continue;
            }

            Span<double> bj = b.Slice(j * n, n);
            double inverse = 1 / norms[j];
            for (int i = 0; i < n; i++)
            {
                bj[i] *= inverse;
            }
        }

        int basis = 0;
        for (int j = 0; j < n; j++)
        {
            if (norms[j] >= 0)
            {
                continue;
            }

            while (true)
            {
                candidate.Clear();
                candidate[basis++ % n] = 1;
                for (int other = 0; other < n; other++)
                {
                    if (other == j || (norms[other] < 0 && other > j))
                    {
                        continue;
                    }

                    ReadOnlySpan<double> row = b.Slice(other * n, n);
                    double dot = Dot(row, candidate);
                    for (int i = 0; i < n; i++)
                    {
                        candidate[i] -= dot * row[i];
                    }
                }

                double norm = Math.Sqrt(Dot(candidate, candidate));
                if (norm > 1e-8)
                {
                    for (int i = 0; i < n; i++)
                    {
                        b[j * n + i] = candidate[i] / norm;
                    }

                    norms[j] = 1;
                    break;
                }
            }
        }

        // P Rᵀ = U Vᵀ: row r is Σ_j U[r, j] V[:, j]ᵀ = Σ_j B[j, r] W[j, :].
        result[..(n * n)].Clear();
        for (int r = 0; r < n; r++)
        {
            Span<double> row = result.Slice(r * n, n);
            for (int j = 0; j < n; j++)
            {
                double scale = b[j * n + r];
                ReadOnlySpan<double> wj = w.Slice(j * n, n);
                for (int i = 0; i < n; i++)
                {
                    row[i] += scale * wj[i];
                }
            }
        }

        if (!rotation.IsEmpty)
        {
            w.CopyTo(rotation);
        }
    }

    /// <summary>(x, y) ← (c x − s y, s x + c y), element by element.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static void Rotate(Span<double> x, Span<double> y, double c, double s)
    {
        int i = 0, width = System.Numerics.Vector<double>.Count;
        if (System.Numerics.Vector.IsHardwareAccelerated)
        {
            var vc = new System.Numerics.Vector<double>(c);
            var vs = new System.Numerics.Vector<double>(s);
            for (; i <= x.Length - width; i += width)
            {
                var xi = new System.Numerics.Vector<double>(x[i..]);
                var yi = new System.Numerics.Vector<double>(y[i..]);
                ((vc * xi) - (vs * yi)).CopyTo(x[i..]);
                ((vs * xi) + (vc * yi)).CopyTo(y[i..]);
            }
        }

        for (; i < x.Length; i++)
        {
            double xi = x[i], yi = y[i];
            x[i] = (c * xi) - (s * yi);
            y[i] = (s * xi) + (c * yi);
        }
    }

    /// <summary>All eigenvalues and eigenvectors (columns of <paramref name="vectors"/>; empty: the values alone, by the same rotations) of a small symmetric matrix by cyclic Jacobi rotations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SymmetricEigen(ReadOnlySpan<double> matrix, int n, Span<double> values, Span<double> vectors)
    {
        double[] a = matrix[..(n * n)].ToArray();
        bool withVectors = !vectors.IsEmpty;
        if (withVectors)
        {
            vectors[..(n * n)].Clear();
            for (int i = 0; i < n; i++)
            {
                vectors[i * n + i] = 1;
            }
        }

        for (int sweep = 0; sweep < 64; sweep++)
        {
            double off = 0, scale = 0;
            for (int p = 0; p < n; p++)
            {
                scale += a[p * n + p] * a[p * n + p];
                for (int r = p + 1; r < n; r++)
                {
                    off += a[p * n + r] * a[p * n + r];
                }
            }

            if (off <= 1e-30 * scale || off == 0)
            {
                break;
            }

            for (int p = 0; p < n; p++)
            {
                for (int r = p + 1; r < n; r++)
                {
                    double apr = a[p * n + r];
                    if (apr == 0)
                    {
                        continue;
                    }

                    double theta = (a[r * n + r] - a[p * n + p]) / (2 * apr);
                    double t = (theta >= 0 ? 1 : -1) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                    for (int k = 0; k < n; k++)
                    {
                        double akp = a[k * n + p], akr = a[k * n + r];
                        a[k * n + p] = c * akp - s * akr;
                        a[k * n + r] = s * akp + c * akr;
                    }

                    for (int k = 0; k < n; k++)
                    {
                        double apk = a[p * n + k], ark = a[r * n + k];
                        a[p * n + k] = c * apk - s * ark;
                        a[r * n + k] = s * apk + c * ark;
                    }

                    for (int k = 0; k < n && withVectors; k++)
                    {
                        double vkp = vectors[k * n + p], vkr = vectors[k * n + r];
                        vectors[k * n + p] = c * vkp - s * vkr;
                        vectors[k * n + r] = s * vkp + c * vkr;
                    }
                }
            }
        }

        for (int i = 0; i < n; i++)
        {
            values[i] = a[i * n + i];
        }
    }

    /// <summary>x · y: a plain loop for the short segments of small matrices (a call into TensorPrimitives costs more than it saves there), vectorized beyond.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static double Dot(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        if (x.Length >= 16)
        {
            return TensorPrimitives.Dot(x, y);
        }

        int i = 0, width = System.Numerics.Vector<double>.Count;
        double sum = 0;
        if (System.Numerics.Vector.IsHardwareAccelerated && x.Length >= width)
        {
            var acc = System.Numerics.Vector<double>.Zero;
            for (; i <= x.Length - width; i += width)
            {
                acc += new System.Numerics.Vector<double>(x[i..]) * new System.Numerics.Vector<double>(y[i..]);
            }

            sum = System.Numerics.Vector.Sum(acc);
        }

        for (; i < x.Length; i++)
        {
            sum += x[i] * y[i];
        }

        return sum;
    }

    /// <summary>Σ_j log U[j, j]: half the log-determinant of the precision, −½ log det Σ.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
