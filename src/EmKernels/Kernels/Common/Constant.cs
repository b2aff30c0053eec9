using System.Numerics;
using System.Runtime.CompilerServices;

namespace EmKernels.Kernels.Common;

/// <summary>Constants for the inlined vector math (<see cref="ExpOperator"/>, <see cref="LogOperator"/>).</summary>
internal static class Constant
{
    /// <summary><paramref name="value"/> converted to <typeparamref name="T"/> and broadcast to every lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Of<T, TV, TOps>(double value)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T> =>
        TOps.Broadcast(T.CreateTruncating(value));
}
