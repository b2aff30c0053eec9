using System.Numerics;
using EmKernels.Kernels.Common;
using EmKernels.Numerics;

namespace EmKernels.Kernels;

public static partial class GaussianKernels
{
    private static readonly double Log2Pi = Math.Log(2 * Math.PI);

    /// <summary>
    /// Prepares diagonal-covariance parameters for <see cref="DiagonalLogDensity{T}"/>: precisions 1/σ²
    /// and offsets <c>log w_k − ½(D log 2π + Σ_d log σ²_kd)</c>, computed in double once per iteration.
    /// </summary>
    /// <typeparam name="T">The element type the kernels will run in.</typeparam>
    /// <param name="variances">K × D variances σ²_kd, each finite and &gt; 0.</param>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="logWeights">K log mixing weights, or empty for plain log-densities (log w_k = 0).</param>
    /// <param name="precisions">K × D outputs 1/σ²_kd.</param>
    /// <param name="offsets">K outputs.</param>
    /// <exception cref="ArgumentException">A length does not match, or a variance is not finite and positive.</exception>
    public static void DiagonalParameters<T>(
        ReadOnlySpan<double> variances, int components, int features, ReadOnlySpan<double> logWeights, Span<T> precisions, Span<T> offsets)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Shape.CheckElementType<T>();
        Shape.Positive(components, nameof(components));
        Shape.Positive(features, nameof(features));
        Shape.Exact(variances.Length, components, features, nameof(variances), "components × features");
        Shape.Exact(precisions.Length, components, features, nameof(precisions), "components × features");
        Shape.Exact(offsets.Length, components, 1, nameof(offsets), "one per component");
        Shape.EmptyOrExact(logWeights.Length, components, nameof(logWeights));
        for (int k = 0; k < components; k++)
        {
            double logDeterminant = 0;
            for (int d = 0; d < features; d++)
            {
                double variance = CheckVariance(variances[k * features + d], k * features + d);
                logDeterminant += Math.Log(variance);
                precisions[k * features + d] = T.CreateTruncating(1.0 / variance);
            }

            double logWeight = logWeights.IsEmpty ? 0 : logWeights[k];
            offsets[k] = T.CreateTruncating(logWeight - 0.5 * (features * Log2Pi + logDeterminant));
        }
    }

    /// <summary>
    /// Prepares spherical-covariance parameters for <see cref="SphericalLogDensity{T}"/>: precisions 1/σ²_k
    /// and offsets <c>log w_k − ½ D (log 2π + log σ²_k)</c>, computed in double once per iteration.
    /// </summary>
    /// <typeparam name="T">The element type the kernels will run in.</typeparam>
    /// <param name="variances">K variances σ²_k, each finite and &gt; 0.</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="logWeights">K log mixing weights, or empty for plain log-densities (log w_k = 0).</param>
    /// <param name="precisions">K outputs 1/σ²_k.</param>
    /// <param name="offsets">K outputs.</param>
    /// <exception cref="ArgumentException">A length does not match, or a variance is not finite and positive.</exception>
    public static void SphericalParameters<T>(
        ReadOnlySpan<double> variances, int features, ReadOnlySpan<double> logWeights, Span<T> precisions, Span<T> offsets)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Shape.CheckElementType<T>();
        Shape.Positive(features, nameof(features));
        int components = variances.Length;
        Shape.Positive(components, nameof(variances) + ".Length");
        Shape.Exact(precisions.Length, components, 1, nameof(precisions), "one per component");
        Shape.Exact(offsets.Length, components, 1, nameof(offsets), "one per component");
        Shape.EmptyOrExact(logWeights.Length, components, nameof(logWeights));
        for (int k = 0; k < components; k++)
        {
            double variance = CheckVariance(variances[k], k);
            precisions[k] = T.CreateTruncating(1.0 / variance);
            double logWeight = logWeights.IsEmpty ? 0 : logWeights[k];
            offsets[k] = T.CreateTruncating(logWeight - 0.5 * features * (Log2Pi + Math.Log(variance)));
        }
    }

    /// <summary>
    /// Prepares full-covariance parameters for <see cref="FullLogDensity{T}"/>: the precision Cholesky
    /// factors U_k = L_k⁻ᵀ (Σ_k = L_k L_kᵀ, so Σ_k⁻¹ = U_k U_kᵀ) and offsets
    /// <c>log w_k − ½ D log 2π + Σ_j log U_k[j, j]</c>, computed in double once per iteration.
    /// </summary>
    /// <typeparam name="T">The element type the kernels will run in.</typeparam>
    /// <param name="covariances">K × D × D symmetric positive definite matrices, Σ_k[a, b] at <c>(k·D + a)·D + b</c>.</param>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="logWeights">K log mixing weights, or empty for plain log-densities.</param>
    /// <param name="precisionCholesky">K × D × D outputs (upper triangular, zeros below the diagonal).</param>
    /// <param name="offsets">K outputs.</param>
    /// <exception cref="ArgumentException">A length does not match, or a covariance is not symmetric positive definite (the message names the component).</exception>
    public static void FullParameters<T>(
        ReadOnlySpan<double> covariances, int components, int features, ReadOnlySpan<double> logWeights, Span<T> precisionCholesky, Span<T> offsets)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Shape.CheckElementType<T>();
        Shape.Positive(components, nameof(components));
        Shape.Positive(features, nameof(features));
        Shape.Exact(covariances.Length, components, features * features, nameof(covariances), "components × features × features");
        Shape.Exact(precisionCholesky.Length, components, features * features, nameof(precisionCholesky), "components × features × features");
        Shape.Exact(offsets.Length, components, 1, nameof(offsets), "one per component");
        Shape.EmptyOrExact(logWeights.Length, components, nameof(logWeights));
        int size = features * features;
        for (int k = 0; k < components; k++)
        {
            ReadOnlySpan<double> covariance = covariances.Slice(k * size, size);
            double halfLogDeterminant = 0;
            if (!DenseMatrix.IsSymmetric(covariance, features, 1e-10)
                || !TryPrecisionCholesky(covariance, features, precisionCholesky.Slice(k * size, size), out halfLogDeterminant))
            {
                ThrowHelper.ThrowArgument(nameof(covariances), $"The covariance of component {k} is not symmetric positive definite.");
            }

            double logWeight = logWeights.IsEmpty ? 0 : logWeights[k];
            offsets[k] = T.CreateTruncating(logWeight - 0.5 * features * Log2Pi + halfLogDeterminant);
        }
    }

    /// <summary>
    /// The one way a precision Cholesky factor is made: U = L⁻ᵀ for Σ = L Lᵀ (reading Σ's lower triangle),
    /// written into <paramref name="factor"/> (D × D, zeros below the diagonal), and
    /// <paramref name="halfLogDeterminant"/> = Σ_j log U[j, j] = −½ log det Σ. Uses this thread's kernel
    /// scratch, so it allocates nothing after the first call. Returns false (factor unspecified) if Σ is
    /// not positive definite.
    /// </summary>
    internal static bool TryPrecisionCholesky<T>(ReadOnlySpan<double> covariance, int features, Span<T> factor, out double halfLogDeterminant)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int size = features * features;
        Span<double> scratch = Scratch.Get<double>(2 * size);
        Span<double> lower = scratch[..size];
        Span<double> upper = scratch[size..];
        halfLogDeterminant = 0;
        if (!DenseMatrix.TryCholesky(covariance, features, lower))
        {
            return false;
        }

        DenseMatrix.PrecisionCholeskyFromCovarianceCholesky(lower, features, upper);
        halfLogDeterminant = DenseMatrix.LogDiagonalSum(upper, features);
        for (int i = 0; i < size; i++)
        {
            factor[i] = T.CreateTruncating(upper[i]);
        }

        return true;
    }

    private static double CheckVariance(double variance, int index)
    {
        if (!(variance > 0) || double.IsInfinity(variance))
        {
            ThrowHelper.ThrowArgument("variances", $"Variance at index {index} is {variance}; variances must be finite and positive.");
        }

        return variance;
    }
}
