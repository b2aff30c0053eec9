using System.Buffers;
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

        // Scratch: t = x − c and u = v·t for one chunk of points (plus one tail vector), feature by feature.
        int slot = MixtureKernels.PointChunk + Vector512<T>.Count;
        int length = 2 * features * slot;
        T[]? rented = null;
        Span<T> scratch = length * Unsafe.SizeOf<T>() <= StackScratchBytes
            ? stackalloc T[length]
            : (rented = ArrayPool<T>.Shared.Rent(length));
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
        if (rented is not null)
        {
            ArrayPool<T>.Shared.Return(rented);
        }
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
    // Per chunk and component: t and u go to scratch once, then every (a, b ≥ a) pair is a dot product
    // over the chunk, four b's at a time sharing each load of u_a. Chunk sums go to double.
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
        ref T ts = ref a.Scratch;
        ref T us = ref Unsafe.Add(ref a.Scratch, features * a.Slot);
        for (int start = 0; start < full; start += MixtureKernels.PointChunk)
        {
            int vectors = Math.Min(MixtureKernels.PointChunk, full - start) / width;
            bool tail = start + MixtureKernels.PointChunk >= full && full != points;
            int slots = tail ? vectors + 1 : vectors;
            TV fresh = TOps.LanesFrom(tail ? (start + vectors * width) - (points - width) : 0);
            for (int k = 0; k < a.Components; k++)
            {
                ref T r = ref Unsafe.Add(ref a.Responsibilities, (nint)k * points);
                ref T c = ref Unsafe.Add(ref a.Shift, k * features);
                ref double first = ref Unsafe.Add(ref a.FirstMoments, k * features);
                ref double scatter = ref Unsafe.Add(ref a.Scatter, k * a.ScatterStride);
                TV mass = TOps.Zero;
                for (int d = 0; d < features; d++)
                {
                    TV cd = TOps.Broadcast(Unsafe.Add(ref c, d));
                    TV sum = TOps.Zero;
                    for (int j = 0; j < slots; j++)
                    {
                        nuint position = (nuint)(j < vectors ? start + j * width : points - width);
                        TV v = TOps.Load(ref r, position);
                        if (a.Weighted)
                        {
                            v = TOps.Multiply(v, TOps.Load(ref a.Weights, position));
                        }

                        TV t = TOps.Subtract(TOps.Load(ref a.X, (nuint)d * (nuint)a.Stride + position), cd);
                        if (j == vectors)
                        {
                            t = TOps.Select(fresh, t, TOps.Zero);
                            v = TOps.Select(fresh, v, TOps.Zero);
                        }

                        TV u = TOps.Multiply(v, t);
                        nuint at = (nuint)(d * a.Slot + j * width);
                        TOps.Store(t, ref ts, at);
                        TOps.Store(u, ref us, at);
                        sum = TOps.Add(sum, u);
                        if (d == 0)
                        {
                            mass = TOps.Add(mass, v);
                        }
                    }

                    Unsafe.Add(ref first, d) += TOps.SumToDouble(sum);
                }

                Unsafe.Add(ref a.WeightSums, k) += TOps.SumToDouble(mass);
                AccumulateUpperTriangle<T, TV, TOps>(ref ts, ref us, features, a.Slot, slots, ref scatter);
            }
        }
    }

    /// <summary>scatter[a·D + b] += Σ over the chunk of u_a · t_b for every b ≥ a.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AccumulateUpperTriangle<T, TV, TOps>(ref T ts, ref T us, int features, int slot, int slots, ref double scatter)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>
    {
        int width = TOps.Count;
        for (int row = 0; row < features; row++)
        {
            ref T ua = ref Unsafe.Add(ref us, row * slot);
            ref double target = ref Unsafe.Add(ref scatter, row * features);
            int column = row;
            for (; column + 4 <= features; column += 4)
            {
                ref T t0 = ref Unsafe.Add(ref ts, column * slot);
                TV s0 = TOps.Zero, s1 = TOps.Zero, s2 = TOps.Zero, s3 = TOps.Zero;
                for (int j = 0; j < slots; j++)
                {
                    nuint at = (nuint)(j * width);
                    TV u = TOps.Load(ref ua, at);
                    s0 = TOps.MultiplyAdd(u, TOps.Load(ref t0, at), s0);
                    s1 = TOps.MultiplyAdd(u, TOps.Load(ref t0, at + (nuint)slot), s1);
                    s2 = TOps.MultiplyAdd(u, TOps.Load(ref t0, at + (nuint)(2 * slot)), s2);
                    s3 = TOps.MultiplyAdd(u, TOps.Load(ref t0, at + (nuint)(3 * slot)), s3);
                }

                Unsafe.Add(ref target, column) += TOps.SumToDouble(s0);
                Unsafe.Add(ref target, column + 1) += TOps.SumToDouble(s1);
                Unsafe.Add(ref target, column + 2) += TOps.SumToDouble(s2);
                Unsafe.Add(ref target, column + 3) += TOps.SumToDouble(s3);
            }

            for (; column < features; column++)
            {
                ref T tb = ref Unsafe.Add(ref ts, column * slot);
                TV s = TOps.Zero;
                for (int j = 0; j < slots; j++)
                {
                    nuint at = (nuint)(j * width);
                    s = TOps.MultiplyAdd(TOps.Load(ref ua, at), TOps.Load(ref tb, at), s);
                }

                Unsafe.Add(ref target, column) += TOps.SumToDouble(s);
            }
        }
    }
}
