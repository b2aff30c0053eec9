using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using EmKernels.Kernels.Common;

namespace EmKernels.Kernels;

public static partial class MixtureKernels
{
    /// <summary>
    /// Points per reduction chunk of the sufficient statistics: sums over points are accumulated in
    /// element-typed vectors for at most this many points, then added to double totals, so float sums
    /// stay accurate over any length. A multiple of every vector width.
    /// </summary>
    internal const int ReductionChunk = 1024;

    /// <summary>
    /// The E-step's normalisation, in place: turns log ρ (log weight + log-density, K × B component-major)
    /// into responsibilities <c>r[k·points + n] = exp(logρ[k·points + n] − ℓ_n)</c>, where
    /// <c>ℓ_n = log Σ_k exp(logρ[k·points + n])</c> is the point's log-likelihood, and returns
    /// <c>Σ_n w_n · ℓ_n</c> (w_n = 1 when <paramref name="sampleWeights"/> is empty).
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="logProbabilities">K × B log ρ values, overwritten with the responsibilities.</param>
    /// <param name="components">K, the number of components (≥ 1).</param>
    /// <param name="points">B, the number of points (≥ 0).</param>
    /// <param name="logLikelihoods">B values receiving ℓ_n. Must not overlap <paramref name="logProbabilities"/>.</param>
    /// <param name="sampleWeights">Empty, or B per-point weights w_n. Not validated here (the models validate them).</param>
    /// <returns>The (weighted) sum of the per-point log-likelihoods: summed in the element type over at most
    /// two vectors of points, then in double.</returns>
    /// <remarks>
    /// Each point's responsibilities sum to 1 within rounding. A point whose ℓ_n is not finite (all
    /// components −∞, or a +∞ or NaN input) gets ℓ_n as <see cref="LogSumExp{T}"/> defines it and
    /// responsibilities of exactly 0, so no NaN reaches the sufficient statistics; the returned sum then
    /// carries the −∞, +∞ or NaN. A point with weight exactly 0 adds nothing to the sum, even if ℓ_n = −∞.
    /// </remarks>
    /// <exception cref="ArgumentException">A span length does not match the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="components"/> &lt; 1 or <paramref name="points"/> &lt; 0.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    // Called per tile from the first pass on: optimized at once rather than after tiering (a fit is often shorter than tier-up).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double Responsibilities<T>(
        Span<T> logProbabilities,
        int components,
        int points,
        Span<T> logLikelihoods,
        ReadOnlySpan<T> sampleWeights = default)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Shape.CheckElementType<T>();
        Shape.Positive(components, nameof(components));
        Shape.NonNegative(points, nameof(points));
        Shape.Exact(logProbabilities.Length, components, points, nameof(logProbabilities), "components × points");
        Shape.Exact(logLikelihoods.Length, points, 1, nameof(logLikelihoods), "one per point");
        Shape.EmptyOrExact(sampleWeights.Length, points, nameof(sampleWeights));

        var arguments = new BlockArguments<T>(
            ref MemoryMarshal.GetReference(logProbabilities), components, points, ref MemoryMarshal.GetReference(logLikelihoods),
            ref MemoryMarshal.GetReference(sampleWeights), !sampleWeights.IsEmpty);
        Dispatch.Run<T, ResponsibilitiesBody<T>, BlockArguments<T>>(points, ref arguments);
        return arguments.Result;
    }

    private readonly struct ResponsibilitiesBody<T> : IKernelBody<T, BlockArguments<T>>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run<TV, TOps>(ref BlockArguments<T> a)
            where TV : struct
            where TOps : struct, ISimd<TV, T> =>
            a.Result = Responsibilities<T, TV, TOps>(ref a.Block, a.Components, a.Points, ref a.Normalizers, ref a.Weights, a.Weighted);
    }

    // Columns: two vectors of points at a time walk down the K rows with their maxima, sums, scales and
    // finiteness masks in registers, so each value is loaded three times and stored twice (row by row
    // through stack buffers it was eight loads and four stores): 3.2 → 2.35 ms per 200,000 points at
    // K = 16. Two columns give two independent exps per row; four ran out of registers and spilled.
    // Tails: whole vectors left over go one column at a time. The block is rewritten in place, so the last
    // vector slot (at points − W) cannot simply overlap the previous vector: its first lanes already hold
    // responsibilities. It is computed on all lanes and blended by a mask, so only its fresh lanes are
    // written and summed (identity 0). Requires points >= TOps.Count (or points == 0).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double Responsibilities<T, TV, TOps>(ref T block, int components, int points, ref T normalizers, ref T weights, bool weighted)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>
    {
        int width = TOps.Count;
        int full = points - (points % width);
        nint rowStride = points;
        double total = 0;
        int n = 0;
        for (; n + 2 * width <= full; n += 2 * width)
        {
            total += TwoColumns<T, TV, TOps>(ref block, components, rowStride, n, ref normalizers, ref weights, weighted);
        }

        TV all = TOps.LanesFrom(0);
        for (; n < full; n += width)
        {
            total += Column<T, TV, TOps>(ref block, components, rowStride, n, all, ref normalizers, ref weights, weighted);
        }

        if (full != points)
        {
            total += Column<T, TV, TOps>(ref block, components, rowStride, points - width, TOps.LanesFrom(full - (points - width)), ref normalizers, ref weights, weighted);
        }

        return total;
    }

    /// <summary>Two whole vector columns from <paramref name="at"/>; returns their contribution. Not inlined, so the
    /// JIT's inlining budget covers its exps (inlined into one method with the rest, it ran out and left
    /// calls to the vector helpers).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static double TwoColumns<T, TV, TOps>(ref T block, int components, nint rowStride, int at, ref T normalizers, ref T weights, bool weighted)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>
    {
        ref T column = ref Unsafe.Add(ref block, at);
        nuint w1 = (nuint)TOps.Count;

        // Pass 1: the per-point shift, the maximum where finite, else 0 (so −∞ − (−∞) never appears).
        TV m0 = TOps.Load(ref column, 0), m1 = TOps.Load(ref column, w1);
        ref T row = ref column;
        for (int k = 1; k < components; k++)
        {
            row = ref Unsafe.Add(ref row, rowStride);
            m0 = TOps.Max(m0, TOps.Load(ref row, 0));
            m1 = TOps.Max(m1, TOps.Load(ref row, w1));
        }

        m0 = FiniteOrZero<T, TV, TOps>(m0);
        m1 = FiniteOrZero<T, TV, TOps>(m1);

        // Pass 2: e = exp(x − shift) in place, and Σ_k e.
        TV s0 = TOps.Zero, s1 = TOps.Zero;
        row = ref column;
        for (int k = 0; k < components; k++, row = ref Unsafe.Add(ref row, rowStride))
        {
            TV e0 = TOps.Exp(TOps.Subtract(TOps.Load(ref row, 0), m0));
            TV e1 = TOps.Exp(TOps.Subtract(TOps.Load(ref row, w1), m1));
            s0 = TOps.Add(s0, e0);
            s1 = TOps.Add(s1, e1);
            TOps.Store(e0, ref row, 0);
            TOps.Store(e1, ref row, w1);
        }

        // ℓ = shift + log Σ; the scale is 1/Σ, or 0 where ℓ is not finite.
        TV c0 = LogLikelihood<T, TV, TOps>(ref m0, ref s0, ref normalizers, ref weights, weighted, (nuint)at);
        TV c1 = LogLikelihood<T, TV, TOps>(ref m1, ref s1, ref normalizers, ref weights, weighted, (nuint)at + w1);

        // Pass 3: r = e · (1/Σ), or exactly 0 for a point whose ℓ is not finite (m now holds the finiteness mask).
        row = ref column;
        for (int k = 0; k < components; k++, row = ref Unsafe.Add(ref row, rowStride))
        {
            TOps.Store(TOps.Select(m0, TOps.Multiply(TOps.Load(ref row, 0), s0), TOps.Zero), ref row, 0);
            TOps.Store(TOps.Select(m1, TOps.Multiply(TOps.Load(ref row, w1), s1), TOps.Zero), ref row, w1);
        }

        return TOps.SumToDouble(TOps.Add(c0, c1));
    }

    /// <summary>One vector column at <paramref name="at"/>, writing only the lanes set in <paramref name="fresh"/>; returns its contribution.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static double Column<T, TV, TOps>(ref T block, int components, nint rowStride, int at, TV fresh, ref T normalizers, ref T weights, bool weighted)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>
    {
        ref T column = ref Unsafe.Add(ref block, at);
        TV m = ColumnShift<T, TV, TOps>(ref column, components, rowStride);
        TV s = SumOfExponentials<T, TV, TOps>(ref column, components, rowStride, m, store: true, fresh);
        TV previous = TOps.Load(ref normalizers, (nuint)at);
        TV contribution = LogLikelihood<T, TV, TOps>(ref m, ref s, ref normalizers, ref weights, weighted, (nuint)at);
        TOps.Store(TOps.Select(fresh, TOps.Load(ref normalizers, (nuint)at), previous), ref normalizers, (nuint)at);
        ref T row = ref column;
        for (int k = 0; k < components; k++, row = ref Unsafe.Add(ref row, rowStride))
        {
            TV e = TOps.Load(ref row, 0);
            TOps.Store(TOps.Select(fresh, TOps.Select(m, TOps.Multiply(e, s), TOps.Zero), e), ref row, 0);
        }

        return TOps.SumToDouble(TOps.Select(fresh, contribution, TOps.Zero));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV FiniteOrZero<T, TV, TOps>(TV x)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T> =>
        TOps.Select(TOps.IsFinite(x), x, TOps.Zero);

    /// <summary>
    /// From a column's shift and Σ e: stores ℓ = shift + log Σ at <paramref name="at"/>, turns
    /// <paramref name="shift"/> into the mask of finite ℓ and <paramref name="sum"/> into the scale
    /// (1/Σ, or 0 where ℓ is not finite), and returns the column's contribution w·ℓ (0 where w = 0).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV LogLikelihood<T, TV, TOps>(ref TV shift, ref TV sum, ref T normalizers, ref T weights, bool weighted, nuint at)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>
    {
        TV logLikelihood = TOps.Add(shift, TOps.Log(sum));
        TV finite = TOps.IsFinite(logLikelihood);
        TOps.Store(logLikelihood, ref normalizers, at);
        shift = finite;
        sum = TOps.Select(finite, TOps.Divide(TOps.Broadcast(T.One), sum), TOps.Zero);
        if (!weighted)
        {
            return logLikelihood;
        }

        TV w = TOps.Load(ref weights, at);
        return TOps.Select(TOps.IsZero(w), TOps.Zero, TOps.Multiply(w, logLikelihood));
    }
}
