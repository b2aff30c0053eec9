using System.Numerics;
using EmKernels.Kernels.Common;

namespace EmKernels.Engine;

/// <summary>Validation shared by models: the one way a tile's values are checked to be finite.</summary>
internal static class TileChecks
{
    /// <summary>
    /// Throws an <see cref="ArgumentException"/> (parameter "data") naming the row and column of the first value of the
    /// tile that is not finite; a vectorized test per feature, the scalar search only where it fails.
    /// </summary>
    public static void RequireFinite<T>(in DataTile<T> tile)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        for (int f = 0; f < tile.Features; f++)
        {
            ReadOnlySpan<T> feature = tile.Feature(f);
            if (Reductions.AllFinite(feature))
            {
                continue;
            }

            for (int i = 0; i < feature.Length; i++)
            {
                if (!T.IsFinite(feature[i]))
                {
                    throw new ArgumentException($"The data contain {feature[i]} at row {tile.Start + i}, column {f}; every value must be finite.", "data");
                }
            }
        }
    }
}
