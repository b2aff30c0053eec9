using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EmKernels.Kernels.Common;

/// <summary>
/// Per-thread scratch for the kernels that need it, aligned to 64 bytes (one cache line, one Vector512):
/// a vector load or store that straddles two lines costs two, and stack or pooled buffers land at any
/// 16-byte offset, which made one worker of a fit up to a fifth slower than the other. The buffer lives on
/// the pinned object heap (<see cref="Aligned"/>), so its alignment holds; it grows (to a power of two) when a call needs more and
/// is never shrunk. Kernels never nest, so one buffer per thread serves them all.
/// </summary>
internal static class Scratch
{
    [ThreadStatic]
    private static byte[]? t_bytes;

    [ThreadStatic]
    private static int t_offset;

    /// <summary><paramref name="length"/> elements of 64-byte-aligned scratch, contents undefined, valid until this thread's next call.</summary>
    public static Span<T> Get<T>(int length)
        where T : unmanaged
    {
        int bytes = checked(length * Unsafe.SizeOf<T>());
        byte[]? buffer = t_bytes;
        if (buffer is null || buffer.Length - Aligned.Bytes < bytes)
        {
            buffer = Aligned.Allocate<byte>((int)Math.Min(Array.MaxLength - Aligned.Bytes, RoundUp(bytes)), out t_offset);
            t_bytes = buffer;
        }

        return MemoryMarshal.Cast<byte, T>(buffer.AsSpan(t_offset, bytes));
    }

    private static long RoundUp(int bytes) => Math.Max(4096L, (long)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)bytes));
}
