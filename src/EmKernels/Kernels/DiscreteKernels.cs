using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using EmKernels.Kernels.Common;

namespace EmKernels.Kernels;

/// <summary>
/// Kernels for discrete and count mixtures over feature-major tiles of counts (stored as float or
/// double holding whole numbers): Bernoulli, binomial and Poisson log-densities share one count
/// kernel; categorical has its own; their sufficient statistics are weighted counts.
/// </summary>
/// <remarks>
/// Conventions (those of the fixtures' FORMAT.md §6): 0·log 0 = 0, so a term whose count is zero
/// contributes exactly 0 even when its log-probability is −∞; log 0 = −∞, so a positive count on an
/// outcome of probability 0 gives −∞ (and, after <see cref="MixtureKernels.Responsibilities{T}"/>, a
/// responsibility of exactly 0). No NaN arises from valid parameters. Counts are not validated here
/// (the models validate them once per fit).
/// </remarks>
public static partial class DiscreteKernels
{
    /// <summary>
    /// Bernoulli log-densities: effectively <c>destination[k·B + n] = offsets[k] + Σ_j (x_jn ≠ 0 ? logP[k·D + j] : logComplement[k·D + j])</c>
    /// for binary x, with logP = log p and logComplement = log(1 − p) (either may be −∞).
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="x">Feature-major tile of 0/1 values: feature j of point n at <c>j·stride + n</c>.</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="points">B (≥ 0).</param>
    /// <param name="stride">Distance between features in <paramref name="x"/> (≥ B).</param>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="logP">K × D values log p_kj.</param>
    /// <param name="logComplement">K × D values log(1 − p_kj).</param>
    /// <param name="offsets">K per-component constants (typically log w_k).</param>
    /// <param name="destination">K × B outputs, component-major.</param>
    /// <exception cref="ArgumentException">A span length does not match the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range.</exception>
    // Called per tile from the first pass on: optimized at once rather than after tiering (a fit is often shorter than tier-up).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BernoulliLogDensity<T>(
        ReadOnlySpan<T> x, int features, int points, int stride, int components,
        ReadOnlySpan<T> logP, ReadOnlySpan<T> logComplement, ReadOnlySpan<T> offsets, Span<T> destination)
        where T : unmanaged, IBinaryFloatingPointIeee754<T> =>
        CountLogDensity(x, features, points, stride, components, logP, logComplement, T.One, offsets, default, destination);

    /// <summary>
    /// Binomial log-densities with <paramref name="trials"/> trials: effectively
    /// <c>destination[k·B + n] = offsets[k] + pointOffsets[n] + Σ_j [x·log p_kj + (trials − x)·log(1 − p_kj)]</c>,
    /// each product taken as 0 when its count is 0. Pass Σ_j log C(trials, x_jn) as <paramref name="pointOffsets"/>
    /// for the full log-likelihood (it does not change responsibilities).
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="x">Feature-major tile of success counts 0 … trials.</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="points">B (≥ 0).</param>
    /// <param name="stride">Distance between features in <paramref name="x"/> (≥ B).</param>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="logP">K × D values log p_kj.</param>
    /// <param name="logComplement">K × D values log(1 − p_kj).</param>
    /// <param name="trials">T, the number of trials.</param>
    /// <param name="offsets">K per-component constants (typically log w_k).</param>
    /// <param name="pointOffsets">Empty, or B per-point constants added to every component.</param>
    /// <param name="destination">K × B outputs, component-major.</param>
    /// <exception cref="ArgumentException">A span length does not match the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range.</exception>
    // Called per tile from the first pass on: optimized at once rather than after tiering (a fit is often shorter than tier-up).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BinomialLogDensity<T>(
        ReadOnlySpan<T> x, int features, int points, int stride, int components,
        ReadOnlySpan<T> logP, ReadOnlySpan<T> logComplement, T trials, ReadOnlySpan<T> offsets, ReadOnlySpan<T> pointOffsets, Span<T> destination)
        where T : unmanaged, IBinaryFloatingPointIeee754<T> =>
        CountLogDensity(x, features, points, stride, components, logP, logComplement, trials, offsets, pointOffsets, destination);

    /// <summary>
    /// Poisson log-densities: effectively <c>destination[k·B + n] = offsets[k] + pointOffsets[n] + Σ_j x_jn·log λ_kj</c>
    /// (0 when x = 0). Fold −Σ_j λ_kj into <paramref name="offsets"/> and pass −Σ_j log(x_jn!) as
    /// <paramref name="pointOffsets"/> for the full log-likelihood.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="x">Feature-major tile of counts ≥ 0.</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="points">B (≥ 0).</param>
    /// <param name="stride">Distance between features in <paramref name="x"/> (≥ B).</param>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="logRates">K × D values log λ_kj.</param>
    /// <param name="offsets">K per-component constants (typically log w_k − Σ_j λ_kj).</param>
    /// <param name="pointOffsets">Empty, or B per-point constants added to every component.</param>
    /// <param name="destination">K × B outputs, component-major.</param>
    /// <exception cref="ArgumentException">A span length does not match the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range.</exception>
    // Called per tile from the first pass on: optimized at once rather than after tiering (a fit is often shorter than tier-up).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PoissonLogDensity<T>(
        ReadOnlySpan<T> x, int features, int points, int stride, int components,
        ReadOnlySpan<T> logRates, ReadOnlySpan<T> offsets, ReadOnlySpan<T> pointOffsets, Span<T> destination)
        where T : unmanaged, IBinaryFloatingPointIeee754<T> =>
        CountLogDensity(x, features, points, stride, components, logRates, default, T.Zero, offsets, pointOffsets, destination);

    /// <summary>
    /// Categorical log-densities, each feature an independent categorical variable with C categories:
    /// effectively <c>destination[k·B + n] = offsets[k] + Σ_j logP[(k·D + j)·C + x_jn]</c>.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="x">Feature-major tile of category codes 0 … C − 1.</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="points">B (≥ 0).</param>
    /// <param name="stride">Distance between features in <paramref name="x"/> (≥ B).</param>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="categories">C (≥ 1).</param>
    /// <param name="logP">K × D × C values log p_kjc (may be −∞).</param>
    /// <param name="offsets">K per-component constants (typically log w_k).</param>
    /// <param name="destination">K × B outputs, component-major.</param>
    /// <exception cref="ArgumentException">A span length does not match the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range.</exception>
    // Called per tile from the first pass on: optimized at once rather than after tiering (a fit is often shorter than tier-up).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void CategoricalLogDensity<T>(
        ReadOnlySpan<T> x, int features, int points, int stride, int components, int categories,
        ReadOnlySpan<T> logP, ReadOnlySpan<T> offsets, Span<T> destination)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Shape.LogDensityTile<T>(x.Length, features, points, stride, components, offsets.Length, destination.Length);
        Shape.Positive(categories, nameof(categories));
        Shape.Exact(logP.Length, components, features * categories, nameof(logP), "components × features × categories");
        var a = new CountArguments<T>(
            ref MemoryMarshal.GetReference(x), features, points, stride, components, ref MemoryMarshal.GetReference(logP),
            ref Unsafe.NullRef<T>(), T.Zero, categories, ref MemoryMarshal.GetReference(offsets), ref Unsafe.NullRef<T>(), false, ref MemoryMarshal.GetReference(destination));
        Dispatch.Run<T, CategoricalBody<T>, CountArguments<T>>(points, ref a);
    }

    private static void CountLogDensity<T>(
        ReadOnlySpan<T> x, int features, int points, int stride, int components,
        ReadOnlySpan<T> first, ReadOnlySpan<T> complement, T trials, ReadOnlySpan<T> offsets, ReadOnlySpan<T> pointOffsets, Span<T> destination)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Shape.LogDensityTile<T>(x.Length, features, points, stride, components, offsets.Length, destination.Length);
        bool poisson = complement.IsEmpty && trials == T.Zero;
        Shape.Exact(first.Length, components, features, poisson ? "logRates" : "logP", "components × features");
        if (!poisson)
        {
            Shape.Exact(complement.Length, components, features, "logComplement", "components × features");
        }

        Shape.EmptyOrExact(pointOffsets.Length, points, nameof(pointOffsets));
        var a = new CountArguments<T>(
            ref MemoryMarshal.GetReference(x), features, points, stride, components, ref MemoryMarshal.GetReference(first),
            ref MemoryMarshal.GetReference(complement), trials, poisson ? 0 : 1, ref MemoryMarshal.GetReference(offsets),
            ref MemoryMarshal.GetReference(pointOffsets), !pointOffsets.IsEmpty, ref MemoryMarshal.GetReference(destination));
        Dispatch.Run<T, CountBody<T>, CountArguments<T>>(points, ref a);
    }

    /// <summary>Validated arguments of the count and categorical log-densities. <see cref="Terms"/>: 0 = Poisson (x·A only), 1 = binomial (also (T − x)·B), or C for categorical.</summary>
    private ref struct CountArguments<T>(
        ref T x, int features, int points, int stride, int components, ref T first, ref T complement, T trials, int terms,
        ref T offsets, ref T pointOffsets, bool hasPointOffsets, ref T destination)
        where T : unmanaged
    {
        public ref T X = ref x;
        public int Features = features;
        public int Points = points;
        public int Stride = stride;
        public int Components = components;
        public ref T First = ref first;
        public ref T Complement = ref complement;
        public T Trials = trials;
        public int Terms = terms;
        public ref T Offsets = ref offsets;
        public ref T PointOffsets = ref pointOffsets;
        public bool HasPointOffsets = hasPointOffsets;
        public ref T Destination = ref destination;
    }

    // Tails: element-wise over points, destination separate from the inputs, so the last vector overlaps
    // the previous one. Chunks of points with components outermost, as the Gaussian log-densities.
    private readonly struct CountBody<T> : IKernelBody<T, CountArguments<T>>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run<TV, TOps>(ref CountArguments<T> a)
            where TV : struct
            where TOps : struct, ISimd<TV, T>
        {
            int width = TOps.Count;
            int last = a.Points - width;
            TV trials = TOps.Broadcast(a.Trials);
            for (int start = 0; start < a.Points; start += MixtureKernels.PointChunk)
            {
                int end = Math.Min(start + MixtureKernels.PointChunk, a.Points);
                for (int k = 0; k < a.Components; k++)
                {
                    ref T row = ref Unsafe.Add(ref a.Destination, (nint)k * a.Points);
                    TV offset = TOps.Broadcast(Unsafe.Add(ref a.Offsets, k));
                    for (int n = start; n < end; n += width)
                    {
                        nuint at = (nuint)Math.Min(n, last);
                        TV sum = a.HasPointOffsets ? TOps.Add(offset, TOps.Load(ref a.PointOffsets, at)) : offset;
                        for (int j = 0; j < a.Features; j++)
                        {
                            TV count = TOps.Load(ref a.X, (nuint)j * (nuint)a.Stride + at);

                            // 0·log 0 = 0: a zero count contributes exactly 0, even against a −∞ log-probability.
                            TV term = TOps.Select(TOps.IsZero(count), TOps.Zero, TOps.Multiply(count, TOps.Broadcast(Unsafe.Add(ref a.First, k * a.Features + j))));
                            if (a.Terms == 1)
                            {
                                TV rest = TOps.Subtract(trials, count);
                                term = TOps.Add(term, TOps.Select(TOps.IsZero(rest), TOps.Zero, TOps.Multiply(rest, TOps.Broadcast(Unsafe.Add(ref a.Complement, k * a.Features + j)))));
                            }

                            sum = TOps.Add(sum, term);
                        }

                        TOps.Store(sum, ref row, at);
                    }
                }
            }
        }
    }

    private readonly struct CategoricalBody<T> : IKernelBody<T, CountArguments<T>>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run<TV, TOps>(ref CountArguments<T> a)
            where TV : struct
            where TOps : struct, ISimd<TV, T>
        {
            int width = TOps.Count;
            int last = a.Points - width;
            int categories = a.Terms;
            for (int start = 0; start < a.Points; start += MixtureKernels.PointChunk)
            {
                int end = Math.Min(start + MixtureKernels.PointChunk, a.Points);
                for (int k = 0; k < a.Components; k++)
                {
                    ref T row = ref Unsafe.Add(ref a.Destination, (nint)k * a.Points);
                    TV offset = TOps.Broadcast(Unsafe.Add(ref a.Offsets, k));
                    for (int n = start; n < end; n += width)
                    {
                        nuint at = (nuint)Math.Min(n, last);
                        TV sum = offset;
                        for (int j = 0; j < a.Features; j++)
                        {
                            TV code = TOps.Load(ref a.X, (nuint)j * (nuint)a.Stride + at);
                            ref T logP = ref Unsafe.Add(ref a.First, (k * a.Features + j) * categories);

                            // Select the code's log-probability (never multiply: 0·(−∞) would be NaN).
                            TV selected = TOps.Zero;
                            for (int c = 0; c < categories; c++)
                            {
                                selected = TOps.Select(TOps.Equal(code, TOps.Broadcast(T.CreateTruncating(c))), TOps.Broadcast(Unsafe.Add(ref logP, c)), selected);
                            }

                            sum = TOps.Add(sum, selected);
                        }

                        TOps.Store(sum, ref row, at);
                    }
                }
            }
        }
    }
}
