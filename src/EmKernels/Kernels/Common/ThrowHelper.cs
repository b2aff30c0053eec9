using System.Diagnostics.CodeAnalysis;

namespace EmKernels.Kernels.Common;

/// <summary>Throws kept out of line so that the kernels that call them stay small enough to inline well.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void ThrowArgument(string paramName, string message) => throw new ArgumentException(message, paramName);

    [DoesNotReturn]
    public static void ThrowArgumentOutOfRange(string paramName, object? actual, string message) =>
        throw new ArgumentOutOfRangeException(paramName, actual, message);

    [DoesNotReturn]
    public static void ThrowNotSupportedType<T>() =>
        throw new NotSupportedException($"EmKernels kernels support float and double, not {typeof(T).Name}.");
}
