using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using EmKernels.Numerics;

namespace EmKernels.Latent;

/// <summary>
/// The algebra of one factor analyzer (C = W Wᵀ + Ψ, W: D × q row-major, Ψ diagonal) on a scatter matrix S about the
/// mean, with scratch made once: the E-step's expectations from S (U = Ψ⁻¹ W, M = I + Wᵀ U, G = M⁻¹, S U; only q × q
/// inverses, Woodbury), the mean log-likelihood, one EM iteration W' = S βᵀ (G + β S βᵀ)⁻¹, Ψ' = diag(S − W' β S)
/// (σ²' for isotropic noise), the probabilistic PCA start from S's leading subspace, and the projections of the
/// factor log-density kernel. Shared by <see cref="FactorAnalyzer{T}"/> and the mixture of factor analyzers.
/// Not thread-safe.
/// </summary>
internal sealed class FactorAlgebra
{
    private readonly int _d;
    private readonly int _q;
    private readonly double[] _u;
    private readonly double[] _ut;
    private readonly double[] _su;
    private readonly double[] _sb;
    private readonly double[] _newLoadings;
    private readonly double[] _m;
    private readonly double[] _g;
    private readonly double[] _b;
    private readonly double[] _bInverse;
    private readonly double[] _smallScratch;

    /// <param name="features">D.</param>
    /// <param name="latentDimensions">q.</param>
    /// <param name="withScatter">Whether to hold a D × D <see cref="Scatter"/> (the scatter-based steps); the log-density's projections need none.</param>
    public FactorAlgebra(int features, int latentDimensions, bool withScatter = true)
    {
        int d = features, q = latentDimensions;
        _d = d;
        _q = q;
        Scatter = withScatter ? new double[d * d] : [];
        _u = new double[d * q];
        _ut = new double[q * d];
        _su = new double[d * q];
        _sb = new double[d * q];
        _newLoadings = new double[d * q];
        _m = new double[q * q];
        _g = new double[q * q];
        _b = new double[q * q];
        _bInverse = new double[q * q];
        _smallScratch = new double[Math.Max(2 * q * q, 1)];
    }

    /// <summary>S, D × D (full, symmetric): the caller writes it before <see cref="Expect"/>, <see cref="PrincipalStart"/>.</summary>
    public double[] Scatter { get; }

    /// <summary>G = (I + Wᵀ Ψ⁻¹ W)⁻¹ after <see cref="PosteriorFactors"/> (q × q).</summary>
    public ReadOnlySpan<double> PosteriorCovariance => _g;

    /// <summary>U = Ψ⁻¹ W after <see cref="PosteriorFactors"/> (D × q).</summary>
    public ReadOnlySpan<double> ScaledLoadings => _u;

    /// <summary>log det M = log det (I + Wᵀ Ψ⁻¹ W) after <see cref="PosteriorFactors"/>.</summary>
    public double LogDeterminantM { get; private set; }

    /// <summary>U = Ψ⁻¹ W, M = I + Wᵀ U, G = M⁻¹ and log det M; false if M is not positive definite.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool PosteriorFactors(ReadOnlySpan<double> w, ReadOnlySpan<double> psi)
    {
        int d = _d, q = _q;
        for (int j = 0; j < d; j++)
        {
            for (int l = 0; l < q; l++)
            {
                _u[j * q + l] = w[j * q + l] / psi[j];
            }
        }

        MultiplyTransposed(w, _u, _m, d, q, q);
        for (int l = 0; l < q; l++)
        {
            _m[l * q + l] += 1;
        }

        Symmetrize(_m, q);
        bool ok = DenseMatrix.TryInvertPositiveDefinite(_m, q, _g, _smallScratch, out double logDeterminant);
        LogDeterminantM = logDeterminant;
        return ok;
    }

    /// <summary>The E-step from <see cref="Scatter"/> under W and Ψ: <see cref="PosteriorFactors"/> and S U (the one O(D² q) product).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Expect(ReadOnlySpan<double> w, ReadOnlySpan<double> psi)
    {
        if (!PosteriorFactors(w, psi))
        {
            return false;
        }

        // S U as dot products of S's rows with U's columns (rows of Uᵀ).
        int d = _d, q = _q;
        for (int l = 0; l < q; l++)
        {
            for (int j = 0; j < d; j++)
            {
                _ut[l * d + j] = _u[j * q + l];
            }
        }

        ReadOnlySpan<double> scatter = Scatter, ut = _ut;
        for (int i = 0; i < d; i++)
        {
            ReadOnlySpan<double> row = scatter.Slice(i * d, d);
            for (int l = 0; l < q; l++)
            {
                _su[i * q + l] = TensorPrimitives.Dot(row, ut.Slice(l * d, d));
            }
        }

        return true;
    }

    /// <summary>After <see cref="Expect"/>: −½ [D log 2π + log det C + tr(C⁻¹ S)], with log det C = Σ log ψ + log det M and tr(C⁻¹ S) = Σ S_jj/ψ_j − tr(G Uᵀ S U).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public double MeanLogLikelihood(ReadOnlySpan<double> psi)
    {
        int d = _d, q = _q;
        double logDeterminant = LogDeterminantM, trace = 0;
        for (int j = 0; j < d; j++)
        {
            logDeterminant += Math.Log(psi[j]);
            trace += Scatter[j * d + j] / psi[j];
        }

        for (int l = 0; l < q; l++)
        {
            for (int m = 0; m < q; m++)
            {
                double ustu = 0;
                for (int j = 0; j < d; j++)
                {
                    ustu += _u[j * q + m] * _su[j * q + l];
                }

                trace -= _g[l * q + m] * ustu;
            }
        }

        return -0.5 * (d * Math.Log(2 * Math.PI) + logDeterminant + trace);
    }

    /// <summary>
    /// After <see cref="Expect"/> under W and Ψ: one EM iteration, W and Ψ replaced in place (isotropic: every ψ the
    /// new σ²); a noise variance is kept at least <paramref name="floor"/>. False (nothing changed) if G + β S βᵀ is
    /// not positive definite.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Iterate(Span<double> w, Span<double> psi, bool isotropic, double floor)
    {
        int d = _d, q = _q;

        // SB = S βᵀ = (S U) G; B = G + β S βᵀ = G + G (Uᵀ S U) G.
        Multiply(_su, _g, _sb, d, q, q);
        double[] ustu = _bInverse; // scratch until B is inverted
        MultiplyTransposed(_u, _sb, ustu, d, q, q);
        Multiply(_g, ustu, _b, q, q, q);
        for (int i = 0; i < q * q; i++)
        {
            _b[i] += _g[i];
        }

        Symmetrize(_b, q);
        if (!DenseMatrix.TryInvertPositiveDefinite(_b, q, _bInverse, _smallScratch, out _))
        {
            return false;
        }

        Multiply(_sb, _bInverse, _newLoadings, d, q, q);
        if (!isotropic)
        {
            for (int j = 0; j < d; j++)
            {
                double explained = 0;
                for (int l = 0; l < q; l++)
                {
                    explained += _newLoadings[j * q + l] * _sb[j * q + l];
                }

                double value = Scatter[j * d + j] - explained;
                psi[j] = value > floor ? value : floor;
            }
        }
        else
        {
            double trace = 0, cross = 0, quadratic = 0;
            for (int j = 0; j < d; j++)
            {
                trace += Scatter[j * d + j];
            }

            for (int i = 0; i < d * q; i++)
            {
                cross += _newLoadings[i] * _sb[i];
            }

            // tr(B W'ᵀ W') = Σ_{l,l'} B[l, l'] (W'ᵀ W')[l', l].
            for (int l = 0; l < q; l++)
            {
                for (int m = 0; m < q; m++)
                {
                    double wtw = 0;
                    for (int j = 0; j < d; j++)
                    {
                        wtw += _newLoadings[j * q + m] * _newLoadings[j * q + l];
                    }

                    quadratic += _b[l * q + m] * wtw;
                }
            }

            double sigma2 = (trace - 2 * cross + quadratic) / d;
            psi[..d].Fill(sigma2 > floor ? sigma2 : floor);
        }

        _newLoadings.CopyTo(w);
        return true;
    }

    /// <summary>
    /// The probabilistic PCA solution of <see cref="Scatter"/>'s leading q eigenpairs (Tipping and Bishop 1999):
    /// σ² = (tr S − Σ λ_l)/(D − q), W = U_q (Λ_q − σ² I)^½, Ψ = σ² I; with q = 0, Ψ = diag S (isotropic: its mean).
    /// </summary>
    public void PrincipalStart(Span<double> w, Span<double> psi, bool isotropic, double floor)
    {
        int d = _d, q = _q;
        double trace = 0;
        for (int j = 0; j < d; j++)
        {
            trace += Scatter[j * d + j];
        }

        if (q == 0)
        {
            for (int j = 0; j < d; j++)
            {
                double v = isotropic ? trace / d : Scatter[j * d + j];
                psi[j] = v > floor ? v : floor;
            }

            return;
        }

        double[] values = new double[q];
        double[] vectors = new double[q * d];
        DenseMatrix.LeadingEigenvectors(Scatter, d, q, values, vectors);
        double sigma2 = q < d ? (trace - values.Sum()) / (d - q) : 1e-3 * trace / d;
        sigma2 = sigma2 > floor ? sigma2 : floor;
        for (int l = 0; l < q; l++)
        {
            double length = Math.Sqrt(Math.Max(values[l] - sigma2, 0));
            for (int j = 0; j < d; j++)
            {
                w[j * q + l] = vectors[l * d + j] * length;
            }
        }

        psi[..d].Fill(sigma2);
    }

    /// <summary>
    /// For the factor log-density kernel: P = Lᵀ Uᵀ (q × D) with G = L Lᵀ, so that (x − μ)ᵀ C⁻¹ (x − μ) = Σ_d δ_d²/ψ_d −
    /// ‖P δ‖², and log det C. False if M is not positive definite.
    /// </summary>
    public bool Projections(ReadOnlySpan<double> w, ReadOnlySpan<double> psi, Span<double> projections, out double logDeterminant)
    {
        int d = _d, q = _q;
        logDeterminant = double.NaN;
        if (!PosteriorFactors(w, psi))
        {
            return false;
        }

        Span<double> lower = _smallScratch.AsSpan(0, q * q);
        if (!DenseMatrix.TryCholesky(_g, q, lower))
        {
            return false;
        }

        // P[l, j] = Σ_m L[m, l] U[j, m] (L lower triangular: m ≥ l).
        for (int l = 0; l < q; l++)
        {
            for (int j = 0; j < d; j++)
            {
                double sum = 0;
                for (int m = l; m < q; m++)
                {
                    sum += lower[m * q + l] * _u[j * q + m];
                }

                projections[l * d + j] = sum;
            }
        }

        logDeterminant = LogDeterminantM;
        for (int j = 0; j < d; j++)
        {
            logDeterminant += Math.Log(psi[j]);
        }

        return true;
    }

    /// <summary>
    /// One draw x = μ + W z + √Ψ ε of a factor analyzer (z, then ε feature by feature, standard normal), into
    /// <paramref name="point"/>; <paramref name="z"/> is q values of scratch.
    /// </summary>
    public static void SamplePoint<T>(ReadOnlySpan<double> mean, ReadOnlySpan<double> loadings, ReadOnlySpan<double> noise, Span<double> z, Random random, Span<T> point)
        where T : unmanaged, System.Numerics.IBinaryFloatingPointIeee754<T>
    {
        int d = mean.Length, q = z.Length;
        for (int l = 0; l < q; l++)
        {
            z[l] = StandardNormal.Next(random);
        }

        for (int j = 0; j < d; j++)
        {
            double x = mean[j] + Math.Sqrt(noise[j]) * StandardNormal.Next(random);
            for (int l = 0; l < q; l++)
            {
                x += loadings[j * q + l] * z[l];
            }

            point[j] = T.CreateTruncating(x);
        }
    }

    /// <summary>C (r × c) = A (r × k) B (k × c), row-major.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(ReadOnlySpan<double> a, ReadOnlySpan<double> b, Span<double> c, int rows, int inner, int columns)
    {
        c[..(rows * columns)].Clear();
        for (int i = 0; i < rows; i++)
        {
            Span<double> row = c.Slice(i * columns, columns);
            for (int k = 0; k < inner; k++)
            {
                double aik = a[i * inner + k];
                if (aik != 0)
                {
                    ReadOnlySpan<double> bk = b.Slice(k * columns, columns);
                    for (int j = 0; j < columns; j++)
                    {
                        row[j] += aik * bk[j];
                    }
                }
            }
        }
    }

    /// <summary>C (r × c) = Aᵀ B for A (k × r) and B (k × c), row-major.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MultiplyTransposed(ReadOnlySpan<double> a, ReadOnlySpan<double> b, Span<double> c, int inner, int rows, int columns)
    {
        c[..(rows * columns)].Clear();
        for (int k = 0; k < inner; k++)
        {
            ReadOnlySpan<double> ak = a.Slice(k * rows, rows);
            ReadOnlySpan<double> bk = b.Slice(k * columns, columns);
            for (int i = 0; i < rows; i++)
            {
                double aki = ak[i];
                Span<double> row = c.Slice(i * columns, columns);
                for (int j = 0; j < columns; j++)
                {
                    row[j] += aki * bk[j];
                }
            }
        }
    }

    /// <summary>Replaces a nearly symmetric matrix by its symmetric part (rounding of products such as G (Uᵀ S U) G).</summary>
    private static void Symmetrize(Span<double> a, int n)
    {
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < i; j++)
            {
                double mean = 0.5 * (a[i * n + j] + a[j * n + i]);
                a[i * n + j] = mean;
                a[j * n + i] = mean;
            }
        }
    }
}
