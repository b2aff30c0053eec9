using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using EmKernels.Kernels.Common;

namespace EmKernels.Kernels;

/// <summary>
/// The per-step vector operations of forward–backward over K states (double, the recursions' type), vectorized across
/// states: a row vector times a K × K matrix, and a rank-one update of a K × K matrix. One call per time step, so the
/// hot recursion has no dependent chains of scalar sums.
/// </summary>
internal static class MarkovKernels
{
    /// <summary>
    /// <c>result[j] = Σ_i vector[i] · matrix[i·K + j]</c>: the forward step's α A (with A) and the backward step's
    /// A β (with Aᵀ). <paramref name="result"/> must not overlap the inputs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void VectorTimesMatrix(ReadOnlySpan<double> vector, ReadOnlySpan<double> matrix, Span<double> result)
    {
        int k = vector.Length;
        Shape.Exact(matrix.Length, k, k, nameof(matrix), "K × K");
        Shape.Exact(result.Length, k, 1, nameof(result), "K");
        var arguments = new Arguments(ref MemoryMarshal.GetReference(vector), ref MemoryMarshal.GetReference(vector), ref MemoryMarshal.GetReference(matrix), ref MemoryMarshal.GetReference(result), k);
        Dispatch.Run<double, ProductBody, Arguments>(k, ref arguments);
    }

    /// <summary><c>matrix[i·K + j] += left[i] · right[j]</c>: the expected transitions' Σ_t α̂_t ⊗ (ρ ∘ β̂ / c)_{t+1}.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddOuterProduct(ReadOnlySpan<double> left, ReadOnlySpan<double> right, Span<double> matrix)
    {
        int k = left.Length;
        Shape.Exact(right.Length, k, 1, nameof(right), "K");
        Shape.Exact(matrix.Length, k, k, nameof(matrix), "K × K");
        var arguments = new Arguments(ref MemoryMarshal.GetReference(left), ref MemoryMarshal.GetReference(right), ref MemoryMarshal.GetReference(matrix), ref MemoryMarshal.GetReference(matrix), k);
        Dispatch.Run<double, OuterBody, Arguments>(k, ref arguments);
    }

    private ref struct Arguments(ref double left, ref double right, ref double matrix, ref double result, int k)
    {
        public ref double Left = ref left;
        public ref double Right = ref right;
        public ref double Matrix = ref matrix;
        public ref double Result = ref result;
        public int K = k;
    }

    // Tails: an element-wise result, so the last vector of a row overlaps the one before (recomputing lanes identically).
    private readonly struct ProductBody : IKernelBody<double, Arguments>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run<TV, TOps>(ref Arguments a)
            where TV : struct
            where TOps : struct, ISimd<TV, double>
        {
            int width = TOps.Count, k = a.K;
            for (int j = 0; j < k; j += 2 * width)
            {
                nuint at0 = (nuint)Math.Min(j, k - width);
                nuint at1 = (nuint)Math.Min(j + width, k - width);
                TV s0 = TOps.Zero, s1 = TOps.Zero;
                for (int i = 0; i < k; i++)
                {
                    TV v = TOps.Broadcast(Unsafe.Add(ref a.Left, i));
                    ref double row = ref Unsafe.Add(ref a.Matrix, i * k);
                    s0 = TOps.MultiplyAdd(v, TOps.Load(ref row, at0), s0);
                    s1 = TOps.MultiplyAdd(v, TOps.Load(ref row, at1), s1);
                }

                TOps.Store(s0, ref a.Result, at0);
                TOps.Store(s1, ref a.Result, at1);
            }
        }
    }

    // Tails: accumulation, so the overlapping last vector of a row adds only its fresh lanes (the others masked to 0).
    private readonly struct OuterBody : IKernelBody<double, Arguments>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run<TV, TOps>(ref Arguments a)
            where TV : struct
            where TOps : struct, ISimd<TV, double>
        {
            int width = TOps.Count, k = a.K;
            int full = k - (k % width);
            TV fresh = TOps.LanesFrom(width - (k - full));
            for (int i = 0; i < k; i++)
            {
                TV u = TOps.Broadcast(Unsafe.Add(ref a.Left, i));
                ref double row = ref Unsafe.Add(ref a.Matrix, i * k);
                for (int j = 0; j < full; j += width)
                {
                    TOps.Store(TOps.MultiplyAdd(u, TOps.Load(ref a.Right, (nuint)j), TOps.Load(ref row, (nuint)j)), ref row, (nuint)j);
                }

                if (full != k)
                {
                    nuint at = (nuint)(k - width);
                    TV added = TOps.Select(fresh, TOps.Multiply(u, TOps.Load(ref a.Right, at)), TOps.Zero);
                    TOps.Store(TOps.Add(TOps.Load(ref row, at), added), ref row, at);
                }
            }
        }
    }
}
