using System.Numerics;
using System.Runtime.CompilerServices;

namespace EmKernels.Kernels.Common;

/// <summary>Shape checks shared by every kernel. Each names the offending argument.</summary>
internal static class Shape
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CheckElementType<T>()
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double))
        {
            ThrowHelper.ThrowNotSupportedType<T>();
        }
    }

    public static void Positive(int value, string paramName)
    {
        if (value < 1)
        {
            ThrowHelper.ThrowArgumentOutOfRange(paramName, value, "Must be at least 1.");
        }
    }

    public static void NonNegative(int value, string paramName)
    {
        if (value < 0)
        {
            ThrowHelper.ThrowArgumentOutOfRange(paramName, value, "Must not be negative.");
        }
    }

    /// <summary>Requires <paramref name="length"/> == rows × columns (computed without overflow).</summary>
    public static void Exact(int length, int rows, int columns, string paramName, string layout)
    {
        long expected = (long)rows * columns;
        if (length != expected)
        {
            ThrowHelper.ThrowArgument(paramName, $"Expected length {expected} ({layout}), got {length}.");
        }
    }

    /// <summary>Requires an optional span to be empty or to hold exactly <paramref name="points"/> values.</summary>
    public static void EmptyOrExact(int length, int points, string paramName)
    {
        if (length != 0 && length != points)
        {
            ThrowHelper.ThrowArgument(paramName, $"Expected an empty span or length {points} (one per point), got {length}.");
        }
    }

    /// <summary>
    /// Requires a feature-major tile: feature d of point n at <c>x[d * stride + n]</c>, so the span must
    /// reach <c>(features − 1) · stride + points</c> elements, with <c>stride ≥ points</c>.
    /// </summary>
    public static void FeatureMajor(int length, int stride, int features, int points, string paramName, string strideName)
    {
        if (stride < points)
        {
            ThrowHelper.ThrowArgumentOutOfRange(strideName, stride, $"The stride must be at least the number of points ({points}).");
        }

        if (points == 0)
        {
            return;
        }

        long needed = (long)(features - 1) * stride + points;
        if (length < needed)
        {
            ThrowHelper.ThrowArgument(
                paramName,
                $"A feature-major tile of {features} features × {points} points with stride {stride} needs at least {needed} elements, got {length}.");
        }
    }

    /// <summary>
    /// The checks every log-density kernel shares: element type, counts, a feature-major tile, K offsets
    /// and a K × B destination. The kernel then checks its own parameter spans.
    /// </summary>
    public static void LogDensityTile<T>(int xLength, int features, int points, int stride, int components, int offsetsLength, int destinationLength)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CheckElementType<T>();
        Positive(features, nameof(features));
        NonNegative(points, nameof(points));
        Positive(components, nameof(components));
        FeatureMajor(xLength, stride, features, points, "x", nameof(stride));
        Exact(offsetsLength, components, 1, "offsets", "one per component");
        Exact(destinationLength, components, points, "destination", "components × points");
    }

    /// <summary>
    /// The checks every sufficient-statistics kernel shares: element type, counts, a feature-major tile,
    /// K × B responsibilities, optional weights and K weight sums. The kernel then checks its own accumulators.
    /// </summary>
    public static void StatisticsTile<T>(int xLength, int features, int points, int stride, int responsibilitiesLength, int components, int sampleWeightsLength, int weightSumsLength)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CheckElementType<T>();
        Positive(features, nameof(features));
        NonNegative(points, nameof(points));
        Positive(components, nameof(components));
        FeatureMajor(xLength, stride, features, points, "x", nameof(stride));
        Exact(responsibilitiesLength, components, points, "responsibilities", "components × points");
        EmptyOrExact(sampleWeightsLength, points, "sampleWeights");
        Exact(weightSumsLength, components, 1, "weightSums", "one per component");
    }
}
