using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EmKernels.Kernels.Common;

/// <summary>
/// The vector operations a kernel body needs, as static abstract members, so that one kernel body
/// serves every width: <see cref="Simd512{T}"/>, <see cref="Simd256{T}"/>, <see cref="Simd128{T}"/>
/// and <see cref="SimdScalar{T}"/> (one lane, plain scalar arithmetic). The JIT specializes a kernel
/// per struct type argument and inlines these members, so there is no abstraction cost.
/// (System.Runtime.Intrinsics.ISimdVector plays this role inside the BCL but is not public.)
/// </summary>
/// <typeparam name="TV">The vector type (or <typeparamref name="T"/> itself for the scalar path).</typeparam>
/// <typeparam name="T">float or double.</typeparam>
internal interface ISimd<TV, T>
    where TV : struct
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Number of lanes.</summary>
    static abstract int Count { get; }

    static abstract TV Load(ref T source, nuint offset);

    static abstract void Store(TV value, ref T destination, nuint offset);

    static abstract TV Broadcast(T value);

    static abstract TV Zero { get; }

    static abstract TV Add(TV left, TV right);

    static abstract TV Subtract(TV left, TV right);

    static abstract TV Multiply(TV left, TV right);

    static abstract TV Divide(TV left, TV right);

    /// <summary>left * right + addend, fused where the hardware has FMA (rounding may differ by tier).</summary>
    static abstract TV MultiplyAdd(TV left, TV right, TV addend);

    /// <summary>Lane-wise maximum with the platform's NaN behaviour; callers must not depend on it.</summary>
    static abstract TV Max(TV left, TV right);

    static abstract TV Exp(TV x);

    static abstract TV Log(TV x);

    /// <summary>All bits set where left &gt; right (false for NaN), zero elsewhere.</summary>
    static abstract TV GreaterThan(TV left, TV right);

    /// <summary>All bits set where left == right (false for NaN), zero elsewhere.</summary>
    static abstract TV Equal(TV left, TV right);

    /// <summary>All bits set where left &lt; right (false for NaN), zero elsewhere.</summary>
    static abstract TV LessThan(TV left, TV right);

    /// <summary>
    /// value · 2ⁿ for integer-valued <paramref name="n"/>, where <paramref name="shifted"/> = n + <see cref="ExpOperator.Shifter{T}"/>
    /// holds n in its low mantissa bits. Subnormal results are rounded once: by VSCALEF on the Vector512 path,
    /// elsewhere by scaling in two halves.
    /// </summary>
    static abstract TV ScaleByPowerOfTwo(TV value, TV n, TV shifted);

    /// <summary>
    /// For positive finite x (normal or subnormal): the mantissa m ∈ [1, 2), with <paramref name="exponent"/>
    /// set to the integer e (as T) such that x = m · 2ᵉ. Other inputs give unspecified lanes (callers select).
    /// </summary>
    static abstract TV SplitExponent(TV x, out TV exponent);

    /// <summary>All bits set in lanes that are finite, zero elsewhere.</summary>
    static abstract TV IsFinite(TV x);

    /// <summary>All bits set in lanes equal to zero (either sign), zero elsewhere.</summary>
    static abstract TV IsZero(TV x);

    /// <summary>Lanes of <paramref name="ifSet"/> where <paramref name="mask"/> is set, else of <paramref name="ifClear"/>.</summary>
    static abstract TV Select(TV mask, TV ifSet, TV ifClear);

    /// <summary>A mask with lanes <c>i &gt;= skip</c> set: the fresh lanes of an overlapping last vector.</summary>
    static abstract TV LanesFrom(int skip);

    /// <summary>Sum of the lanes, each converted to double first, in a fixed order.</summary>
    static abstract double SumToDouble(TV x);

    /// <summary>
    /// <c>destination[0..3] += (Σ a, Σ b, Σ c, Σ d)</c>, lanes converted to double first: four horizontal sums
    /// reduced together (a 4 × 4 transpose-and-add where the width allows, about a third of the
    /// instructions of four separate sums), in a fixed order.
    /// </summary>
    static abstract void AddSumsToDouble(TV a, TV b, TV c, TV d, ref double destination);
}

internal readonly struct Simd512<T> : ISimd<Vector512<T>, T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static int Count => Vector512<T>.Count;

    public static Vector512<T> Zero => Vector512<T>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Load(ref T source, nuint offset) => Vector512.LoadUnsafe(ref source, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<T> value, ref T destination, nuint offset) => value.StoreUnsafe(ref destination, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Broadcast(T value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Add(Vector512<T> left, Vector512<T> right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Subtract(Vector512<T> left, Vector512<T> right) => left - right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Multiply(Vector512<T> left, Vector512<T> right) => left * right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Divide(Vector512<T> left, Vector512<T> right) => left / right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> MultiplyAdd(Vector512<T> left, Vector512<T> right, Vector512<T> addend)
    {
        if (typeof(T) == typeof(double))
        {
            return Vector512.MultiplyAddEstimate(left.AsDouble(), right.AsDouble(), addend.AsDouble()).As<double, T>();
        }

        return Vector512.MultiplyAddEstimate(left.AsSingle(), right.AsSingle(), addend.AsSingle()).As<float, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Max(Vector512<T> left, Vector512<T> right) => Vector512.MaxNative(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Exp(Vector512<T> x) => ExpOperator.Exp<T, Vector512<T>, Simd512<T>>(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> GreaterThan(Vector512<T> left, Vector512<T> right) => Vector512.GreaterThan(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> LessThan(Vector512<T> left, Vector512<T> right) => Vector512.LessThan(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Equal(Vector512<T> left, Vector512<T> right) => Vector512.Equals(left, right);

    // Vector512 is hardware-accelerated only with AVX-512F, so VSCALEF is there: one instruction instead of
    // nine (two halves); Responsibilities, bound by its exp, ran 6 % faster.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> ScaleByPowerOfTwo(Vector512<T> value, Vector512<T> n, Vector512<T> shifted) =>
        typeof(T) == typeof(double)
            ? Avx512F.Scale(value.AsDouble(), n.AsDouble()).As<double, T>()
            : Avx512F.Scale(value.AsSingle(), n.AsSingle()).As<float, T>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Log(Vector512<T> x) => LogOperator.Log<T, Vector512<T>, Simd512<T>>(x);

    // VGETEXP/VGETMANT (AVX-512F, which Vector512 acceleration implies) handle subnormals directly.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> SplitExponent(Vector512<T> x, out Vector512<T> exponent)
    {
        if (typeof(T) == typeof(double))
        {
            exponent = Avx512F.GetExponent(x.AsDouble()).As<double, T>();
            return Avx512F.GetMantissa(x.AsDouble(), 0).As<double, T>();
        }

        exponent = Avx512F.GetExponent(x.AsSingle()).As<float, T>();
        return Avx512F.GetMantissa(x.AsSingle(), 0).As<float, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> IsFinite(Vector512<T> x) => Vector512.IsFinite(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> IsZero(Vector512<T> x) => Vector512.IsZero(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Select(Vector512<T> mask, Vector512<T> ifSet, Vector512<T> ifClear) =>
        Vector512.ConditionalSelect(mask, ifSet, ifClear);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> LanesFrom(int skip) =>
        Vector512.GreaterThanOrEqual(Vector512.CreateSequence(T.Zero, T.One), Vector512.Create(T.CreateTruncating(skip)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SumToDouble(Vector512<T> x)
    {
        if (typeof(T) == typeof(double))
        {
            return Vector512.Sum(x.AsDouble());
        }

        (Vector512<double> lower, Vector512<double> upper) = Vector512.Widen(x.AsSingle());
        return Vector512.Sum(lower + upper);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddSumsToDouble(Vector512<T> a, Vector512<T> b, Vector512<T> c, Vector512<T> d, ref double destination) =>
        Transposed.AddSums(Quarter(a), Quarter(b), Quarter(c), Quarter(d), ref destination);

    /// <summary>The lanes folded to four doubles (pairwise, in a fixed order).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Quarter(Vector512<T> x)
    {
        Vector512<double> wide;
        if (typeof(T) == typeof(double))
        {
            wide = x.AsDouble();
        }
        else
        {
            (Vector512<double> lower, Vector512<double> upper) = Vector512.Widen(x.AsSingle());
            wide = lower + upper;
        }

        return wide.GetLower() + wide.GetUpper();
    }
}

/// <summary>Four horizontal sums at once over 4-lane double vectors: a 4 × 4 transpose-and-add.</summary>
internal static class Transposed
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddSums(Vector256<double> a, Vector256<double> b, Vector256<double> c, Vector256<double> d, ref double destination)
    {
        Vector256<double> sums;
        if (System.Runtime.Intrinsics.X86.Avx.IsSupported)
        {
            Vector256<double> ab = System.Runtime.Intrinsics.X86.Avx.HorizontalAdd(a, b); // a0+a1, b0+b1, a2+a3, b2+b3
            Vector256<double> cd = System.Runtime.Intrinsics.X86.Avx.HorizontalAdd(c, d); // c0+c1, d0+d1, c2+c3, d2+d3
            sums = System.Runtime.Intrinsics.X86.Avx.Permute2x128(ab, cd, 0x20) + System.Runtime.Intrinsics.X86.Avx.Permute2x128(ab, cd, 0x31);
        }
        else
        {
            sums = Vector256.Create(Vector256.Sum(a), Vector256.Sum(b), Vector256.Sum(c), Vector256.Sum(d));
        }

        (Vector256.LoadUnsafe(ref destination) + sums).StoreUnsafe(ref destination);
    }
}

internal readonly struct Simd256<T> : ISimd<Vector256<T>, T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static int Count => Vector256<T>.Count;

    public static Vector256<T> Zero => Vector256<T>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Load(ref T source, nuint offset) => Vector256.LoadUnsafe(ref source, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<T> value, ref T destination, nuint offset) => value.StoreUnsafe(ref destination, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Broadcast(T value) => Vector256.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Add(Vector256<T> left, Vector256<T> right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Subtract(Vector256<T> left, Vector256<T> right) => left - right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Multiply(Vector256<T> left, Vector256<T> right) => left * right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Divide(Vector256<T> left, Vector256<T> right) => left / right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> MultiplyAdd(Vector256<T> left, Vector256<T> right, Vector256<T> addend)
    {
        if (typeof(T) == typeof(double))
        {
            return Vector256.MultiplyAddEstimate(left.AsDouble(), right.AsDouble(), addend.AsDouble()).As<double, T>();
        }

        return Vector256.MultiplyAddEstimate(left.AsSingle(), right.AsSingle(), addend.AsSingle()).As<float, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Max(Vector256<T> left, Vector256<T> right) => Vector256.MaxNative(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Exp(Vector256<T> x) => ExpOperator.Exp<T, Vector256<T>, Simd256<T>>(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> GreaterThan(Vector256<T> left, Vector256<T> right) => Vector256.GreaterThan(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> LessThan(Vector256<T> left, Vector256<T> right) => Vector256.LessThan(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Equal(Vector256<T> left, Vector256<T> right) => Vector256.Equals(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> ScaleByPowerOfTwo(Vector256<T> value, Vector256<T> n, Vector256<T> shifted)
    {
        if (typeof(T) == typeof(double))
        {
            Vector256<long> e = shifted.AsInt64() - Vector256.Create(ExpOperator.DoubleShifterBits);
            Vector256<long> half = Vector256.ShiftRightArithmetic(e, 1);
            Vector256<double> first = Vector256.ShiftLeft(half + Vector256.Create(1023L), 52).AsDouble();
            Vector256<double> second = Vector256.ShiftLeft(e - half + Vector256.Create(1023L), 52).AsDouble();
            return (value.AsDouble() * first * second).As<double, T>();
        }

        Vector256<int> m = shifted.AsInt32() - Vector256.Create(ExpOperator.SingleShifterBits);
        Vector256<int> low = Vector256.ShiftRightArithmetic(m, 1);
        Vector256<float> a = Vector256.ShiftLeft(low + Vector256.Create(127), 23).AsSingle();
        Vector256<float> b = Vector256.ShiftLeft(m - low + Vector256.Create(127), 23).AsSingle();
        return (value.AsSingle() * a * b).As<float, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Log(Vector256<T> x) => LogOperator.Log<T, Vector256<T>, Simd256<T>>(x);

    // From the bits; a subnormal is first scaled into the normal range.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> SplitExponent(Vector256<T> x, out Vector256<T> exponent)
    {
        if (typeof(T) == typeof(double))
        {
            Vector256<double> v = x.AsDouble();
            Vector256<double> tiny = Vector256.LessThan(v, Vector256.Create(2.2250738585072014e-308));
            v = Vector256.ConditionalSelect(tiny, v * 18014398509481984.0, v); // 2⁵⁴
            Vector256<long> bits = v.AsInt64();
            Vector256<double> e = Vector256.ConvertToDouble(Vector256.ShiftRightLogical(bits, 52) - Vector256.Create(1023L));
            exponent = (e - (tiny & Vector256.Create(54.0))).As<double, T>();
            return ((bits & Vector256.Create(0x000FFFFFFFFFFFFFL)) | Vector256.Create(0x3FF0000000000000L)).AsDouble().As<double, T>();
        }

        Vector256<float> f = x.AsSingle();
        Vector256<float> small = Vector256.LessThan(f, Vector256.Create(1.17549435e-38f));
        f = Vector256.ConditionalSelect(small, f * 16777216f, f); // 2²⁴
        Vector256<int> word = f.AsInt32();
        Vector256<float> k = Vector256.ConvertToSingle(Vector256.ShiftRightLogical(word, 23) - Vector256.Create(127));
        exponent = (k - (small & Vector256.Create(24f))).As<float, T>();
        return ((word & Vector256.Create(0x007FFFFF)) | Vector256.Create(0x3F800000)).AsSingle().As<float, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> IsFinite(Vector256<T> x) => Vector256.IsFinite(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> IsZero(Vector256<T> x) => Vector256.IsZero(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Select(Vector256<T> mask, Vector256<T> ifSet, Vector256<T> ifClear) =>
        Vector256.ConditionalSelect(mask, ifSet, ifClear);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> LanesFrom(int skip) =>
        Vector256.GreaterThanOrEqual(Vector256.CreateSequence(T.Zero, T.One), Vector256.Create(T.CreateTruncating(skip)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SumToDouble(Vector256<T> x)
    {
        if (typeof(T) == typeof(double))
        {
            return Vector256.Sum(x.AsDouble());
        }

        (Vector256<double> lower, Vector256<double> upper) = Vector256.Widen(x.AsSingle());
        return Vector256.Sum(lower + upper);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddSumsToDouble(Vector256<T> a, Vector256<T> b, Vector256<T> c, Vector256<T> d, ref double destination) =>
        Transposed.AddSums(Quarter(a), Quarter(b), Quarter(c), Quarter(d), ref destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Quarter(Vector256<T> x)
    {
        if (typeof(T) == typeof(double))
        {
            return x.AsDouble();
        }

        (Vector256<double> lower, Vector256<double> upper) = Vector256.Widen(x.AsSingle());
        return lower + upper;
    }
}

internal readonly struct Simd128<T> : ISimd<Vector128<T>, T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static int Count => Vector128<T>.Count;

    public static Vector128<T> Zero => Vector128<T>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Load(ref T source, nuint offset) => Vector128.LoadUnsafe(ref source, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<T> value, ref T destination, nuint offset) => value.StoreUnsafe(ref destination, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Broadcast(T value) => Vector128.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Add(Vector128<T> left, Vector128<T> right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Subtract(Vector128<T> left, Vector128<T> right) => left - right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Multiply(Vector128<T> left, Vector128<T> right) => left * right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Divide(Vector128<T> left, Vector128<T> right) => left / right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> MultiplyAdd(Vector128<T> left, Vector128<T> right, Vector128<T> addend)
    {
        if (typeof(T) == typeof(double))
        {
            return Vector128.MultiplyAddEstimate(left.AsDouble(), right.AsDouble(), addend.AsDouble()).As<double, T>();
        }

        return Vector128.MultiplyAddEstimate(left.AsSingle(), right.AsSingle(), addend.AsSingle()).As<float, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Max(Vector128<T> left, Vector128<T> right) => Vector128.MaxNative(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Exp(Vector128<T> x) => ExpOperator.Exp<T, Vector128<T>, Simd128<T>>(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> GreaterThan(Vector128<T> left, Vector128<T> right) => Vector128.GreaterThan(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> LessThan(Vector128<T> left, Vector128<T> right) => Vector128.LessThan(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Equal(Vector128<T> left, Vector128<T> right) => Vector128.Equals(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> ScaleByPowerOfTwo(Vector128<T> value, Vector128<T> n, Vector128<T> shifted)
    {
        if (typeof(T) == typeof(double))
        {
            Vector128<long> e = shifted.AsInt64() - Vector128.Create(ExpOperator.DoubleShifterBits);
            Vector128<long> half = Vector128.ShiftRightArithmetic(e, 1);
            Vector128<double> first = Vector128.ShiftLeft(half + Vector128.Create(1023L), 52).AsDouble();
            Vector128<double> second = Vector128.ShiftLeft(e - half + Vector128.Create(1023L), 52).AsDouble();
            return (value.AsDouble() * first * second).As<double, T>();
        }

        Vector128<int> m = shifted.AsInt32() - Vector128.Create(ExpOperator.SingleShifterBits);
        Vector128<int> low = Vector128.ShiftRightArithmetic(m, 1);
        Vector128<float> a = Vector128.ShiftLeft(low + Vector128.Create(127), 23).AsSingle();
        Vector128<float> b = Vector128.ShiftLeft(m - low + Vector128.Create(127), 23).AsSingle();
        return (value.AsSingle() * a * b).As<float, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Log(Vector128<T> x) => LogOperator.Log<T, Vector128<T>, Simd128<T>>(x);

    // From the bits; a subnormal is first scaled into the normal range.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> SplitExponent(Vector128<T> x, out Vector128<T> exponent)
    {
        if (typeof(T) == typeof(double))
        {
            Vector128<double> v = x.AsDouble();
            Vector128<double> tiny = Vector128.LessThan(v, Vector128.Create(2.2250738585072014e-308));
            v = Vector128.ConditionalSelect(tiny, v * 18014398509481984.0, v); // 2⁵⁴
            Vector128<long> bits = v.AsInt64();
            Vector128<double> e = Vector128.ConvertToDouble(Vector128.ShiftRightLogical(bits, 52) - Vector128.Create(1023L));
            exponent = (e - (tiny & Vector128.Create(54.0))).As<double, T>();
            return ((bits & Vector128.Create(0x000FFFFFFFFFFFFFL)) | Vector128.Create(0x3FF0000000000000L)).AsDouble().As<double, T>();
        }

        Vector128<float> f = x.AsSingle();
        Vector128<float> small = Vector128.LessThan(f, Vector128.Create(1.17549435e-38f));
        f = Vector128.ConditionalSelect(small, f * 16777216f, f); // 2²⁴
        Vector128<int> word = f.AsInt32();
        Vector128<float> k = Vector128.ConvertToSingle(Vector128.ShiftRightLogical(word, 23) - Vector128.Create(127));
        exponent = (k - (small & Vector128.Create(24f))).As<float, T>();
        return ((word & Vector128.Create(0x007FFFFF)) | Vector128.Create(0x3F800000)).AsSingle().As<float, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> IsFinite(Vector128<T> x) => Vector128.IsFinite(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> IsZero(Vector128<T> x) => Vector128.IsZero(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Select(Vector128<T> mask, Vector128<T> ifSet, Vector128<T> ifClear) =>
        Vector128.ConditionalSelect(mask, ifSet, ifClear);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> LanesFrom(int skip) =>
        Vector128.GreaterThanOrEqual(Vector128.CreateSequence(T.Zero, T.One), Vector128.Create(T.CreateTruncating(skip)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SumToDouble(Vector128<T> x)
    {
        if (typeof(T) == typeof(double))
        {
            return Vector128.Sum(x.AsDouble());
        }

        (Vector128<double> lower, Vector128<double> upper) = Vector128.Widen(x.AsSingle());
        return Vector128.Sum(lower + upper);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddSumsToDouble(Vector128<T> a, Vector128<T> b, Vector128<T> c, Vector128<T> d, ref double destination)
    {
        destination += SumToDouble(a);
        Unsafe.Add(ref destination, 1) += SumToDouble(b);
        Unsafe.Add(ref destination, 2) += SumToDouble(c);
        Unsafe.Add(ref destination, 3) += SumToDouble(d);
    }
}

/// <summary>One lane: the path taken when no vector width is hardware-accelerated, or below one vector.</summary>
internal readonly struct SimdScalar<T> : ISimd<T, T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static int Count => 1;

    public static T Zero => T.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Load(ref T source, nuint offset) => Unsafe.Add(ref source, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(T value, ref T destination, nuint offset) => Unsafe.Add(ref destination, offset) = value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Broadcast(T value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Add(T left, T right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Subtract(T left, T right) => left - right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Multiply(T left, T right) => left * right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Divide(T left, T right) => left / right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T MultiplyAdd(T left, T right, T addend) => T.MultiplyAddEstimate(left, right, addend);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Max(T left, T right) => left > right ? left : right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Exp(T x) => T.Exp(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T GreaterThan(T left, T right) => left > right ? AllBitsSet : T.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T LessThan(T left, T right) => left < right ? AllBitsSet : T.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Equal(T left, T right) => left == right ? AllBitsSet : T.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T ScaleByPowerOfTwo(T value, T n, T shifted) => T.ScaleB(value, int.CreateTruncating(n));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T SplitExponent(T x, out T exponent)
    {
        int e = T.ILogB(x);
        exponent = T.CreateTruncating(e);
        return T.ScaleB(x, -e);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Log(T x) => T.Log(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T IsFinite(T x) => T.IsFinite(x) ? AllBitsSet : T.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T IsZero(T x) => T.IsZero(x) ? AllBitsSet : T.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Select(T mask, T ifSet, T ifClear) => mask == T.Zero ? ifClear : ifSet;

    // A single lane is never partly processed, so the only mask ever asked for is "all lanes".
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T LanesFrom(int skip) => skip <= 0 ? AllBitsSet : T.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SumToDouble(T x) => double.CreateTruncating(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddSumsToDouble(T a, T b, T c, T d, ref double destination)
    {
        destination += double.CreateTruncating(a);
        Unsafe.Add(ref destination, 1) += double.CreateTruncating(b);
        Unsafe.Add(ref destination, 2) += double.CreateTruncating(c);
        Unsafe.Add(ref destination, 3) += double.CreateTruncating(d);
    }

    // The all-bits-set pattern is a NaN; Select only tests it against zero, so NaN is fine as a "true".
    private static T AllBitsSet
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ~T.Zero;
    }
}
