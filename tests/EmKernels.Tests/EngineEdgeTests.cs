using System.Buffers.Binary;
using System.Text;
using EmKernels.Engine;
using EmKernels.Latent;
using EmKernels.Mixtures;
using EmKernels.Numerics;
using EmKernels.Tests.Infrastructure;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// Edges of the engine, the statistics' serialization and the dense algebra that mutation testing (dotnet-stryker,
/// perf-results/mutation.md) showed no test would notice breaking: each test here fails under at least one mutant
/// that survived the rest of the suite.
/// </summary>
public sealed class EngineEdgeTests
{
    private static readonly StatisticsLayout Layout = new("edge/1", new StatisticsBlock("shift", 2, IsShift: true), new StatisticsBlock("mass", 2), new StatisticsBlock("moments", 3));

    private static byte[] ValidBytes()
    {
        var statistics = new SufficientStatistics(Layout);
        statistics.Sums.Fill(1.5);
        return statistics.ToBytes();
    }

    /// <summary>The offset of the block count: magic (4), version (4), the kind's length (4) and bytes.</summary>
    private static int CountOffset => 4 + 4 + 4 + Encoding.UTF8.GetByteCount(Layout.Kind);

    [Fact]
    public void Statistics_RefuseTruncatedOrOverlongBytes_NamingWhich()
    {
        byte[] valid = ValidBytes();
        Assert.Equal(1.5, SufficientStatistics.FromBytes(valid, Layout).Sums[0]);
        Assert.Contains("truncated", Assert.Throws<ArgumentException>(() => SufficientStatistics.FromBytes(valid.AsSpan(0, valid.Length - 8), Layout)).Message);
        Assert.Contains("too long", Assert.Throws<ArgumentException>(() => SufficientStatistics.FromBytes([.. valid, .. new byte[8]], Layout)).Message);
        for (int cut = 1; cut < CountOffset + 6; cut++)
        {
            // Cut inside the header: a clear ArgumentException about the bytes, never an index out of range.
            var e = Assert.Throws<ArgumentException>(() => SufficientStatistics.FromBytes(valid.AsSpan(0, cut), Layout));
            Assert.Equal("bytes", e.ParamName);
        }
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(int.MaxValue)]
    public void Statistics_RefuseAnImpossibleBlockCount(int count)
    {
        byte[] bytes = ValidBytes();
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(CountOffset), count);
        Assert.Contains($"claims {count} blocks", Assert.Throws<ArgumentException>(() => SufficientStatistics.FromBytes(bytes, Layout)).Message);
    }

    [Fact]
    public void Statistics_RefuseANegativeNameLengthAndInvalidUtf8()
    {
        byte[] bytes = ValidBytes();
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), -5);
        Assert.Contains("claims -5 bytes", Assert.Throws<ArgumentException>(() => SufficientStatistics.FromBytes(bytes, Layout)).Message);
        bytes = ValidBytes();
        bytes[12] = 0xFF; // the kind's first byte: not UTF-8
        Assert.Contains("not valid UTF-8", Assert.Throws<ArgumentException>(() => SufficientStatistics.FromBytes(bytes, Layout)).Message);
    }

    [Fact]
    public void Statistics_NullArgumentsAreNamed()
    {
        var statistics = new SufficientStatistics(Layout);
        Assert.Equal("other", Assert.Throws<ArgumentNullException>(() => statistics.CanMergeWith(null!)).ParamName);
        Assert.Equal("expected", Assert.Throws<ArgumentNullException>(() => SufficientStatistics.FromBytes(ValidBytes(), null!)).ParamName);
    }

    [Fact]
    public void MonotoneCheck_RecordsTheDropInFloatAndDouble()
    {
        // A drop of 1e-3 at ℓ ≈ 1 is far beyond float rounding (64 ε ≈ 8e-6) and is recorded with its size.
        foreach (bool single in new[] { true, false })
        {
            var decreases = new List<LikelihoodDecrease>();
            var history = new List<double> { 1.0, 1.0 - 1e-3 };
            if (single)
            {
                ExpectationMaximization.CheckMonotone<float>(history, decreases);
            }
            else
            {
                ExpectationMaximization.CheckMonotone<double>(history, decreases);
            }

            LikelihoodDecrease decrease = Assert.Single(decreases);
            Assert.Equal(1, decrease.Iteration);
            Assert.Equal(1e-3, decrease.Decrease, 1e-15);
        }
    }

    [Fact]
    public void SampleWeights_AreNormalizedByTheExactPowerOfTwo()
    {
        // Weights all 2^40 on 1,024 points: the frame divides them by 2^40, making their mean exactly 1.
        double[] x = Enumerable.Range(0, 1024).Select(i => (double)(i % 17)).ToArray();
        double[] weights = Enumerable.Repeat(Math.ScaleB(1.0, 40), 1024).ToArray();
        var mixture = new FiniteMixture<double>(GaussianComponents<double>.Create(CovarianceType.Diagonal, 2, 1, 1e-6));
        ExpectationMaximizationResult result = ExpectationMaximization.Fit(mixture, new InMemoryDataSource<double>(x, 1024, 1, weights), new ExpectationMaximizationOptions { Seed = 1, MaxIterations = 3 });
        Assert.Equal(40, result.Summary.WeightScaleExponent);
        Assert.Equal(1024.0, result.Summary.TotalWeight);
    }

    /// <summary>A source whose weights sum to zero (the in-memory sources refuse such weights themselves).</summary>
    private sealed class ZeroWeights(int points) : DataSource<double>
    {
        public override long Points => points;

        public override int Features => 1;

        public override bool HasSampleWeights => true;

        public override void Read(long start, int count, Span<double> values, int stride, Span<double> sampleWeights, Span<int> labels)
        {
            values[..count].Fill(1);
            sampleWeights[..count].Clear();
        }
    }

    [Fact]
    public void SampleWeightsSummingToZero_AreRefusedByTheDriver()
    {
        var mixture = new FiniteMixture<double>(GaussianComponents<double>.Create(CovarianceType.Diagonal, 1, 1, 1e-6));
        var e = Assert.Throws<ArgumentException>(() => ExpectationMaximization.Fit(mixture, new ZeroWeights(300)));
        Assert.Equal("sampleWeights", e.ParamName);
    }

    /// <summary>Counts the points read, to check how often a fit passes over the data.</summary>
    private sealed class CountingSource(double[] rows, int points, int features) : DataSource<double>
    {
        private long _read;

        public long PointsRead => Interlocked.Read(ref _read);

        public override long Points => points;

        public override int Features => features;

        public override void Read(long start, int count, Span<double> values, int stride, Span<double> sampleWeights, Span<int> labels)
        {
            Interlocked.Add(ref _read, count);
            for (int i = 0; i < count; i++)
            {
                for (int f = 0; f < features; f++)
                {
                    values[f * stride + i] = rows[(start + i) * features + f];
                }
            }
        }
    }

    [Fact]
    public void AStatisticsOnlyModel_PassesOverTheDataAFixedNumberOfTimes_AndCountsItsPoints()
    {
        // Factor analysis: the summary passes and one statistics pass, however many iterations and restarts.
        const int n = 3000, d = 5;
        var random = new Random(3);
        double[] x = Enumerable.Range(0, n * d).Select(i => random.NextDouble() + (i % d)).ToArray();
        foreach (int iterations in new[] { 5, 200 })
        {
            var source = new CountingSource(x, n, d);
            new FactorAnalysis<double>(new FactorAnalysisOptions { LatentDimensions = 2, MaxIterations = iterations, Tolerance = 0, Restarts = 3 }).Fit(source);
            Assert.True(source.PointsRead <= 4L * n, $"{iterations} iterations read {source.PointsRead} points ({source.PointsRead / (double)n} passes)");
        }

        var reports = new List<FitProgress>();
        new FactorAnalysis<double>(new FactorAnalysisOptions { LatentDimensions = 2, MaxIterations = 10, Tolerance = 0, Progress = new Collect(reports) }).Fit(new CountingSource(x, n, d));
        Assert.All(reports, r => Assert.Equal(n, r.PointsVisited));
    }

    private sealed class Collect(List<FitProgress> reports) : IProgress<FitProgress>
    {
        public void Report(FitProgress value) => reports.Add(value);
    }

    [Fact]
    public void Evaluate_ChecksItsOutputs_AndRestoresTheModelBitwise()
    {
        const int n = 500;
        double[] x = Enumerable.Range(0, n * 2).Select(i => 1e6 + (i % 7) * 0.25 + (i % 3)).ToArray();
        var data = new InMemoryDataSource<double>(x, n, 2);
        var mixture = new FiniteMixture<double>(GaussianComponents<double>.Create(CovarianceType.Full, 2, 2, 1e-6));
        ExpectationMaximization.Fit(mixture, data, new ExpectationMaximizationOptions { Seed = 2, MaxIterations = 5 });
        double[] before = new double[mixture.ParameterLength];
        mixture.WriteParameters(before);

        double[] scores = new double[n], atCentre = new double[n];
        int[] labels = new int[n];
        ExpectationMaximization.Evaluate(mixture, data, scores, null, labels);
        ExpectationMaximization.Evaluate(mixture, data, atCentre, null, null, centre: [1e6, 1e6]);
        double[] after = new double[mixture.ParameterLength];
        mixture.WriteParameters(after);
        Assert.Equal(before, after);
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(scores[i], atCentre[i], 1e-9 * (1 + Math.Abs(scores[i])));
        }

        Assert.Equal("pointObjectives", Assert.Throws<ArgumentException>(() => ExpectationMaximization.Evaluate(mixture, data, new double[n - 1], null, null)).ParamName);
        Assert.Equal("labels", Assert.Throws<ArgumentException>(() => ExpectationMaximization.Evaluate(mixture, data, null, null, new int[n + 1])).ParamName);
        Assert.Equal("responsibilities", Assert.Throws<ArgumentException>(() => ExpectationMaximization.Evaluate(mixture, data, null, new double[n], null)).ParamName);
        Assert.Equal("centre", Assert.Throws<ArgumentException>(() => ExpectationMaximization.Evaluate(mixture, data, scores, null, null, centre: [0.0])).ParamName);
        Assert.Equal("model", Assert.Throws<ArgumentException>(() => ExpectationMaximization.Evaluate(new FactorAnalyzer<double>(2, 1), data, null, null, labels)).ParamName);
    }

    [Fact]
    public void Cholesky_IgnoresWhatTheOutputHeldBefore_AndTheSmallHelpersStayInTheirSpans()
    {
        // A 40 × 40 matrix (two blocks of the blocked factorization) into a buffer full of NaN: the factor is exact
        // and its upper triangle zero.
        const int n = 40;
        var random = new Random(5);
        double[] b = Enumerable.Range(0, n * n).Select(_ => random.NextDouble() - 0.5).ToArray();
        double[] a = new double[n * n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                for (int k = 0; k < n; k++)
                {
                    a[i * n + j] += b[i * n + k] * b[j * n + k];
                }
            }

            a[i * n + i] += 1;
        }

        double[] lower = Enumerable.Repeat(double.NaN, n * n).ToArray();
        Assert.True(DenseMatrix.TryCholesky(a, n, lower));
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double product = 0;
                for (int k = 0; k < n; k++)
                {
                    product += lower[i * n + k] * lower[j * n + k];
                }

                Assert.Equal(a[i * n + j], product, 1e-12 * n);
                if (j > i)
                {
                    Assert.Equal(0.0, lower[i * n + j]);
                }
            }
        }

        // Exact-size spans: the helpers read and write nothing beyond n × n.
        double[] triangular = [2.0, 0.0, 0.0, 4.0];
        Assert.Equal(Math.Log(8.0), DenseMatrix.LogDiagonalSum(triangular, 2), 1e-15);
        double[] square = [1.0, 2.0, 3.0, 4.0];
        DenseMatrix.MirrorUpperToLower(square, 2);
        Assert.Equal([1.0, 2.0, 2.0, 4.0], square);
    }

    [Fact]
    public void SymmetryTolerance_IsRelativeToTheLargerEntry()
    {
        // 1e6 against 1e6·(1 + 1e-10): symmetric at a relative tolerance of 1e-9, not at 1e-11.
        double[] m = [1.0, 1e6, 1e6 * (1 + 1e-10), 1.0];
        Assert.True(DenseMatrix.IsSymmetric(m, 2, 1e-9));
        Assert.False(DenseMatrix.IsSymmetric(m, 2, 1e-11));
        Assert.False(DenseMatrix.IsSymmetric([1.0, 1.0, 1.0 + 1e-6, 1.0], 2, 1e-9));
    }
}
