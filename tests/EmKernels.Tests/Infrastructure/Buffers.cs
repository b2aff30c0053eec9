using System.Numerics;

namespace EmKernels.Tests.Infrastructure;

/// <summary>Guarded buffers for a case. Canaries are NaN, so a stray read also poisons the result.</summary>
internal static class Buffers
{
    public static GuardedBuffer<T> Create<T>(KernelCase c, int length)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        new(length, c.Misalignment, c.Gap, T.NaN);

    /// <summary>A feature-major tile of the case's shape; elements between features (stride padding) are NaN.</summary>
    public static GuardedBuffer<T> Tile<T>(KernelCase c, Random random)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int length = c.Points == 0 ? 0 : (c.Features - 1) * c.Stride + c.Points;
        var buffer = Create<T>(c, length);
        buffer.Span.Fill(T.NaN);
        T[] row = new T[c.Points];
        for (int d = 0; d < c.Features && c.Points > 0; d++)
        {
            Values.Data<T>(row, random, c.Kind);
            row.CopyTo(buffer.Span.Slice(d * c.Stride, c.Points));
        }

        return buffer;
    }
}
