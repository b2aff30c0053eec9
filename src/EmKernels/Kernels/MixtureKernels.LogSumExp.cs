using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using EmKernels.Kernels.Common;

namespace EmKernels.Kernels;

/// <summary>
/// Kernels shared by every mixture model: the log-sum-exp over components and the responsibilities
/// (the E-step's normalisation). Blocks are component-major: row k of a K × B block holds component k
/// for B consecutive points, so reductions over components are vertical vector operations.
/// </summary>
/// <remarks>
/// Every kernel runs a Vector512, Vector256 or Vector128 path (the widest that is hardware-accelerated
/// and no wider than the number of points) or a scalar path. Results may differ in the last bits
/// between paths, because fused multiply-add and the vector exp/log are not bitwise identical to
/// their scalar counterparts.
/// </remarks>
public static partial class MixtureKernels
{
    /// <summary>
    /// Points per chunk of the kernels that write K rows (log-densities) or stream D features (statistics):
    /// within a chunk the outer loop walks rows or features one after another while the chunk's slice of
    /// the others stays in cache. A multiple of every vector width.
    /// </summary>
    internal const int PointChunk = 256;

    /// <summary>
    /// Computes, for every point n of a component-major block, <c>destination[n] = log Σ_k exp(logProbabilities[k·points + n])</c>,
    /// shifted by the per-point maximum so that no exp overflows.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="logProbabilities">K × B values, component-major: component k of point n at <c>k·points + n</c>.</param>
    /// <param name="components">K, the number of components (≥ 1).</param>
    /// <param name="points">B, the number of points (≥ 0).</param>
    /// <param name="destination">B values receiving the log-sum-exp of each point. Must not overlap <paramref name="logProbabilities"/>.</param>
    /// <remarks>
    /// Special values: a point whose components are all −∞ gets −∞ (never NaN); a point with a +∞ and no
    /// NaN gets +∞; a point with any NaN gets NaN.
    /// </remarks>
    /// <exception cref="ArgumentException">A span length does not match the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="components"/> &lt; 1 or <paramref name="points"/> &lt; 0.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    // Called per tile from the first pass on: optimized at once rather than after tiering (a fit is often shorter than tier-up).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LogSumExp<T>(ReadOnlySpan<T> logProbabilities, int components, int points, Span<T> destination)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Shape.CheckElementType<T>();
        Shape.Positive(components, nameof(components));
        Shape.NonNegative(points, nameof(points));
        Shape.Exact(logProbabilities.Length, components, points, nameof(logProbabilities), "components × points");
        Shape.Exact(destination.Length, points, 1, nameof(destination), "one per point");

        var arguments = new BlockArguments<T>(
            ref MemoryMarshal.GetReference(logProbabilities), components, points, ref MemoryMarshal.GetReference(destination), ref Unsafe.NullRef<T>(), false);
        Dispatch.Run<T, LogSumExpBody<T>, BlockArguments<T>>(points, ref arguments);
    }

    /// <summary>The validated arguments of <see cref="LogSumExp{T}"/> and <see cref="Responsibilities{T}"/>, as references.</summary>
    private ref struct BlockArguments<T>(ref T block, int components, int points, ref T normalizers, ref T weights, bool weighted)
        where T : unmanaged
    {
        public ref T Block = ref block;
        public int Components = components;
        public int Points = points;
        public ref T Normalizers = ref normalizers;
        public ref T Weights = ref weights;
        public bool Weighted = weighted;
        public double Result;
    }

    private readonly struct LogSumExpBody<T> : IKernelBody<T, BlockArguments<T>>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run<TV, TOps>(ref BlockArguments<T> a)
            where TV : struct
            where TOps : struct, ISimd<TV, T> =>
            LogSumExp<T, TV, TOps>(ref a.Block, a.Components, a.Points, ref a.Normalizers);
    }

    // Columns: each vector of points walks down the K rows with its maximum and sum in registers, as in
    // Responsibilities. Tails: element-wise over points and the source is read-only, so the last vector
    // overlaps the previous one (recomputing a few points identically). Requires points >= TOps.Count
    // (or points == 0).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LogSumExp<T, TV, TOps>(ref T source, int components, int points, ref T destination)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>
    {
        int width = TOps.Count;
        for (int n = 0; n < points; n += width)
        {
            int at = Math.Min(n, points - width);
            ref T column = ref Unsafe.Add(ref source, at);
            TV shift = ColumnShift<T, TV, TOps>(ref column, components, points);
            TV sum = SumOfExponentials<T, TV, TOps>(ref column, components, points, shift, store: false, fresh: TOps.Zero);
            TOps.Store(TOps.Add(shift, TOps.Log(sum)), ref destination, (nuint)at);
        }
    }

    /// <summary>
    /// The shift of one vector column of K rows (<paramref name="rowStride"/> apart): the maximum where
    /// finite, else 0, so that −∞ − (−∞) never appears.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV ColumnShift<T, TV, TOps>(ref T column, int components, nint rowStride)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>
    {
        TV m = TOps.Load(ref column, 0);
        ref T row = ref column;
        for (int k = 1; k < components; k++)
        {
            row = ref Unsafe.Add(ref row, rowStride);
            m = TOps.Max(m, TOps.Load(ref row, 0));
        }

        return FiniteOrZero<T, TV, TOps>(m);
    }

    /// <summary>
    /// Σ_k exp(x − shift) down one vector column; with <paramref name="store"/>, each exp replaces its
    /// x in the lanes set in <paramref name="fresh"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV SumOfExponentials<T, TV, TOps>(ref T column, int components, nint rowStride, TV shift, bool store, TV fresh)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>
    {
        TV sum = TOps.Zero;
        ref T row = ref column;
        for (int k = 0; k < components; k++, row = ref Unsafe.Add(ref row, rowStride))
        {
            TV x = TOps.Load(ref row, 0);
            TV e = TOps.Exp(TOps.Subtract(x, shift));
            sum = TOps.Add(sum, e);
            if (store)
            {
                TOps.Store(TOps.Select(fresh, e, x), ref row, 0);
            }
        }

        return sum;
    }
}
