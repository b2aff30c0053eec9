using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Xunit.Sdk;

namespace EmKernels.Tests.Infrastructure;

/// <summary>
/// A span of <typeparamref name="T"/> placed inside unmanaged memory so that touching anything outside
/// it is caught: a run of canary elements before the span (and, when <c>gap</c> &gt; 0, between its end
/// and the guard page) is checked by <see cref="AssertCanariesIntact"/>, and on Linux the page after
/// that is mapped PROT_NONE, so any read or write past the end crashes the test host. The start is
/// misaligned by the chosen number of elements.
/// </summary>
internal sealed unsafe class GuardedBuffer<T> : IDisposable
    where T : unmanaged
{
    private const int FrontCanaries = 16;
    private static readonly int PageSize = Environment.SystemPageSize;

    private readonly byte* _mapping;
    private readonly nuint _mappingBytes;
    private readonly T* _front;
    private readonly int _length;
    private readonly int _gap;
    private readonly T _canary;

    public GuardedBuffer(int length, int misalignment, int gap, T canary)
    {
        _length = length;
        _gap = gap;
        _canary = canary;
        int elements = FrontCanaries + misalignment + length + gap;
        nuint bytes = (nuint)(elements * sizeof(T));
        nuint dataPages = (bytes + (nuint)PageSize - 1) / (nuint)PageSize;
        _mappingBytes = (dataPages + 1) * (nuint)PageSize;
        if (OperatingSystem.IsLinux())
        {
            _mapping = (byte*)Libc.Mmap(null, _mappingBytes, Libc.ProtRead | Libc.ProtWrite, Libc.MapPrivate | Libc.MapAnonymous, -1, 0);
            if (_mapping == (byte*)-1)
            {
                throw new InvalidOperationException("mmap failed");
            }

            if (Libc.Mprotect(_mapping + dataPages * (nuint)PageSize, (nuint)PageSize, Libc.ProtNone) != 0)
            {
                throw new InvalidOperationException("mprotect failed");
            }
        }
        else
        {
            _mapping = (byte*)NativeMemory.Alloc(_mappingBytes);
        }

        byte* end = _mapping + dataPages * (nuint)PageSize;
        _front = (T*)(end - elements * sizeof(T));
        new Span<T>(_front, elements).Fill(canary);
        Start = FrontCanaries + misalignment;
    }

    private int Start { get; }

    public Span<T> Span => new(_front + Start, _length);

    public void AssertCanariesIntact(string name)
    {
        ReadOnlySpan<T> front = new(_front, Start);
        ReadOnlySpan<T> back = new(_front + Start + _length, _gap);
        for (int i = 0; i < front.Length; i++)
        {
            if (!Equal(front[i], _canary))
            {
                throw new XunitException($"{name}: canary {Start - i} elements before the span was overwritten.");
            }
        }

        for (int i = 0; i < back.Length; i++)
        {
            if (!Equal(back[i], _canary))
            {
                throw new XunitException($"{name}: canary {i} elements after the span was overwritten.");
            }
        }
    }

    public void Dispose()
    {
        if (OperatingSystem.IsLinux())
        {
            _ = Libc.Munmap(_mapping, _mappingBytes);
        }
        else
        {
            NativeMemory.Free(_mapping);
        }
    }

    // Bitwise, so NaN canaries compare equal to themselves.
    private static bool Equal(T left, T right) =>
        MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in left)).SequenceEqual(MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in right)));
}

/// <summary>The three libc calls that map, protect and unmap guard pages.</summary>
internal static unsafe class Libc
{
    public const int ProtNone = 0;
    public const int ProtRead = 1;
    public const int ProtWrite = 2;
    public const int MapPrivate = 0x02;
    public const int MapAnonymous = 0x20;

    [DllImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static extern void* Mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [DllImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    public static extern int Mprotect(void* address, nuint length, int protection);

    [DllImport("libc", EntryPoint = "munmap", SetLastError = true)]
    public static extern int Munmap(void* address, nuint length);
}
