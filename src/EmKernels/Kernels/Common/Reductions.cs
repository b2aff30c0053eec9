using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace EmKernels.Kernels.Common;

/// <summary>
/// The reductions of the drivers' summary passes over one feature of a tile: whether every value is finite, the
/// (weighted) sum and the (weighted) sum of squared deviations from a centre, both accumulated in double.
/// <para>
/// Why not TensorPrimitives: these run once per feature per tile (a few hundred values) from the first pass of a
/// fit on, and a fit of a million points is often over before tiered compilation promotes a library's generic
/// code; measured here, TensorPrimitives.Sum over 256 doubles ran at 0.68 ns per value for the first ~0.3 s of a
/// process and at 0.05 ns after tier-up. These are optimized at once.
/// </para>
/// Tails: reductions, so the last vector overlaps the previous one and its stale lanes are masked to the identity
/// (0); scalar below one vector. The order of the sums depends only on the length, never on the address.
/// Float data are summed value by value in double (no widening vector path): exact enough and fast enough for a
/// pass that is bound by reading the data.
/// </summary>
internal static class Reductions
{
    /// <summary>True when every value is finite (neither infinite nor NaN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool AllFinite<T>(ReadOnlySpan<T> values)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var arguments = new Arguments<T>(values, default, T.Zero);
        Dispatch.Run<T, FiniteBody<T>, Arguments<T>>(values.Length, ref arguments);
        return arguments.Result == 0;
    }

    /// <summary>
    /// Σ_n w_n Σ_k r_kn ln r_kn (0 ln 0 = 0): minus the entropy of the points' posteriors, which a variational bound needs,
    /// from the log-probabilities log ρ_kn the responsibilities came from and the points' log-normalizers ℓ_n =
    /// log Σ_k ρ_kn, without a logarithm: ln r_kn = log ρ_kn − ℓ_n and Σ_k r_kn = 1 make it
    /// Σ_n w_n (Σ_k r_kn log ρ_kn − ℓ_n). A term with r_kn = 0 is 0 (its log ρ may be −∞), and so is a point with ℓ_n = −∞
    /// (every r_kn is 0). K × B component-major blocks; <paramref name="weights"/> is empty or B long. Vectorized over the
    /// points (the widest of Vector512/256/128, scalar tails), products in <typeparamref name="T"/>, each row's sum and the
    /// total in double.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double WeightedEntropy<T>(
        ReadOnlySpan<T> responsibilities, ReadOnlySpan<T> logProbabilities, ReadOnlySpan<T> logNormalizers, int components, int points, ReadOnlySpan<T> weights)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Shape.Exact(responsibilities.Length, components, points, nameof(responsibilities), "K × B");
        Shape.Exact(logProbabilities.Length, components, points, nameof(logProbabilities), "K × B");
        Shape.Exact(logNormalizers.Length, points, 1, nameof(logNormalizers), "one per point");
        Shape.Exact(weights.IsEmpty ? points : weights.Length, points, 1, nameof(weights), "one per point");
        double total = 0;
        for (int k = 0; k < components; k++)
        {
            total += CrossRow(responsibilities.Slice(k * points, points), logProbabilities.Slice(k * points, points), weights);
        }

        for (int i = 0; i < points; i++)
        {
            double l = double.CreateTruncating(logNormalizers[i]);
            if (double.IsFinite(l))
            {
                total -= weights.IsEmpty ? l : double.CreateTruncating(weights[i]) * l;
            }
        }

        return total;
    }

    /// <summary>Σ_i w_i r_i x_i over the i with r_i &gt; 0 (w = 1 when <paramref name="weights"/> is empty).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double CrossRow<T>(ReadOnlySpan<T> r, ReadOnlySpan<T> x, ReadOnlySpan<T> weights)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            return CrossRowWidened(MemoryMarshal.Cast<T, float>(r), MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(weights));
        }

        int n = r.Length, i = 0;
        double sum = 0;
        ref T rr = ref MemoryMarshal.GetReference(r);
        ref T xx = ref MemoryMarshal.GetReference(x);
        ref T ww = ref MemoryMarshal.GetReference(weights);
        bool weighted = !weights.IsEmpty;
        if (Vector512.IsHardwareAccelerated && n >= Vector512<T>.Count)
        {
            var acc = Vector512<T>.Zero;
            for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
            {
                Vector512<T> p = Vector512.LoadUnsafe(ref rr, (nuint)i);
                Vector512<T> term = Vector512.ConditionalSelect(Vector512.GreaterThan(p, Vector512<T>.Zero), p * Vector512.LoadUnsafe(ref xx, (nuint)i), Vector512<T>.Zero);
                acc += weighted ? term * Vector512.LoadUnsafe(ref ww, (nuint)i) : term;
            }

            sum = double.CreateTruncating(Vector512.Sum(acc));
        }
        else if (Vector256.IsHardwareAccelerated && n >= Vector256<T>.Count)
        {
            var acc = Vector256<T>.Zero;
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
            {
                Vector256<T> p = Vector256.LoadUnsafe(ref rr, (nuint)i);
                Vector256<T> term = Vector256.ConditionalSelect(Vector256.GreaterThan(p, Vector256<T>.Zero), p * Vector256.LoadUnsafe(ref xx, (nuint)i), Vector256<T>.Zero);
                acc += weighted ? term * Vector256.LoadUnsafe(ref ww, (nuint)i) : term;
            }

            sum = double.CreateTruncating(Vector256.Sum(acc));
        }
        else if (Vector128.IsHardwareAccelerated && n >= Vector128<T>.Count)
        {
            var acc = Vector128<T>.Zero;
            for (; i <= n - Vector128<T>.Count; i += Vector128<T>.Count)
            {
                Vector128<T> p = Vector128.LoadUnsafe(ref rr, (nuint)i);
                Vector128<T> term = Vector128.ConditionalSelect(Vector128.GreaterThan(p, Vector128<T>.Zero), p * Vector128.LoadUnsafe(ref xx, (nuint)i), Vector128<T>.Zero);
                acc += weighted ? term * Vector128.LoadUnsafe(ref ww, (nuint)i) : term;
            }

            sum = double.CreateTruncating(Vector128.Sum(acc));
        }

        for (; i < n; i++)
        {
            if (r[i] > T.Zero)
            {
                double term = double.CreateTruncating(r[i]) * double.CreateTruncating(x[i]);
                sum += weighted ? term * double.CreateTruncating(weights[i]) : term;
            }
        }

        return sum;
    }

    /// <summary>
    /// <see cref="CrossRow{T}"/> of float values, each widened to double before its products (exact) and sums, so the result
    /// is as accurate as double's: the products in float would carry 1e-7 of |r log ρ| per term, far more than the entropy
    /// of confident responsibilities.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double CrossRowWidened(ReadOnlySpan<float> r, ReadOnlySpan<float> x, ReadOnlySpan<float> weights)
    {
        int n = r.Length, i = 0;
        double sum = 0;
        ref float rr = ref MemoryMarshal.GetReference(r);
        ref float xx = ref MemoryMarshal.GetReference(x);
        ref float ww = ref MemoryMarshal.GetReference(weights);
        bool weighted = !weights.IsEmpty;
        if (Vector512.IsHardwareAccelerated && n >= Vector256<float>.Count)
        {
            var acc = Vector512<double>.Zero;
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                Vector512<double> p = Vector512.WidenLower(Vector256.LoadUnsafe(ref rr, (nuint)i).ToVector512Unsafe());
                Vector512<double> v = Vector512.WidenLower(Vector256.LoadUnsafe(ref xx, (nuint)i).ToVector512Unsafe());
                Vector512<double> term = Vector512.ConditionalSelect(Vector512.GreaterThan(p, Vector512<double>.Zero), p * v, Vector512<double>.Zero);
                acc += weighted ? term * Vector512.WidenLower(Vector256.LoadUnsafe(ref ww, (nuint)i).ToVector512Unsafe()) : term;
            }

            sum = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated && n >= Vector128<float>.Count)
        {
            var acc = Vector256<double>.Zero;
            for (; i <= n - Vector128<float>.Count; i += Vector128<float>.Count)
            {
                Vector256<double> p = Vector256.WidenLower(Vector128.LoadUnsafe(ref rr, (nuint)i).ToVector256Unsafe());
                Vector256<double> v = Vector256.WidenLower(Vector128.LoadUnsafe(ref xx, (nuint)i).ToVector256Unsafe());
                Vector256<double> term = Vector256.ConditionalSelect(Vector256.GreaterThan(p, Vector256<double>.Zero), p * v, Vector256<double>.Zero);
                acc += weighted ? term * Vector256.WidenLower(Vector128.LoadUnsafe(ref ww, (nuint)i).ToVector256Unsafe()) : term;
            }

            sum = Vector256.Sum(acc);
        }

        for (; i < n; i++)
        {
            if (r[i] > 0)
            {
                double term = (double)r[i] * x[i];
                sum += weighted ? term * weights[i] : term;
            }
        }

        return sum;
    }

    /// <summary>Σ xᵢ (no weights) or Σ wᵢ·xᵢ, in double; <paramref name="weights"/> is empty or as long as the values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double WeightedSum<T>(ReadOnlySpan<T> values, ReadOnlySpan<double> weights)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Shape.Exact(weights.IsEmpty ? values.Length : weights.Length, values.Length, 1, nameof(weights), "one per value");
        if (typeof(T) == typeof(double))
        {
            var arguments = new Arguments<double>(MemoryMarshal.Cast<T, double>(values), weights, 0) { Centred = false };
            Dispatch.Run<double, SumBody, Arguments<double>>(values.Length, ref arguments);
            return arguments.Result;
        }

        return ScalarSum(values, weights, T.Zero, squared: false);
    }

    /// <summary>
    /// Σ (xᵢ − c)² (no weights) or Σ wᵢ·(xᵢ − c)², with xᵢ − c formed in <typeparamref name="T"/> (as a frame forms it)
    /// and squared and summed in double.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double WeightedSquaredDeviations<T>(ReadOnlySpan<T> values, T centre, ReadOnlySpan<double> weights)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Shape.Exact(weights.IsEmpty ? values.Length : weights.Length, values.Length, 1, nameof(weights), "one per value");
        if (typeof(T) == typeof(double))
        {
            var arguments = new Arguments<double>(MemoryMarshal.Cast<T, double>(values), weights, double.CreateTruncating(centre)) { Centred = true };
            Dispatch.Run<double, SumBody, Arguments<double>>(values.Length, ref arguments);
            return arguments.Result;
        }

        return ScalarSum(values, weights, centre, squared: true);
    }

    // Four chains, so the adds do not wait on each other.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double ScalarSum<T>(ReadOnlySpan<T> values, ReadOnlySpan<double> weights, T centre, bool squared)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i + 4 <= values.Length; i += 4)
        {
            s0 += Term(values, weights, centre, squared, i);
            s1 += Term(values, weights, centre, squared, i + 1);
            s2 += Term(values, weights, centre, squared, i + 2);
            s3 += Term(values, weights, centre, squared, i + 3);
        }

        for (; i < values.Length; i++)
        {
            s0 += Term(values, weights, centre, squared, i);
        }

        return (s0 + s1) + (s2 + s3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Term<T>(ReadOnlySpan<T> values, ReadOnlySpan<double> weights, T centre, bool squared, int i)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        double x = double.CreateTruncating(squared ? values[i] - centre : values[i]);
        double term = squared ? x * x : x;
        return weights.IsEmpty ? term : weights[i] * term;
    }

    private ref struct Arguments<T>(ReadOnlySpan<T> values, ReadOnlySpan<double> weights, T centre)
    {
        public ref T Values = ref MemoryMarshal.GetReference(values);
        public ref double Weights = ref MemoryMarshal.GetReference(weights);
        public int Length = values.Length;
        public bool Weighted = !weights.IsEmpty;
        public bool Centred;
        public T Centre = centre;
        public double Result;
    }

    // Σ (x − x): 0 when every value is finite, NaN otherwise (∞ − ∞ and NaN − NaN are NaN; the JIT does not fold
    // x − x for floating point).
    private readonly struct FiniteBody<T> : IKernelBody<T, Arguments<T>>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run<TV, TOps>(ref Arguments<T> a)
            where TV : struct
            where TOps : struct, ISimd<TV, T>
        {
            int width = TOps.Count;
            TV zero0 = TOps.Zero, zero1 = TOps.Zero;
            int i = 0;
            for (; i + 2 * width <= a.Length; i += 2 * width)
            {
                TV x0 = TOps.Load(ref a.Values, (nuint)i);
                TV x1 = TOps.Load(ref a.Values, (nuint)(i + width));
                zero0 = TOps.Add(zero0, TOps.Subtract(x0, x0));
                zero1 = TOps.Add(zero1, TOps.Subtract(x1, x1));
            }

            // The rest, overlapping: finiteness does not care about counting a value twice.
            for (; i < a.Length; i += width)
            {
                TV x = TOps.Load(ref a.Values, (nuint)Math.Min(i, a.Length - width));
                zero0 = TOps.Add(zero0, TOps.Subtract(x, x));
            }

            a.Result = TOps.SumToDouble(TOps.Add(zero0, zero1)) == 0 ? 0 : 1;
        }
    }

    private readonly struct SumBody : IKernelBody<double, Arguments<double>>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run<TV, TOps>(ref Arguments<double> a)
            where TV : struct
            where TOps : struct, ISimd<TV, double>
        {
            int width = TOps.Count;
            int full = a.Length - (a.Length % width);
            TV c = TOps.Broadcast(a.Centre);
            TV s0 = TOps.Zero, s1 = TOps.Zero, s2 = TOps.Zero, s3 = TOps.Zero;
            int i = 0;
            for (; i + 4 * width <= full; i += 4 * width)
            {
                s0 = Accumulate<TV, TOps>(ref a, s0, c, (nuint)i);
                s1 = Accumulate<TV, TOps>(ref a, s1, c, (nuint)(i + width));
                s2 = Accumulate<TV, TOps>(ref a, s2, c, (nuint)(i + 2 * width));
                s3 = Accumulate<TV, TOps>(ref a, s3, c, (nuint)(i + 3 * width));
            }

            for (; i < full; i += width)
            {
                s0 = Accumulate<TV, TOps>(ref a, s0, c, (nuint)i);
            }

            if (full != a.Length)
            {
                // The last vector overlaps; its lanes already counted become 0.
                TV last = Accumulate<TV, TOps>(ref a, TOps.Zero, c, (nuint)(a.Length - width));
                s1 = TOps.Add(s1, TOps.Select(TOps.LanesFrom(width - (a.Length - full)), last, TOps.Zero));
            }

            a.Result = TOps.SumToDouble(TOps.Add(TOps.Add(s0, s1), TOps.Add(s2, s3)));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static TV Accumulate<TV, TOps>(ref Arguments<double> a, TV sum, TV centre, nuint at)
            where TV : struct
            where TOps : struct, ISimd<TV, double>
        {
            TV x = TOps.Load(ref a.Values, at);
            TV term = x;
            if (a.Centred)
            {
                TV deviation = TOps.Subtract(x, centre);
                term = TOps.Multiply(deviation, deviation);
            }

            return a.Weighted ? TOps.MultiplyAdd(TOps.Load(ref a.Weights, at), term, sum) : TOps.Add(sum, term);
        }
    }
}
