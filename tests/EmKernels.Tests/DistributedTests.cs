using EmKernels.Distributed;
using EmKernels.Engine;
using EmKernels.Mixtures;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// Distributed EM on 1, 2 and 3 ranks (threads with an in-process communicator, each holding only its shard) gives
/// bitwise the parameters and objective history of one process fitting all the data — the whole fit, k-means++ and
/// Lloyd's start included — for full, diagonal, tied and spherical Gaussian mixtures, mclust's VEV, a mixture of factor
/// analyzers, Bernoulli and Poisson mixtures, and stepwise EM; a failure on one
/// rank stops every rank with an exception naming it, and no rank hangs.
/// </summary>
public sealed class DistributedTests
{
    private static double Normal(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static double[] GaussianData(int n, int d, int seed)
    {
        var random = new Random(seed);
        double[] x = new double[n * d];
        for (int i = 0; i < n; i++)
        {
            int cluster = random.Next(3);
            for (int f = 0; f < d; f++)
            {
                x[i * d + f] = 4 * cluster * (f == cluster % d ? 1 : 0.3) + (1 + f * 0.2) * Normal(random);
            }
        }

        return x;
    }

    private static double[] BinaryData(int n, int d, int seed)
    {
        var random = new Random(seed);
        double[] x = new double[n * d];
        for (int i = 0; i < n; i++)
        {
            bool first = random.Next(2) == 0;
            for (int f = 0; f < d; f++)
            {
                x[i * d + f] = random.NextDouble() < (first == (f < d / 2) ? 0.8 : 0.15) ? 1 : 0;
            }
        }

        return x;
    }

    private static readonly ExpectationMaximizationOptions Options = new() { Seed = 11, MaxIterations = 30, Tolerance = 1e-8, Restarts = 2, MaxDegreeOfParallelism = 2 };

    /// <summary>Each rank's fit on its own thread, with its own model and only its own rows.</summary>
    private static (ExpectationMaximizationResult Result, double[] Parameters)[] FitOnRanks(
        Func<IExpectationMaximizationModel<double>> create, double[] x, int n, int d, int ranks, Func<int, DataSource<double>>? shardOf = null)
    {
        InProcessCommunicator[] group = InProcessCommunicator.CreateGroup(ranks, TimeSpan.FromSeconds(60));
        var results = new (ExpectationMaximizationResult, double[])[ranks];
        Exception?[] errors = OnRanks(ranks, rank =>
        {
            (long first, long rows) = DistributedExpectationMaximization.Shard(n, ranks, rank);
            DataSource<double> shard = shardOf?.Invoke(rank) ?? new InMemoryDataSource<double>(x.AsSpan((int)first * d, (int)rows * d), (int)rows, d);
            IExpectationMaximizationModel<double> model = create();
            ExpectationMaximizationResult result = DistributedExpectationMaximization.FitShard(model, shard, n, group[rank], Options with { MaxDegreeOfParallelism = 1 });
            double[] parameters = new double[model.ParameterLength];
            model.WriteParameters(parameters);
            results[rank] = (result, parameters);
        });
        if (errors.FirstOrDefault(e => e is not null) is { } error)
        {
            throw new AggregateException(errors.Where(e => e is not null)!);
        }

        return results;
    }

    /// <summary>The body once per rank, each on its own thread; the exception of each rank (null where none).</summary>
    private static Exception?[] OnRanks(int ranks, Action<int> body)
    {
        var errors = new Exception?[ranks];
        Thread[] threads = Enumerable.Range(0, ranks).Select(rank => new Thread(() =>
        {
            try
            {
                body(rank);
            }
            catch (Exception e)
            {
                errors[rank] = e;
            }
        })).ToArray();
        foreach (Thread thread in threads)
        {
            thread.Start();
        }

        foreach (Thread thread in threads)
        {
            Assert.True(thread.Join(TimeSpan.FromSeconds(120)), "a rank hung");
        }

        return errors;
    }

    private static void AssertSameFitAsOneProcess(Func<IExpectationMaximizationModel<double>> create, double[] x, int n, int d)
    {
        IExpectationMaximizationModel<double> single = create();
        ExpectationMaximizationResult expected = ExpectationMaximization.Fit(single, new InMemoryDataSource<double>(x, n, d), Options);
        double[] parameters = new double[single.ParameterLength];
        single.WriteParameters(parameters);
        Assert.True(expected.Iterations > 3);
        foreach (int ranks in new[] { 1, 2, 3 })
        {
            foreach ((ExpectationMaximizationResult result, double[] fitted) in FitOnRanks(create, x, n, d, ranks))
            {
                Assert.Equal(expected.ObjectiveHistory, result.ObjectiveHistory);
                Assert.Equal(parameters, fitted);
                Assert.Equal(expected.Converged, result.Converged);
            }
        }
    }

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Diagonal)]
    public void GaussianMixture_OnAnyNumberOfRanks_IsBitwiseTheSingleProcessFit(CovarianceType type)
    {
        int n = 20_000, d = 3;
        double[] x = GaussianData(n, d, 4);
        AssertSameFitAsOneProcess(() => new FiniteMixture<double>(GaussianComponents<double>.Create(type, 3, d, 1e-6)), x, n, d);
    }

    [Theory]
    [InlineData("tied")]
    [InlineData("spherical")]
    [InlineData("VEV")]
    [InlineData("factor")]
    [InlineData("poisson")]
    public void OtherFamilies_OnAnyNumberOfRanks_AreBitwiseTheSingleProcessFit(string family)
    {
        int n = 6_000, d = 3;
        double[] x = GaussianData(n, d, 13);
        if (family == "poisson")
        {
            for (int i = 0; i < x.Length; i++)
            {
                x[i] = Math.Floor(Math.Abs(x[i]));
            }
        }

        Func<IExpectationMaximizationModel<double>> create = family switch
        {
            "tied" => () => new FiniteMixture<double>(GaussianComponents<double>.Create(CovarianceType.Tied, 3, d, 1e-6)),
            "spherical" => () => new FiniteMixture<double>(GaussianComponents<double>.Create(CovarianceType.Spherical, 3, d, 1e-6)),
            "VEV" => () => new FiniteMixture<double>(new ParsimoniousComponents<double>(ParsimoniousModel.VEV, 3, d)),
            "factor" => () => new FiniteMixture<double>(new EmKernels.Latent.FactorAnalyzerComponents<double>(2, d, 1)),
            _ => () => new FiniteMixture<double>(new PoissonComponents<double>(2, d, 1e-9)),
        };
        AssertSameFitAsOneProcess(create, x, n, d);
    }

    [Fact]
    public void GaussianMixture_FromRandomResponsibilities_OnAnyNumberOfRanks_IsBitwiseTheSingleProcessFit()
    {
        int n = 9_000, d = 2;
        double[] x = GaussianData(n, d, 5);
        AssertSameFitAsOneProcess(() => new FiniteMixture<double>(GaussianComponents<double>.Create(CovarianceType.Full, 3, d, 1e-6), MixtureInitialization.RandomResponsibilities), x, n, d);
    }

    [Fact]
    public void BernoulliMixture_OnAnyNumberOfRanks_IsBitwiseTheSingleProcessFit()
    {
        int n = 12_000, d = 8;
        double[] x = BinaryData(n, d, 6);
        AssertSameFitAsOneProcess(() => new FiniteMixture<double>(new BernoulliComponents<double>(2, d, 1e-9)), x, n, d);
    }

    [Theory]
    [InlineData(CovarianceType.Diagonal, 400_000, 3, 4_000)]
    [InlineData(CovarianceType.Full, 30_000, 2, 1_000)]
    public void StepwiseEm_OnAnyNumberOfRanks_IsBitwiseTheSingleProcessFit(CovarianceType type, int n, int d, int batch)
    {
        // 400,000 × 3 points fill two shuffle windows, and minibatches of 4,000 points have 4 segments to split.
        double[] x = GaussianData(n, d, 12);
        var options = new StepwiseOptions { BatchSize = batch, Epochs = 2, Seed = 4, MaxDegreeOfParallelism = 1 };
        var single = new StepwiseExpectationMaximization<double>(new FiniteMixture<double>(GaussianComponents<double>.Create(type, 3, d, 1e-6)), options);
        single.Fit(new InMemoryDataSource<double>(x, n, d));
        double[] expected = single.Statistics!.Values.ToArray();
        Assert.True(single.Steps > 10);
        foreach (int ranks in new[] { 1, 2, 3 })
        {
            InProcessCommunicator[] group = InProcessCommunicator.CreateGroup(ranks, TimeSpan.FromSeconds(60));
            var drivers = new StepwiseExpectationMaximization<double>[ranks];
            Exception?[] errors = OnRanks(ranks, rank =>
            {
                (long first, long rows) = DistributedExpectationMaximization.Shard(n, ranks, rank);
                drivers[rank] = new StepwiseExpectationMaximization<double>(new FiniteMixture<double>(GaussianComponents<double>.Create(type, 3, d, 1e-6)), options);
                DistributedExpectationMaximization.FitStepwiseShard(drivers[rank], new InMemoryDataSource<double>(x.AsSpan((int)first * d, (int)rows * d), (int)rows, d), n, group[rank]);
            });
            Assert.All(errors, e => Assert.Null(e));
            foreach (StepwiseExpectationMaximization<double> driver in drivers)
            {
                Assert.Equal(single.Steps, driver.Steps);
                Assert.Equal(expected, driver.Statistics!.Values.ToArray());
                Assert.Equal(single.EpochObjectives, driver.EpochObjectives);
            }
        }
    }

    [Fact]
    public void Shards_AreContiguousWholeSegments_CoveringEveryRow()
    {
        foreach (long n in new long[] { 1, 1000, 5000, 20_000, 1_500_000 })
        {
            foreach (int p in new[] { 1, 2, 3, 7, 40 })
            {
                long next = 0;
                for (int r = 0; r < p; r++)
                {
                    (long first, long rows) = DistributedExpectationMaximization.Shard(n, p, r);
                    Assert.Equal(next, first);
                    Assert.True(rows >= 0);
                    next = first + rows;
                }

                Assert.Equal(n, next);
            }
        }
    }

    [Fact]
    public void BadDataInOneShard_StopsEveryRank_NamingIt()
    {
        int n = 9_000, d = 2;
        double[] x = GaussianData(n, d, 7);
        (long first, _) = DistributedExpectationMaximization.Shard(n, 3, 2);
        x[(first + 10) * d + 1] = double.NaN;
        var e = Assert.Throws<AggregateException>(() => FitOnRanks(() => new FiniteMixture<double>(GaussianComponents<double>.Create(CovarianceType.Full, 2, d, 1e-6)), x, n, d, 3));
        Assert.Equal(3, e.InnerExceptions.Count);
        foreach (Exception inner in e.InnerExceptions)
        {
            var failure = Assert.IsType<DistributedFitException>(inner);
            Assert.Equal(2, failure.Rank);
            Assert.Contains("Rank 2", failure.Message);
            Assert.Contains($"{first + 10}", failure.Message); // the row, as the model's validation names it
        }
    }

    [Fact]
    public void AShardOfTheWrongSize_StopsEveryRank_NamingIt()
    {
        int n = 9_000, d = 2;
        double[] x = GaussianData(n, d, 8);
        var e = Assert.Throws<AggregateException>(() => FitOnRanks(
            () => new FiniteMixture<double>(GaussianComponents<double>.Create(CovarianceType.Diagonal, 2, d, 1e-6)), x, n, d, 2,
            rank => rank == 1 ? new InMemoryDataSource<double>(x.AsSpan(0, 100 * d), 100, d) : new InMemoryDataSource<double>(x.AsSpan(0, (int)DistributedExpectationMaximization.Shard(n, 2, 0).Rows * d), (int)DistributedExpectationMaximization.Shard(n, 2, 0).Rows, d)));
        Assert.All(e.InnerExceptions, inner => Assert.Equal(1, Assert.IsType<DistributedFitException>(inner).Rank));
    }

    [Fact]
    public void AnInitializationThatNeedsEveryPointInOrder_IsRefusedOnEveryRank()
    {
        int n = 3_000, d = 2;
        double[] x = GaussianData(n, d, 9);
        var e = Assert.Throws<AggregateException>(() => FitOnRanks(
            () => new FiniteMixture<double>(GaussianComponents<double>.Create(CovarianceType.Full, 2, d, 1e-6), MixtureInitialization.Hierarchical), x, n, d, 2));
        Assert.All(e.InnerExceptions, inner => Assert.Contains("distributed", inner.Message, StringComparison.OrdinalIgnoreCase));
    }
}
