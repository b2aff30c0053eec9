using System.Numerics;
using EmKernels.Kernels.Common;
using EmKernels.Tests.Infrastructure;
using Xunit;
using Xunit.Sdk;

namespace EmKernels.Tests;

public sealed class LogOperatorTestsSingle : LogOperatorTests<float>;

public sealed class LogOperatorTestsDouble : LogOperatorTests<double>;

/// <summary>The kernels' own vector log against Math.Log (correctly rounded to within ~½ ulp in double), on the active tier.</summary>
public abstract class LogOperatorTests<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private static readonly bool Single = typeof(T) == typeof(float);

    [Fact]
    public void Log_IsWithinTwoUlpsOfTheTrueValue_AcrossItsWholeRange()
    {
        var random = new Random(11);
        int count = 1 << 18;
        T[] x = new T[count];
        double smallestSubnormal = Single ? 1.4e-45 : 4.9e-324;
        double largest = Single ? 3.4e38 : 1.79e308;
        for (int i = 0; i < count; i++)
        {
            // Log-uniform over every positive normal and subnormal, half of them where the kernels live: sums of
            // exponentials in [1, 64] and values just above 1.
            double v = (i % 4) switch
            {
                0 => Math.Exp(Math.Log(smallestSubnormal) + (Math.Log(largest) - Math.Log(smallestSubnormal)) * random.NextDouble()),
                1 => 1 + 63 * random.NextDouble(),
                2 => 1 + Math.ScaleB(random.NextDouble(), -random.Next(1, 40)),
                _ => Math.Exp(-50 + 100 * random.NextDouble()),
            };
            x[i] = T.CreateTruncating(v);
        }

        T[] y = new T[count];
        LogOperator.Log<T>(x, y);
        double worst = 0;
        int worstAt = 0;
        for (int i = 0; i < count; i++)
        {
            double expected = Math.Log(double.CreateTruncating(x[i]));
            double error = Math.Abs(double.CreateTruncating(y[i]) - expected) / (Math.Abs(expected) * Tolerance.Epsilon<T>());
            if (x[i] == T.One ? y[i] != T.Zero : error > worst)
            {
                worst = x[i] == T.One ? double.PositiveInfinity : error;
                worstAt = i;
            }
        }

        if (worst > 2)
        {
            throw new XunitException($"log({x[worstAt]:R}) = {y[worstAt]:R}, true {Math.Log(double.CreateTruncating(x[worstAt])):R}: {worst:F2} ulp.");
        }
    }

    [Fact]
    public void Log_SpecialValues_AreExact()
    {
        T[] x = [T.Zero, T.NegativeZero, T.NegativeInfinity, T.PositiveInfinity, T.NaN, -T.One, T.One, T.Epsilon];
        T[] padded = [.. x, .. x, .. x]; // long enough for every vector width
        T[] y = new T[padded.Length];
        LogOperator.Log<T>(padded, y);
        for (int i = 0; i < padded.Length; i += x.Length)
        {
            Assert.Equal(T.NegativeInfinity, y[i]);
            Assert.Equal(T.NegativeInfinity, y[i + 1]);
            Assert.True(T.IsNaN(y[i + 2]));
            Assert.Equal(T.PositiveInfinity, y[i + 3]);
            Assert.True(T.IsNaN(y[i + 4]));
            Assert.True(T.IsNaN(y[i + 5]));
            Assert.Equal(T.Zero, y[i + 6]);
            double smallest = Single ? -103.27892990343184 : -744.4400719213812; // log of the smallest subnormal
            Tolerance.AssertClose<T>(smallest, y[i + 7], Math.Abs(smallest), 2, "log of the smallest subnormal");
        }
    }
}
