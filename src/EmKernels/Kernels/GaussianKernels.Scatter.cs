using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using EmKernels.Kernels.Common;

namespace EmKernels.Kernels;

public static partial class GaussianKernels
{
    private static void Scatter<T>(
        ReadOnlySpan<T> x, int features, int points, int stride, ReadOnlySpan<T> responsibilities, int components,
        ReadOnlySpan<T> sampleWeights, ReadOnlySpan<T> shift, Span<double> weightSums, Span<double> firstMoments,
        Span<double> scatter, int scatterStride)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (points == 0)
        {
            return;
        }

        // Scratch: t = x − c and u = v·t for one chunk of points (plus one tail vector), feature by feature, then v.
        int slot = MixtureKernels.PointChunk + Vector512<T>.Count;
        int length = (2 * features + 1) * slot;
        Span<T> scratch = Scratch.Get<T>(length);
        var args = new ScatterArguments<T>(
            ref MemoryMarshal.GetReference(x), features, points, stride,
            ref MemoryMarshal.GetReference(responsibilities), components,
            ref MemoryMarshal.GetReference(sampleWeights), !sampleWeights.IsEmpty,
            ref MemoryMarshal.GetReference(shift),
            ref MemoryMarshal.GetReference(weightSums),
            ref MemoryMarshal.GetReference(firstMoments),
            ref MemoryMarshal.GetReference(scatter), scatterStride,
            ref MemoryMarshal.GetReference(scratch), slot);
        Dispatch.Run<T, ScatterBody<T>, ScatterArguments<T>>(points, ref args);
    }

    private readonly struct ScatterBody<T> : IKernelBody<T, ScatterArguments<T>>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run<TV, TOps>(ref ScatterArguments<T> a)
            where TV : struct
            where TOps : struct, ISimd<TV, T> =>
            Scatter<T, TV, TOps>(ref a);
    }

    /// <summary>The validated arguments of a scatter accumulation, as references.</summary>
    private ref struct ScatterArguments<T>(
        ref T x, int features, int points, int stride, ref T responsibilities, int components, ref T weights, bool weighted,
        ref T shift, ref double weightSums, ref double firstMoments, ref double scatter, int scatterStride, ref T scratch, int slot)
        where T : unmanaged
    {
        public ref T X = ref x;
        public int Features = features;
        public int Points = points;
        public int Stride = stride;
        public ref T Responsibilities = ref responsibilities;
        public int Components = components;
        public ref T Weights = ref weights;
        public bool Weighted = weighted;
        public ref T Shift = ref shift;
        public ref double WeightSums = ref weightSums;
        public ref double FirstMoments = ref firstMoments;
        public ref double Scatter = ref scatter;
        public int ScatterStride = scatterStride;
        public ref T Scratch = ref scratch;
        public int Slot = slot;
    }

    // Tails: a reduction, so the last vector (at points − W) overlaps the previous one and its stale
    // lanes are zeroed in both t and u (zeroing only v would turn an infinite feature into 0·∞ = NaN).
    // Per chunk and component: v = w·r once, then t and u go to scratch feature by feature (branch-free
    // loops, the tail vector peeled), then the upper triangle in register blocks. Chunk sums go to double.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scatter<T, TV, TOps>(ref ScatterArguments<T> a)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>
    {
        int width = TOps.Count;
        int features = a.Features;
        int points = a.Points;
        int full = points - (points % width);
        nuint tailAt = (nuint)(points - width);
        ref T ts = ref a.Scratch;
        ref T us = ref Unsafe.Add(ref a.Scratch, features * a.Slot);
        ref T vs = ref Unsafe.Add(ref a.Scratch, 2 * features * a.Slot);
        for (int start = 0; start < full; start += MixtureKernels.PointChunk)
        {
            int vectors = Math.Min(MixtureKernels.PointChunk, full - start) / width;
            bool tail = start + MixtureKernels.PointChunk >= full && full != points;
            int slots = tail ? vectors + 1 : vectors;
            TV fresh = TOps.LanesFrom(tail ? (start + vectors * width) - (points - width) : 0);
            nuint tailSlot = (nuint)(vectors * width);
            for (int k = 0; k < a.Components; k++)
            {
                ref T r = ref Unsafe.Add(ref a.Responsibilities, (nint)k * points);
                ref T c = ref Unsafe.Add(ref a.Shift, k * features);
                ref double first = ref Unsafe.Add(ref a.FirstMoments, k * features);
                ref double scatter = ref Unsafe.Add(ref a.Scatter, k * a.ScatterStride);

                // v = w · r for the chunk, zero in the tail vector's stale lanes.
                TV mass = TOps.Zero;
                if (a.Weighted)
                {
                    for (int j = 0; j < vectors; j++)
                    {
                        nuint position = (nuint)(start + j * width);
                        TV v = TOps.Multiply(TOps.Load(ref r, position), TOps.Load(ref a.Weights, position));
                        TOps.Store(v, ref vs, (nuint)(j * width));
                        mass = TOps.Add(mass, v);
                    }
                }
                else
                {
                    for (int j = 0; j < vectors; j++)
                    {
                        TV v = TOps.Load(ref r, (nuint)(start + j * width));
                        TOps.Store(v, ref vs, (nuint)(j * width));
                        mass = TOps.Add(mass, v);
                    }
                }

                if (tail)
                {
                    TV v = TOps.Load(ref r, tailAt);
                    if (a.Weighted)
                    {
                        v = TOps.Multiply(v, TOps.Load(ref a.Weights, tailAt));
                    }

                    v = TOps.Select(fresh, v, TOps.Zero);
                    TOps.Store(v, ref vs, tailSlot);
                    mass = TOps.Add(mass, v);
                }

                Unsafe.Add(ref a.WeightSums, k) += TOps.SumToDouble(mass);
                for (int d = 0; d < features; d++)
                {
                    TV cd = TOps.Broadcast(Unsafe.Add(ref c, d));
                    ref T xd = ref Unsafe.Add(ref a.X, (nint)d * a.Stride);
                    ref T td = ref Unsafe.Add(ref ts, d * a.Slot);
                    ref T ud = ref Unsafe.Add(ref us, d * a.Slot);
                    TV sum = TOps.Zero;
                    for (int j = 0; j < vectors; j++)
                    {
                        nuint at = (nuint)(j * width);
                        TV t = TOps.Subtract(TOps.Load(ref xd, (nuint)start + at), cd);
                        TV u = TOps.Multiply(TOps.Load(ref vs, at), t);
                        TOps.Store(t, ref td, at);
                        TOps.Store(u, ref ud, at);
                        sum = TOps.Add(sum, u);
                    }

                    if (tail)
                    {
                        TV t = TOps.Select(fresh, TOps.Subtract(TOps.Load(ref xd, tailAt), cd), TOps.Zero);
                        TV u = TOps.Multiply(TOps.Load(ref vs, tailSlot), t);
                        TOps.Store(t, ref td, tailSlot);
                        TOps.Store(u, ref ud, tailSlot);
                        sum = TOps.Add(sum, u);
                    }

                    Unsafe.Add(ref first, d) += TOps.SumToDouble(sum);
                }

                AccumulateUpperTriangle<T, TV, TOps>(ref ts, ref us, features, a.Slot, slots, ref scatter);
            }
        }
    }

    /// <summary>
    /// scatter[a·D + b] += Σ over the chunk of u_a · t_b for every b ≥ a, in 4 × 4 register blocks: per
    /// point vector, 4 loads of u and 4 of t feed 16 multiply-adds (the 1 × 4 blocks this replaced needed
    /// 5 loads for 4). Diagonal blocks are computed whole and stored on and above the diagonal only.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AccumulateUpperTriangle<T, TV, TOps>(ref T ts, ref T us, int features, int slot, int slots, ref double scatter)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>
    {
        int row = 0;
        for (; row + 4 <= features; row += 4)
        {
            int column = row;
            for (; column + 4 <= features; column += 4)
            {
                Block4x4<T, TV, TOps>(ref ts, ref us, features, slot, slots, row, column, ref scatter);
            }

            for (; column < features; column++)
            {
                for (int r = row; r < row + 4; r++)
                {
                    Unsafe.Add(ref scatter, r * features + column) += Dot<T, TV, TOps>(ref Unsafe.Add(ref us, r * slot), ref Unsafe.Add(ref ts, column * slot), slots);
                }
            }
        }

        for (; row < features; row++)
        {
            for (int column = row; column < features; column++)
            {
                Unsafe.Add(ref scatter, row * features + column) += Dot<T, TV, TOps>(ref Unsafe.Add(ref us, row * slot), ref Unsafe.Add(ref ts, column * slot), slots);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block4x4<T, TV, TOps>(ref T ts, ref T us, int features, int slot, int slots, int row, int column, ref double scatter)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>
    {
        int width = TOps.Count;
        ref T u0 = ref Unsafe.Add(ref us, row * slot);
        ref T t0 = ref Unsafe.Add(ref ts, column * slot);
        nuint s1 = (nuint)slot, s2 = (nuint)(2 * slot), s3 = (nuint)(3 * slot);
        TV a00 = TOps.Zero, a01 = TOps.Zero, a02 = TOps.Zero, a03 = TOps.Zero;
        TV a10 = TOps.Zero, a11 = TOps.Zero, a12 = TOps.Zero, a13 = TOps.Zero;
        TV a20 = TOps.Zero, a21 = TOps.Zero, a22 = TOps.Zero, a23 = TOps.Zero;
        TV a30 = TOps.Zero, a31 = TOps.Zero, a32 = TOps.Zero, a33 = TOps.Zero;
        for (int j = 0; j < slots; j++)
        {
            nuint at = (nuint)(j * width);
            TV b0 = TOps.Load(ref t0, at);
            TV b1 = TOps.Load(ref t0, at + s1);
            TV b2 = TOps.Load(ref t0, at + s2);
            TV b3 = TOps.Load(ref t0, at + s3);
            TV u = TOps.Load(ref u0, at);
            a00 = TOps.MultiplyAdd(u, b0, a00);
            a01 = TOps.MultiplyAdd(u, b1, a01);
            a02 = TOps.MultiplyAdd(u, b2, a02);
            a03 = TOps.MultiplyAdd(u, b3, a03);
            u = TOps.Load(ref u0, at + s1);
            a10 = TOps.MultiplyAdd(u, b0, a10);
            a11 = TOps.MultiplyAdd(u, b1, a11);
            a12 = TOps.MultiplyAdd(u, b2, a12);
            a13 = TOps.MultiplyAdd(u, b3, a13);
            u = TOps.Load(ref u0, at + s2);
            a20 = TOps.MultiplyAdd(u, b0, a20);
            a21 = TOps.MultiplyAdd(u, b1, a21);
            a22 = TOps.MultiplyAdd(u, b2, a22);
            a23 = TOps.MultiplyAdd(u, b3, a23);
            u = TOps.Load(ref u0, at + s3);
            a30 = TOps.MultiplyAdd(u, b0, a30);
            a31 = TOps.MultiplyAdd(u, b1, a31);
            a32 = TOps.MultiplyAdd(u, b2, a32);
            a33 = TOps.MultiplyAdd(u, b3, a33);
        }

        // Whole rows of four go through one transposed reduction; on a diagonal block (row == column)
        // the entries below the diagonal are computed but not stored.
        ref double r0 = ref Unsafe.Add(ref scatter, row * features + column);
        ref double r1 = ref Unsafe.Add(ref r0, features);
        ref double r2 = ref Unsafe.Add(ref r1, features);
        ref double r3 = ref Unsafe.Add(ref r2, features);
        TOps.AddSumsToDouble(a00, a01, a02, a03, ref r0);
        if (row != column)
        {
            TOps.AddSumsToDouble(a10, a11, a12, a13, ref r1);
            TOps.AddSumsToDouble(a20, a21, a22, a23, ref r2);
            TOps.AddSumsToDouble(a30, a31, a32, a33, ref r3);
            return;
        }

        Unsafe.Add(ref r1, 1) += TOps.SumToDouble(a11);
        Unsafe.Add(ref r1, 2) += TOps.SumToDouble(a12);
        Unsafe.Add(ref r1, 3) += TOps.SumToDouble(a13);
        Unsafe.Add(ref r2, 2) += TOps.SumToDouble(a22);
        Unsafe.Add(ref r2, 3) += TOps.SumToDouble(a23);
        Unsafe.Add(ref r3, 3) += TOps.SumToDouble(a33);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Dot<T, TV, TOps>(ref T u, ref T t, int slots)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>
    {
        TV sum = TOps.Zero;
        for (int j = 0; j < slots; j++)
        {
            nuint at = (nuint)(j * TOps.Count);
            sum = TOps.MultiplyAdd(TOps.Load(ref u, at), TOps.Load(ref t, at), sum);
        }

        return TOps.SumToDouble(sum);
    }
}
