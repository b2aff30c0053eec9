using System.Numerics;
using EmKernels.Kernels;
using EmKernels.Tests.Infrastructure;
using Xunit;

namespace EmKernels.Tests;

/// <summary>The discrete families, for theory data.</summary>
public enum Family
{
    Bernoulli,
    Binomial,
    Poisson,
    Categorical,
}

public sealed class DiscreteKernelsTestsSingle : DiscreteKernelsTests<float>;

public sealed class DiscreteKernelsTestsDouble : DiscreteKernelsTests<double>;

/// <summary>Bernoulli, binomial, Poisson and categorical kernels against naive references (FORMAT.md §6 conventions).</summary>
public abstract class DiscreteKernelsTests<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private static readonly ValueKind[] Kinds = [ValueKind.Moderate];

    [Theory]
    [InlineData(Family.Bernoulli)]
    [InlineData(Family.Binomial)]
    [InlineData(Family.Poisson)]
    [InlineData(Family.Categorical)]
    public void LogDensity_MatchesReference(Family family) => Property.Check(KernelCase.Small<T>(Kinds), c => CheckLogDensity(c, family));

    [Theory]
    [InlineData(Family.Binomial)]
    [InlineData(Family.Categorical)]
    public void SufficientStatistics_MatchesReference(Family family) => Property.Check(KernelCase.Small<T>(Kinds), c => CheckStatistics(c, family));

    [Fact]
    public void SufficientStatistics_MatchesReference_LongBlocks() => Property.Check(KernelCase.Long(Kinds), c => CheckStatistics(c, Family.Poisson), 100);

    [Fact]
    public void ZeroCountsAgainstImpossibleOutcomes_ContributeZero_PositiveCountsGiveMinusInfinity()
    {
        // p = 0 for feature 0 and p = 1 for feature 1.
        T ninf = T.NegativeInfinity;
        T[] x = [T.Zero, T.One, T.One, T.One]; // point 0: (0, 1); point 1: (1, 1); stride 2
        T[] logP = [ninf, T.Zero];
        T[] logComplement = [T.Zero, ninf];
        T[] result = new T[2];
        DiscreteKernels.BernoulliLogDensity<T>(x, 2, 2, 2, 1, logP, logComplement, [T.Zero], result);
        Assert.Equal(T.Zero, result[0]);
        Assert.Equal(ninf, result[1]);
        DiscreteKernels.PoissonLogDensity<T>([T.Zero, T.CreateTruncating(3)], 1, 2, 2, 1, [ninf], [T.Zero], default, result);
        Assert.Equal(T.Zero, result[0]);
        Assert.Equal(ninf, result[1]);
    }

    [Fact]
    public void Kernels_RejectInconsistentShapes()
    {
        T[] x = new T[6];
        T[] two = new T[2];
        T[] four = new T[4];
        Assert.Equal("logP", Assert.Throws<ArgumentException>(() => DiscreteKernels.BernoulliLogDensity<T>(x, 2, 3, 3, 2, two, four, two, new T[6])).ParamName);
        Assert.Equal("logComplement", Assert.Throws<ArgumentException>(() => DiscreteKernels.BinomialLogDensity<T>(x, 2, 3, 3, 2, four, two, T.One, two, default, new T[6])).ParamName);
        Assert.Equal("pointOffsets", Assert.Throws<ArgumentException>(() => DiscreteKernels.PoissonLogDensity<T>(x, 2, 3, 3, 2, four, two, two, new T[6])).ParamName);
        Assert.Equal("logP", Assert.Throws<ArgumentException>(() => DiscreteKernels.CategoricalLogDensity<T>(x, 2, 3, 3, 2, 3, four, two, new T[6])).ParamName);
        Assert.Equal("counts", Assert.Throws<ArgumentException>(() => DiscreteKernels.CategoricalSufficientStatistics<T>(x, 2, 3, 3, new T[6], 2, 3, default, new double[2], new double[4])).ParamName);
        Assert.Equal("sums", Assert.Throws<ArgumentException>(() => DiscreteKernels.CountSufficientStatistics<T>(x, 2, 3, 3, new T[6], 2, default, new double[2], new double[3])).ParamName);
    }

    private static int Trials(Family family) => family switch { Family.Bernoulli => 1, Family.Binomial => 10, _ => 0 };

    private static int Categories(KernelCase c) => 1 + c.Seed % 6;

    /// <summary>Counts of the family: 0/1, 0…10, Poisson-like 0…20, or codes 0…C−1.</summary>
    private static GuardedBuffer<T> Counts(KernelCase c, Family family, Random random)
    {
        int length = c.Points == 0 ? 0 : (c.Features - 1) * c.Stride + c.Points;
        var buffer = Buffers.Create<T>(c, length);
        buffer.Span.Fill(T.NaN);
        for (int j = 0; j < c.Features; j++)
        {
            for (int n = 0; n < c.Points; n++)
            {
                int max = family switch { Family.Bernoulli => 1, Family.Binomial => 10, Family.Poisson => 20, _ => Categories(c) - 1 };
                buffer.Span[j * c.Stride + n] = T.CreateTruncating(random.NextDouble() < 0.3 ? (random.Next(2) == 0 ? 0 : max) : random.Next(max + 1));
            }
        }

        return buffer;
    }

    /// <summary>log-probabilities with some exactly −∞ (p = 0 or 1).</summary>
    private static void LogProbabilities(Span<T> destination, Random random)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = random.NextDouble() < 0.1 ? T.NegativeInfinity : T.CreateTruncating(Math.Log(0.01 + 0.98 * random.NextDouble()));
        }
    }

    private static void CheckLogDensity(KernelCase c, Family family)
    {
        int k = c.Components, d = c.Features, categories = Categories(c);
        Random random = c.Random();
        using var x = Counts(c, family, random);
        using var first = Buffers.Create<T>(c, k * d * (family == Family.Categorical ? categories : 1));
        using var complement = Buffers.Create<T>(c, family is Family.Bernoulli or Family.Binomial ? k * d : 0);
        using var offsets = Buffers.Create<T>(c, k);
        using var pointOffsets = Buffers.Create<T>(c, family is Family.Binomial or Family.Poisson && c.Weighted ? c.Points : 0);
        using var destination = Buffers.Create<T>(c, k * c.Points);
        LogProbabilities(first.Span, random);
        LogProbabilities(complement.Span, random);
        Values.Uniform<T>(offsets.Span, random, -10, 0);
        Values.Uniform<T>(pointOffsets.Span, random, -5, 5);
        T trials = T.CreateTruncating(Trials(family));
        switch (family)
        {
            case Family.Bernoulli:
                DiscreteKernels.BernoulliLogDensity<T>(x.Span, d, c.Points, c.Stride, k, first.Span, complement.Span, offsets.Span, destination.Span);
                break;
            case Family.Binomial:
                DiscreteKernels.BinomialLogDensity<T>(x.Span, d, c.Points, c.Stride, k, first.Span, complement.Span, trials, offsets.Span, pointOffsets.Span, destination.Span);
                break;
            case Family.Poisson:
                DiscreteKernels.PoissonLogDensity<T>(x.Span, d, c.Points, c.Stride, k, first.Span, offsets.Span, pointOffsets.Span, destination.Span);
                break;
            default:
                DiscreteKernels.CategoricalLogDensity<T>(x.Span, d, c.Points, c.Stride, k, categories, first.Span, offsets.Span, destination.Span);
                break;
        }

        x.AssertCanariesIntact("x");
        first.AssertCanariesIntact("logP");
        complement.AssertCanariesIntact("logComplement");
        offsets.AssertCanariesIntact("offsets");
        pointOffsets.AssertCanariesIntact("pointOffsets");
        destination.AssertCanariesIntact("destination");
        for (int j = 0; j < k; j++)
        {
            for (int n = 0; n < c.Points; n++)
            {
                double expected = double.CreateTruncating(offsets.Span[j]) + (pointOffsets.Span.IsEmpty ? 0 : double.CreateTruncating(pointOffsets.Span[n]));
                double scale = Math.Abs(expected);
                for (int f = 0; f < d; f++)
                {
                    double count = double.CreateTruncating(x.Span[f * c.Stride + n]);
                    double term = family == Family.Categorical
                        ? double.CreateTruncating(first.Span[(j * d + f) * categories + (int)count])
                        : (count == 0 ? 0 : count * double.CreateTruncating(first.Span[j * d + f]))
                          + (family == Family.Poisson || Trials(family) - count == 0 ? 0 : (Trials(family) - count) * double.CreateTruncating(complement.Span[j * d + f]));
                    expected += term;
                    scale += Math.Abs(term);
                }

                Tolerance.AssertClose<T>(expected, destination.Span[j * c.Points + n], scale, 4 + 2 * d, () => $"{family} log-density [{j},{n}] in {c}");
            }
        }
    }

    private static void CheckStatistics(KernelCase c, Family family)
    {
        int k = c.Components, d = c.Features, categories = Categories(c);
        int outcomes = family == Family.Categorical ? categories : 1;
        Random random = c.Random();
        using var x = Counts(c, family, random);
        using var r = Buffers.Create<T>(c, k * c.Points);
        using var weights = Buffers.Create<T>(c, c.Weighted ? c.Points : 0);
        using var mass = new GuardedBuffer<double>(k, c.Misalignment, c.Gap, double.NaN);
        using var sums = new GuardedBuffer<double>(k * d * outcomes, c.Misalignment, c.Gap, double.NaN);
        Values.Uniform<T>(r.Span, random, 0, 1, zeroProbability: 0.2);
        Values.Uniform<T>(weights.Span, random, 0, 3, zeroProbability: 0.1);
        mass.Span.Clear();
        sums.Span.Clear();
        if (family == Family.Categorical)
        {
            DiscreteKernels.CategoricalSufficientStatistics<T>(x.Span, d, c.Points, c.Stride, r.Span, k, categories, weights.Span, mass.Span, sums.Span);
        }
        else
        {
            DiscreteKernels.CountSufficientStatistics<T>(x.Span, d, c.Points, c.Stride, r.Span, k, weights.Span, mass.Span, sums.Span);
        }

        x.AssertCanariesIntact("x");
        r.AssertCanariesIntact("responsibilities");
        mass.AssertCanariesIntact("weightSums");
        sums.AssertCanariesIntact("sums");
        double factor = 8 + Math.Min(c.Points, 256) / 4.0;
        for (int j = 0; j < k; j++)
        {
            double expectedMass = 0;
            double[] expected = new double[d * outcomes];
            for (int n = 0; n < c.Points; n++)
            {
                T vT = c.Weighted ? r.Span[j * c.Points + n] * weights.Span[n] : r.Span[j * c.Points + n];
                double v = double.CreateTruncating(vT);
                expectedMass += v;
                for (int f = 0; f < d; f++)
                {
                    double count = double.CreateTruncating(x.Span[f * c.Stride + n]);
                    if (family == Family.Categorical)
                    {
                        expected[f * outcomes + (int)count] += v;
                    }
                    else
                    {
                        expected[f] += v * count;
                    }
                }
            }

            Tolerance.AssertClose<T>(expectedMass, T.CreateTruncating(mass.Span[j]), expectedMass, factor, () => $"N[{j}] in {c}");
            for (int i = 0; i < d * outcomes; i++)
            {
                Tolerance.AssertClose<T>(expected[i], T.CreateTruncating(sums.Span[j * d * outcomes + i]), expected[i], factor, () => $"{family} sum [{j},{i}] in {c}");
            }
        }
    }
}
