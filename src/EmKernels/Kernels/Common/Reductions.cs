using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

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
    /// Σ_n w_n Σ_k r_kn ln r_kn (0 ln 0 = 0) of K × B responsibilities (component-major), in double: minus the entropy of the
    /// points' posteriors, which a variational bound needs. <paramref name="weights"/> is empty or B long.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double WeightedEntropy<T>(ReadOnlySpan<T> responsibilities, int components, int points, ReadOnlySpan<T> weights)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Shape.Exact(responsibilities.Length, components, points, nameof(responsibilities), "K × B");
        Shape.Exact(weights.IsEmpty ? points : weights.Length, points, 1, nameof(weights), "one per point");
        double total = 0;
        for (int k = 0; k < components; k++)
        {
            ReadOnlySpan<T> row = responsibilities.Slice(k * points, points);
            for (int i = 0; i < points; i++)
            {
                double r = double.CreateTruncating(row[i]);
                if (r > 0)
                {
                    double term = r * Math.Log(r);
                    total += weights.IsEmpty ? term : double.CreateTruncating(weights[i]) * term;
                }
            }
        }

        return total;
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
