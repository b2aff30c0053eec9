using System.Numerics;
using EmKernels.Kernels.Common;
using EmKernels.Tests.Infrastructure;
using Xunit;
using Xunit.Sdk;

namespace EmKernels.Tests;

public sealed class ExpOperatorTestsSingle : ExpOperatorTests<float>;

public sealed class ExpOperatorTestsDouble : ExpOperatorTests<double>;

/// <summary>The kernels' own vector exp against Math.Exp (correctly rounded to within ~½ ulp in double), on the active tier.</summary>
public abstract class ExpOperatorTests<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private static readonly bool Single = typeof(T) == typeof(float);

    [Fact]
    public void Exp_IsWithinTwoUlpsOfTheTrueValue_AcrossItsWholeRange()
    {
        var random = new Random(7);
        double low = Single ? -103.9 : -745.1;
        double high = Single ? 88.72 : 709.78;
        int count = 1 << 18;
        T[] x = new T[count];
        for (int i = 0; i < count; i++)
        {
            // A quarter spread over the whole range, the rest where the EM kernels live: [−60, 1].
            double v = i % 4 == 0 ? low + (high - low) * random.NextDouble() : -60 + 61 * random.NextDouble();
            x[i] = T.CreateTruncating(v);
        }

        T[] y = new T[count];
        ExpOperator.Exp<T>(x, y);
        double worst = 0;
        int worstAt = 0;
        double smallestNormal = Single ? 1.17549435e-38 : 2.2250738585072014e-308;
        double subnormalUlp = Single ? 1.4e-45 : 4.9e-324;
        for (int i = 0; i < count; i++)
        {
            double expected = Math.Exp(double.CreateTruncating(x[i]));
            double actual = double.CreateTruncating(y[i]);
            double ulp = expected < smallestNormal ? subnormalUlp : Math.Abs(expected) * Tolerance.Epsilon<T>();
            double error = Math.Abs(actual - expected) / ulp;
            if (error > worst)
            {
                worst = error;
                worstAt = i;
            }
        }

        if (worst > 2)
        {
            throw new XunitException($"exp({x[worstAt]:R}) = {y[worstAt]:R}, true {Math.Exp(double.CreateTruncating(x[worstAt])):R}: {worst:F2} ulp.");
        }
    }

    [Fact]
    public void Exp_SpecialValues_AreExact()
    {
        T[] x = [T.Zero, T.NegativeZero, T.NegativeInfinity, T.PositiveInfinity, T.NaN, T.CreateTruncating(1e6), T.CreateTruncating(-1e6), T.One];
        T[] padded = [.. x, .. x, .. x]; // long enough for every vector width
        T[] y = new T[padded.Length];
        ExpOperator.Exp<T>(padded, y);
        for (int i = 0; i < padded.Length; i += x.Length)
        {
            Assert.Equal(T.One, y[i]);
            Assert.Equal(T.One, y[i + 1]);
            Assert.Equal(T.Zero, y[i + 2]);
            Assert.Equal(T.PositiveInfinity, y[i + 3]);
            Assert.True(T.IsNaN(y[i + 4]));
            Assert.Equal(T.PositiveInfinity, y[i + 5]);
            Assert.Equal(T.Zero, y[i + 6]);
            Tolerance.AssertClose<T>(Math.E, y[i + 7], Math.E, 2, "exp(1)");
        }
    }
}
