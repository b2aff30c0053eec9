using System.Numerics;
using System.Runtime.Intrinsics;
using FsCheck;
using FsCheck.Fluent;

namespace EmKernels.Tests.Infrastructure;

/// <summary>What kind of values a case fills its inputs with.</summary>
public enum ValueKind
{
    /// <summary>Moderate values of mixed sign.</summary>
    Moderate,

    /// <summary>A large common offset with a small spread (|x| ≈ 1e6, spread ≈ 1).</summary>
    LargeOffset,

    /// <summary>Values spanning most of the exponent range that exp can take without overflow.</summary>
    Wide,

    /// <summary>Moderate values with −∞ log-probabilities sprinkled in, and whole points at −∞.</summary>
    NegativeInfinity,

    /// <summary>NaN, ±∞, ±0, subnormals and very large magnitudes at random positions.</summary>
    Specials,
}

/// <summary>
/// One randomly drawn kernel call: shapes, where its spans sit (misalignment, canaries before the
/// guard page), and the seed and kind of its values. FsCheck draws the case; the values come from a
/// <see cref="Random"/> seeded by it, so every failure is reproducible from the printed case.
/// </summary>
public sealed record KernelCase(
    int Components, int Points, int Features, int ExtraStride, int Misalignment, int Gap, bool Weighted, ValueKind Kind, int Seed)
{
    /// <summary>The widest vector any path uses for <typeparamref name="T"/>, in elements.</summary>
    public static int WidestVector<T>() => Vector512<T>.Count;

    /// <summary>Shapes as the foundation issue asks: K 1..64, B 0..3·widest+7, D 1..40.</summary>
    public static Gen<KernelCase> Small<T>(ValueKind[] kinds) => Shapes(64, 3 * WidestVector<T>() + 7, 40, kinds);

    /// <summary>Fewer components and features but thousands of points, to cross reduction chunks.</summary>
    public static Gen<KernelCase> Long(ValueKind[] kinds) => Shapes(4, 2600, 3, kinds);

    public Random Random() => new(Seed);

    public int Stride => Points + ExtraStride;

    private static Gen<KernelCase> Shapes(int maxComponents, int maxPoints, int maxFeatures, ValueKind[] kinds) =>
        from components in Gen.Choose(1, maxComponents)
        from points in Gen.Choose(0, maxPoints)
        from features in Gen.Choose(1, maxFeatures)
        from extraStride in Gen.Elements(0, 0, 1, 5, 16)
        from misalignment in Gen.Choose(0, 15)
        from gap in Gen.Elements(0, 0, 0, 3)
        from weighted in Gen.Elements(false, true)
        from kind in Gen.Elements(kinds)
        from seed in Gen.Choose(0, int.MaxValue)
        select new KernelCase(components, points, features, extraStride, misalignment, gap, weighted, kind, seed);
}

/// <summary>Runs an FsCheck property over kernel cases, 1000 cases unless told otherwise.</summary>
public static class Property
{
    public static void Check(Gen<KernelCase> cases, Action<KernelCase> body, int count = 1000) =>
        global::FsCheck.Check.One(Config.QuickThrowOnFailure.WithMaxTest(count).WithQuietOnSuccess(true), Prop.ForAll(cases.ToArbitrary(), body));

    /// <summary>Runs <paramref name="body"/> on <paramref name="count"/> generated cases (for example seeds of a case built with System.Random).</summary>
    public static void Run<TCase>(Gen<TCase> cases, Action<TCase> body, int count = 100) =>
        global::FsCheck.Check.One(Config.QuickThrowOnFailure.WithMaxTest(count).WithQuietOnSuccess(true), Prop.ForAll(cases.ToArbitrary(), body));
}

/// <summary>Draws values of a kind, in the element type under test.</summary>
public static class Values
{
    /// <summary>Log-probabilities (log ρ) of the given kind.</summary>
    public static void LogProbabilities<T>(Span<T> destination, Random random, ValueKind kind, int components)
        where T : IFloatingPointIeee754<T>
    {
        bool single = typeof(T) == typeof(float);
        for (int i = 0; i < destination.Length; i++)
        {
            double v = kind switch
            {
                ValueKind.LargeOffset => (single ? -1e4 : -1e6) + Uniform(random, -5, 5),
                ValueKind.Wide => Uniform(random, single ? -80 : -600, single ? 80 : 600),
                _ => Uniform(random, -30, 5),
            };
            destination[i] = T.CreateTruncating(v);
        }

        if (kind == ValueKind.NegativeInfinity)
        {
            int points = destination.Length / components;
            for (int i = 0; i < destination.Length; i++)
            {
                if (random.NextDouble() < 0.3)
                {
                    destination[i] = T.NegativeInfinity;
                }
            }

            for (int n = 0; n < points; n++)
            {
                if (random.NextDouble() < 0.15)
                {
                    for (int k = 0; k < components; k++)
                    {
                        destination[k * points + n] = T.NegativeInfinity;
                    }
                }
            }
        }

        if (kind == ValueKind.Specials)
        {
            Sprinkle(destination, random);
        }
    }

    /// <summary>Data values of the given kind (centre 1e6 for <see cref="ValueKind.LargeOffset"/>).</summary>
    public static void Data<T>(Span<T> destination, Random random, ValueKind kind)
        where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = T.CreateTruncating(Centre(kind) + Uniform(random, -3, 3));
        }

        if (kind == ValueKind.Specials)
        {
            Sprinkle(destination, random);
        }
    }

    /// <summary>Parameters near the data (means, shifts): same centre, smaller spread.</summary>
    public static void NearData<T>(Span<T> destination, Random random, ValueKind kind)
        where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = T.CreateTruncating(Centre(kind) + Uniform(random, -1, 1));
        }
    }

    public static void Uniform<T>(Span<T> destination, Random random, double low, double high, double zeroProbability = 0)
        where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = random.NextDouble() < zeroProbability ? T.Zero : T.CreateTruncating(Uniform(random, low, high));
        }
    }

    public static double[] ToDouble<T>(ReadOnlySpan<T> values)
        where T : IFloatingPointIeee754<T>
    {
        double[] result = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            result[i] = double.CreateTruncating(values[i]);
        }

        return result;
    }

    /// <summary>
    /// Puts NaN, ±∞, ±0, subnormals and very large magnitudes at ~10 % of positions. "Very large" stays
    /// below √max so that squares do not overflow the element type (they would in any implementation).
    /// </summary>
    public static void Sprinkle<T>(Span<T> destination, Random random)
        where T : IFloatingPointIeee754<T>
    {
        bool single = typeof(T) == typeof(float);
        T[] specials =
        [
            T.NaN, T.PositiveInfinity, T.NegativeInfinity, T.Zero, T.NegativeZero, T.Epsilon, -T.Epsilon,
            T.CreateTruncating(single ? 1e-40 : 1e-310), T.CreateTruncating(single ? 1e15 : 1e150), T.CreateTruncating(single ? -1e15 : -1e150),
        ];
        for (int i = 0; i < destination.Length; i++)
        {
            if (random.NextDouble() < 0.1)
            {
                destination[i] = specials[random.Next(specials.Length)];
            }
        }
    }

    private static double Centre(ValueKind kind) => kind == ValueKind.LargeOffset ? 1e6 : 0;

    private static double Uniform(Random random, double low, double high) => low + (high - low) * random.NextDouble();
}
