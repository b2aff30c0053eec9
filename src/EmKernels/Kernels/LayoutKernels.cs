using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using EmKernels.Kernels.Common;

namespace EmKernels.Kernels;

/// <summary>
/// Layout conversion between what files and callers hold (row-major: point by point) and what the kernels
/// read (feature-major: feature by feature).
/// </summary>
public static class LayoutKernels
{
    /// <summary>
    /// Converts row-major points to feature-major: effectively
    /// <c>destination[j · stride + i] = T.CreateTruncating(rows[i · rowLength + columns[j]])</c> for every point i
    /// and chosen column j.
    /// </summary>
    /// <typeparam name="TFrom">The stored element type (a float, double or integer type).</typeparam>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="rows">At least (points − 1) · rowLength + (largest column + 1) values.</param>
    /// <param name="points">N (≥ 0).</param>
    /// <param name="rowLength">Values per stored row (≥ 1).</param>
    /// <param name="columns">The columns to deliver, in order (each in 0 … rowLength − 1).</param>
    /// <param name="destination">At least (columns − 1) · stride + N values.</param>
    /// <param name="stride">Distance between features in <paramref name="destination"/> (≥ N).</param>
    /// <remarks>
    /// float → float, float → double and double → double run 8 × 8 (float) or 4 × 4 (double) block transposes
    /// in Vector256 registers where the hardware has AVX, for every run of 8 (or 4) consecutive chosen columns;
    /// everything else is a scalar loop. Values are converted exactly as <c>T.CreateTruncating</c> does on every path.
    /// </remarks>
    /// <exception cref="ArgumentException">A length does not fit the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A count or column is out of range.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RowMajorToFeatureMajor<TFrom, T>(ReadOnlySpan<TFrom> rows, int points, int rowLength, ReadOnlySpan<int> columns, Span<T> destination, int stride)
        where TFrom : unmanaged, INumberBase<TFrom>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Shape.CheckElementType<T>();
        Shape.NonNegative(points, nameof(points));
        Shape.Positive(rowLength, nameof(rowLength));
        int largest = -1;
        foreach (int column in columns)
        {
            if (column < 0 || column >= rowLength)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(columns), column, $"Columns must lie in 0 … {rowLength - 1}.");
            }

            largest = Math.Max(largest, column);
        }

        if (points == 0 || columns.IsEmpty)
        {
            return;
        }

        if ((long)(points - 1) * rowLength + largest + 1 > rows.Length)
        {
            ThrowHelper.ThrowArgument(nameof(rows), $"{points} rows of {rowLength} values need {(long)(points - 1) * rowLength + largest + 1} values, got {rows.Length}.");
        }

        Shape.FeatureMajor(destination.Length, stride, columns.Length, points, nameof(destination), nameof(stride));
        ref TFrom source = ref MemoryMarshal.GetReference(rows);
        ref T target = ref MemoryMarshal.GetReference(destination);
        int j = 0;
        while (j < columns.Length)
        {
            int width = typeof(TFrom) == typeof(double) ? 4 : 8;
            if (Avx.IsSupported && Vector256.IsHardwareAccelerated && Consecutive(columns, j, width)
                && ((typeof(TFrom) == typeof(float) && (typeof(T) == typeof(float) || typeof(T) == typeof(double))) || (typeof(TFrom) == typeof(double) && typeof(T) == typeof(double))))
            {
                int blocked = points / width * width;
                Blocks(ref source, rowLength, columns[j], blocked, ref Unsafe.Add(ref target, j * stride), stride);
                for (int c = 0; c < width; c++)
                {
                    Scalar(ref source, rowLength, columns[j + c], blocked, points, ref Unsafe.Add(ref target, (j + c) * stride));
                }

                j += width;
                continue;
            }

            Scalar(ref source, rowLength, columns[j], 0, points, ref Unsafe.Add(ref target, j * stride));
            j++;
        }
    }

    private static bool Consecutive(ReadOnlySpan<int> columns, int first, int width)
    {
        if (first + width > columns.Length)
        {
            return false;
        }

        for (int c = 1; c < width; c++)
        {
            if (columns[first + c] != columns[first] + c)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Points [from, to) of one column, one at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scalar<TFrom, T>(ref TFrom source, int rowLength, int column, int from, int to, ref T target)
        where TFrom : unmanaged, INumberBase<TFrom>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        ref TFrom s = ref Unsafe.Add(ref source, column);
        for (int i = from; i < to; i++)
        {
            Unsafe.Add(ref target, i) = T.CreateTruncating(Unsafe.Add(ref s, (nint)i * rowLength));
        }
    }

    /// <summary>Points [0, blocked) of the 8 (float) or 4 (double) columns from <paramref name="column"/>, a register block at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Blocks<TFrom, T>(ref TFrom source, int rowLength, int column, int blocked, ref T target, int stride)
        where TFrom : unmanaged
        where T : unmanaged
    {
        if (typeof(TFrom) == typeof(double))
        {
            ref double s = ref Unsafe.As<TFrom, double>(ref Unsafe.Add(ref source, column));
            ref double t = ref Unsafe.As<T, double>(ref target);
            for (int i = 0; i < blocked; i += 4)
            {
                Transpose4(ref Unsafe.Add(ref s, (nint)i * rowLength), rowLength, ref Unsafe.Add(ref t, i), stride);
            }

            return;
        }

        ref float f = ref Unsafe.As<TFrom, float>(ref Unsafe.Add(ref source, column));
        for (int i = 0; i < blocked; i += 8)
        {
            if (typeof(T) == typeof(float))
            {
                Transpose8(ref Unsafe.Add(ref f, (nint)i * rowLength), rowLength, ref Unsafe.Add(ref Unsafe.As<T, float>(ref target), i), stride);
            }
            else
            {
                Transpose8Widen(ref Unsafe.Add(ref f, (nint)i * rowLength), rowLength, ref Unsafe.Add(ref Unsafe.As<T, double>(ref target), i), stride);
            }
        }
    }

    /// <summary>An 8 × 8 float block: rows in, columns out (the classic unpack, shuffle, permute sequence).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8(ref float rows, int rowLength, ref float columns, int stride)
    {
        (Vector256<float> o0, Vector256<float> o1, Vector256<float> o2, Vector256<float> o3, Vector256<float> o4, Vector256<float> o5, Vector256<float> o6, Vector256<float> o7) =
            Transposed8(ref rows, rowLength);
        o0.StoreUnsafe(ref columns);
        o1.StoreUnsafe(ref Unsafe.Add(ref columns, stride));
        o2.StoreUnsafe(ref Unsafe.Add(ref columns, 2 * stride));
        o3.StoreUnsafe(ref Unsafe.Add(ref columns, 3 * stride));
        o4.StoreUnsafe(ref Unsafe.Add(ref columns, 4 * stride));
        o5.StoreUnsafe(ref Unsafe.Add(ref columns, 5 * stride));
        o6.StoreUnsafe(ref Unsafe.Add(ref columns, 6 * stride));
        o7.StoreUnsafe(ref Unsafe.Add(ref columns, 7 * stride));
    }

    /// <summary>An 8 × 8 float block into double columns: each transposed column widened exactly (float → double).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8Widen(ref float rows, int rowLength, ref double columns, int stride)
    {
        (Vector256<float> o0, Vector256<float> o1, Vector256<float> o2, Vector256<float> o3, Vector256<float> o4, Vector256<float> o5, Vector256<float> o6, Vector256<float> o7) =
            Transposed8(ref rows, rowLength);
        Widen(o0, ref columns);
        Widen(o1, ref Unsafe.Add(ref columns, stride));
        Widen(o2, ref Unsafe.Add(ref columns, 2 * stride));
        Widen(o3, ref Unsafe.Add(ref columns, 3 * stride));
        Widen(o4, ref Unsafe.Add(ref columns, 4 * stride));
        Widen(o5, ref Unsafe.Add(ref columns, 5 * stride));
        Widen(o6, ref Unsafe.Add(ref columns, 6 * stride));
        Widen(o7, ref Unsafe.Add(ref columns, 7 * stride));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen(Vector256<float> column, ref double destination)
    {
        Avx.ConvertToVector256Double(column.GetLower()).StoreUnsafe(ref destination);
        Avx.ConvertToVector256Double(column.GetUpper()).StoreUnsafe(ref Unsafe.Add(ref destination, 4));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) Transposed8(ref float rows, int rowLength)
    {
        Vector256<float> r0 = Vector256.LoadUnsafe(ref rows);
        Vector256<float> r1 = Vector256.LoadUnsafe(ref Unsafe.Add(ref rows, rowLength));
        Vector256<float> r2 = Vector256.LoadUnsafe(ref Unsafe.Add(ref rows, 2 * rowLength));
        Vector256<float> r3 = Vector256.LoadUnsafe(ref Unsafe.Add(ref rows, 3 * rowLength));
        Vector256<float> r4 = Vector256.LoadUnsafe(ref Unsafe.Add(ref rows, 4 * rowLength));
        Vector256<float> r5 = Vector256.LoadUnsafe(ref Unsafe.Add(ref rows, 5 * rowLength));
        Vector256<float> r6 = Vector256.LoadUnsafe(ref Unsafe.Add(ref rows, 6 * rowLength));
        Vector256<float> r7 = Vector256.LoadUnsafe(ref Unsafe.Add(ref rows, 7 * rowLength));
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1), t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5), t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE), u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE), u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        return (
            Avx.Permute2x128(u0, u4, 0x20), Avx.Permute2x128(u1, u5, 0x20), Avx.Permute2x128(u2, u6, 0x20), Avx.Permute2x128(u3, u7, 0x20),
            Avx.Permute2x128(u0, u4, 0x31), Avx.Permute2x128(u1, u5, 0x31), Avx.Permute2x128(u2, u6, 0x31), Avx.Permute2x128(u3, u7, 0x31));
    }

    /// <summary>A 4 × 4 double block: rows in, columns out.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4(ref double rows, int rowLength, ref double columns, int stride)
    {
        Vector256<double> r0 = Vector256.LoadUnsafe(ref rows);
        Vector256<double> r1 = Vector256.LoadUnsafe(ref Unsafe.Add(ref rows, rowLength));
        Vector256<double> r2 = Vector256.LoadUnsafe(ref Unsafe.Add(ref rows, 2 * rowLength));
        Vector256<double> r3 = Vector256.LoadUnsafe(ref Unsafe.Add(ref rows, 3 * rowLength));
        Vector256<double> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1), t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Avx.Permute2x128(t0, t2, 0x20).StoreUnsafe(ref columns);
        Avx.Permute2x128(t1, t3, 0x20).StoreUnsafe(ref Unsafe.Add(ref columns, stride));
        Avx.Permute2x128(t0, t2, 0x31).StoreUnsafe(ref Unsafe.Add(ref columns, 2 * stride));
        Avx.Permute2x128(t1, t3, 0x31).StoreUnsafe(ref Unsafe.Add(ref columns, 3 * stride));
    }
}
