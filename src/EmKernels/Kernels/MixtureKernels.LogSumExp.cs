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
    /// Points per chunk of the component reductions. Within a chunk each pass walks the K rows one
    /// after another (sequential, prefetch-friendly) and keeps per-point maxima and sums in a small
    /// stack buffer. Walking a column of K rows instead falls off a cliff when B·sizeof(T) is a
    /// multiple of 4 KiB: the rows then share L1 sets (measured 5× slower at B = 4096, K = 16).
    /// A multiple of every vector width.
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

    // Tails: element-wise over points and the source is read-only, so the last chunk gets one extra
    // vector slot at points − W that overlaps the previous vector (recomputing a few points
    // identically). Requires points >= TOps.Count (or points == 0).
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LogSumExp<T, TV, TOps>(ref T source, int components, int points, ref T destination)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>
    {
        int width = TOps.Count;
        Span<T> buffers = stackalloc T[2 * (PointChunk + 16)];
        ref T shifts = ref MemoryMarshal.GetReference(buffers);
        ref T sums = ref Unsafe.Add(ref shifts, PointChunk + 16);
        int full = points - (points % width);
        for (int start = 0; start < full; start += PointChunk)
        {
            var chunk = new Chunk(start, Math.Min(PointChunk, full - start) / width, start + PointChunk >= full && full != points, points - width);
            ShiftsAndSums<T, TV, TOps>(ref source, components, points, chunk, ref shifts, ref sums, storeExponentials: false);
            for (int j = 0; j < chunk.Slots; j++)
            {
                nuint at = (nuint)(j * width);
                TV logSum = TOps.Add(TOps.Load(ref shifts, at), TOps.Log(TOps.Load(ref sums, at)));
                TOps.Store(logSum, ref destination, chunk.Position(j, width));
            }
        }
    }

    /// <summary>
    /// The vector slots of one chunk: <see cref="Vectors"/> whole vectors from <see cref="Start"/>,
    /// plus, in the last chunk of a ragged block, one slot at <see cref="TailAt"/> = points − W whose
    /// first lanes overlap the chunk's last whole vector.
    /// </summary>
    private readonly record struct Chunk(int Start, int Vectors, bool HasTail, int TailAt)
    {
        public int Slots => HasTail ? Vectors + 1 : Vectors;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public nuint Position(int slot, int width) => (nuint)(slot < Vectors ? Start + slot * width : TailAt);
    }

    /// <summary>
    /// Passes 1 and 2 over one chunk, row by row: the per-point shift (the maximum where finite, else
    /// 0, so −∞ − (−∞) never appears) into <paramref name="shifts"/>, and Σ_k exp(x − shift) into
    /// <paramref name="sums"/>. With <paramref name="storeExponentials"/>, exp(x − shift) also replaces
    /// x in place (the tail slot writes only its fresh lanes; its stale lanes of the sum are garbage
    /// and must be masked by the caller).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ShiftsAndSums<T, TV, TOps>(ref T block, int components, int points, Chunk chunk, ref T shifts, ref T sums, bool storeExponentials)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>
    {
        int width = TOps.Count;
        int slots = chunk.Slots;
        for (int j = 0; j < slots; j++)
        {
            TOps.Store(TOps.Load(ref block, chunk.Position(j, width)), ref shifts, (nuint)(j * width));
        }

        for (int k = 1; k < components; k++)
        {
            ref T row = ref Unsafe.Add(ref block, (nint)k * points);
            for (int j = 0; j < slots; j++)
            {
                nuint at = (nuint)(j * width);
                TOps.Store(TOps.Max(TOps.Load(ref shifts, at), TOps.Load(ref row, chunk.Position(j, width))), ref shifts, at);
            }
        }

        for (int j = 0; j < slots; j++)
        {
            nuint at = (nuint)(j * width);
            TV max = TOps.Load(ref shifts, at);
            TOps.Store(TOps.Select(TOps.IsFinite(max), max, TOps.Zero), ref shifts, at);
            TOps.Store(TOps.Zero, ref sums, at);
        }

        TV fresh = TOps.LanesFrom(chunk.HasTail ? (chunk.Start + chunk.Vectors * width) - chunk.TailAt : 0);
        for (int k = 0; k < components; k++)
        {
            ref T row = ref Unsafe.Add(ref block, (nint)k * points);
            for (int j = 0; j < slots; j++)
            {
                nuint at = (nuint)(j * width);
                nuint position = chunk.Position(j, width);
                TV x = TOps.Load(ref row, position);
                TV e = TOps.Exp(TOps.Subtract(x, TOps.Load(ref shifts, at)));
                TOps.Store(TOps.Add(TOps.Load(ref sums, at), e), ref sums, at);
                if (storeExponentials)
                {
                    TOps.Store(j < chunk.Vectors ? e : TOps.Select(fresh, e, x), ref row, position);
                }
            }
        }
    }
}
