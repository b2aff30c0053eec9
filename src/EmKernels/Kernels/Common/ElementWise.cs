using System.Numerics;
using System.Runtime.InteropServices;

namespace EmKernels.Kernels.Common;

/// <summary>A function of one vector, applied element-wise by <see cref="ElementWise.Apply{T, TFunction}"/>.</summary>
internal interface IElementFunction
{
    static abstract TV Invoke<T, TV, TOps>(TV x)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>;
}

/// <summary>Applies an <see cref="IElementFunction"/> to every element through <see cref="Dispatch"/>: for tests and benchmarks of the inlined math.</summary>
internal static class ElementWise
{
    /// <summary>destination[i] = f(x[i]); the destination must not overlap the source and must be at least as long.</summary>
    public static void Apply<T, TFunction>(ReadOnlySpan<T> x, Span<T> destination)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TFunction : struct, IElementFunction
    {
        Shape.Exact(destination.Length, x.Length, 1, nameof(destination), "one per element");
        var arguments = new SpanArguments<T>(ref MemoryMarshal.GetReference(x), ref MemoryMarshal.GetReference(destination), x.Length);
        Dispatch.Run<T, Body<T, TFunction>, SpanArguments<T>>(x.Length, ref arguments);
    }

    private ref struct SpanArguments<T>(ref T source, ref T destination, int length)
    {
        public ref T Source = ref source;
        public ref T Destination = ref destination;
        public int Length = length;
    }

    // Tails: element-wise, so the last vector overlaps the previous one; the destination must not overlap the source.
    private readonly struct Body<T, TFunction> : IKernelBody<T, SpanArguments<T>>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TFunction : struct, IElementFunction
    {
        public static void Run<TV, TOps>(ref SpanArguments<T> a)
            where TV : struct
            where TOps : struct, ISimd<TV, T>
        {
            int width = TOps.Count;
            for (int i = 0; i < a.Length; i += width)
            {
                nuint at = (nuint)Math.Min(i, a.Length - width);
                TOps.Store(TFunction.Invoke<T, TV, TOps>(TOps.Load(ref a.Source, at)), ref a.Destination, at);
            }
        }
    }
}
