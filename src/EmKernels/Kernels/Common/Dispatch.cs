using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace EmKernels.Kernels.Common;

/// <summary>
/// A kernel body written once over <see cref="ISimd{TV, T}"/>; <see cref="Dispatch"/> runs it on the widest
/// accelerated width. <typeparamref name="TArguments"/> is the kernel's validated arguments, usually a
/// ref struct of references into the caller's spans.
/// </summary>
internal interface IKernelBody<T, TArguments>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
    where TArguments : allows ref struct
{
    static abstract void Run<TV, TOps>(ref TArguments arguments)
        where TV : struct
        where TOps : struct, ISimd<TV, T>;
}

/// <summary>The one dispatch ladder: Vector512 → Vector256 → Vector128 → scalar, taking the widest that is
/// hardware-accelerated and no wider than the number of points (so every body may assume points ≥ width).</summary>
internal static class Dispatch
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<T, TBody, TArguments>(int points, ref TArguments arguments)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TBody : IKernelBody<T, TArguments>
        where TArguments : allows ref struct
    {
        if (Vector512.IsHardwareAccelerated && points >= Vector512<T>.Count)
        {
            TBody.Run<Vector512<T>, Simd512<T>>(ref arguments);
        }
        else if (Vector256.IsHardwareAccelerated && points >= Vector256<T>.Count)
        {
            TBody.Run<Vector256<T>, Simd256<T>>(ref arguments);
        }
        else if (Vector128.IsHardwareAccelerated && points >= Vector128<T>.Count)
        {
            TBody.Run<Vector128<T>, Simd128<T>>(ref arguments);
        }
        else
        {
            TBody.Run<T, SimdScalar<T>>(ref arguments);
        }
    }
}
