using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EmKernels.Kernels.Common;

/// <summary>
/// Buffers that start on a 64-byte boundary (one cache line, one Vector512), so whole-vector loads and
/// stores never straddle two lines: arrays from <c>new T[n]</c> start at any 16-byte offset. Pinned (the
/// pinned object heap never moves them), so the alignment holds for their lifetime.
/// </summary>
internal static class Aligned
{
    public const int Bytes = 64;

    /// <summary>A zeroed pinned array holding <paramref name="length"/> elements from the aligned <paramref name="offset"/>.</summary>
    public static T[] Allocate<T>(int length, out int offset)
        where T : unmanaged
    {
        int pad = Bytes / Unsafe.SizeOf<T>();
        T[] array = GC.AllocateArray<T>(checked(length + pad), pinned: true);
        nint address = Marshal.UnsafeAddrOfPinnedArrayElement(array, 0);
        offset = (int)((Bytes - (address & (Bytes - 1))) & (Bytes - 1)) / Unsafe.SizeOf<T>();
        return array;
    }

    /// <summary>A zeroed aligned buffer of <paramref name="length"/> elements.</summary>
    public static Memory<T> Memory<T>(int length)
        where T : unmanaged
    {
        T[] array = Allocate<T>(length, out int offset);
        return new Memory<T>(array, offset, length);
    }
}
