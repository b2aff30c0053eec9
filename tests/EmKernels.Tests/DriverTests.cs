using System.Numerics;
using EmKernels.Engine;
using EmKernels.Mixtures;
using EmKernels.Tests.Infrastructure;
using Xunit;
using Gen = FsCheck.Fluent.Gen;

namespace EmKernels.Tests;

public sealed class DriverTestsSingle : DriverTests<float>;

public sealed class DriverTestsDouble : DriverTests<double>;

/// <summary>
/// The drivers on every family (the built-in ones and <see cref="ExponentialComponents{T}"/>, written only
/// against the public API): batch EM over streamed data is bitwise the in-memory fit for any chunk size;
/// stepwise EM with γ = 1 on all the data is one batch step; a resumed stepwise fit is bitwise the
/// uninterrupted one; streamed stepwise fits equal in-memory ones.
/// </summary>
public abstract class DriverTests<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    [Fact]
    public void BatchEm_OverStreamedData_AnyChunkSize_IsBitwiseTheInMemoryFit() => Property.Run(Gen.Choose(0, int.MaxValue), seed =>
    {
        var random = new Random(seed);
        string family = Models.Families[random.Next(Models.Families.Length)];
        int k = random.Next(1, 5), d = Models.FeaturesOf(family, random.Next(1, 5)), n = random.Next(k, 14_000);
        int chunk = random.Next(1, 3000);
        double[] x = Models.Data(family, n, d, random);
        double[]? weights = random.Next(3) == 0 ? Enumerable.Range(0, n).Select(_ => random.Next(4) == 0 ? 0 : random.NextDouble() * 3).ToArray() : null;
        if (weights is not null && weights.Sum() == 0)
        {
            weights[0] = 1;
        }

        var initialization = (MixtureInitialization)random.Next(3);
        var streamed = new StreamedSource<T>(x, n, d, chunk, weights);
        var options = new ExpectationMaximizationOptions { MaxIterations = 4, Tolerance = 0, Restarts = random.Next(1, 3), Seed = seed, MaxDegreeOfParallelism = random.Next(1, 3) };
        FiniteMixture<T> inMemory = Models.Random<T>(family, k, d, new Random(seed));
        FiniteMixture<T> outOfCore = Models.Random<T>(family, k, d, new Random(seed));
        inMemory.Initialization = outOfCore.Initialization = initialization;
        ExpectationMaximizationResult a = ExpectationMaximization.Fit(inMemory, streamed.InMemory(), options);
        ExpectationMaximizationResult b = ExpectationMaximization.Fit(outOfCore, streamed, options with { MaxDegreeOfParallelism = random.Next(1, 3) });
        string where = $"{family}, {initialization}, K = {k}, D = {d}, N = {n}, chunk {chunk}, weights {weights is not null}";
        AssertBitwise(a.ObjectiveHistory, b.ObjectiveHistory, where + ": history");
        AssertBitwise(Parameters(inMemory), Parameters(outOfCore), where + ": parameters");
        Assert.True(streamed.LargestRead <= (chunk + 255) / 256 * 256, $"{where}: a read of {streamed.LargestRead} points");
    }, count: 40);

    [Fact]
    public void Stepwise_OneMinibatchOfAllThePoints_WithStepOne_IsOneBatchEmStep() => Property.Run(Gen.Choose(0, int.MaxValue), seed =>
    {
        // N a power of two, so that the normalisation 1/N of the minibatch statistics is exact; two segments.
        var random = new Random(seed);
        string family = Models.Families[random.Next(Models.Families.Length)];
        int k = random.Next(1, 5), d = Models.FeaturesOf(family, random.Next(1, 5)), n = 8192;
        double[] x = Models.Data(family, n, d, random);
        var data = new StreamedSource<T>(x, n, d).InMemory();
        FiniteMixture<T> batch = Models.Random<T>(family, k, d, new Random(seed));
        FiniteMixture<T> stepwise = Models.Random<T>(family, k, d, new Random(seed));
        ExpectationMaximization.Fit(batch, data, new ExpectationMaximizationOptions { MaxIterations = 1, Tolerance = 0 });
        var driver = new StepwiseExpectationMaximization<T>(stepwise, new StepwiseOptions { BatchSize = n, StepOffset = 0, Shuffle = false, EvaluateEpochs = false });
        driver.Fit(data);
        Assert.Equal(1, driver.Steps);
        AssertBitwise(Parameters(batch), Parameters(stepwise), $"{family}, K = {k}, D = {d}");
    }, count: 30);

    [Fact]
    public void Stepwise_ResumedFromACheckpoint_IsBitwiseTheFitThatNeverStopped()
    {
        var random = new Random(5);
        const int n = 6000, d = 3, k = 3;
        double[] x = Models.Data("diag", n, d, random);
        var data = new StreamedSource<T>(x, n, d).InMemory();
        var options = new StepwiseOptions { BatchSize = 250, Epochs = 3, Seed = 11 };
        FiniteMixture<T> straight = Models.Random<T>("full", k, d, new Random(1));
        var uninterrupted = new StepwiseExpectationMaximization<T>(straight, options);
        uninterrupted.Fit(data);

        // Stop in the middle of the second epoch (a cancelled fit stays at its last completed step), save, resume on another model object.
        using var cancel = new CancellationTokenSource();
        FiniteMixture<T> first = Models.Random<T>("full", k, d, new Random(1));
        var stopped = new StepwiseExpectationMaximization<T>(first, options with
        {
            CancellationToken = cancel.Token,
            Progress = new Callback(p =>
            {
                if (p.Iteration == 37)
                {
                    cancel.Cancel();
                }
            }),
        });
        Assert.ThrowsAny<OperationCanceledException>(() => stopped.Fit(data));
        Assert.Equal(37, stopped.Steps);
        byte[] checkpoint = stopped.SaveCheckpoint();

        FiniteMixture<T> second = Models.Random<T>("full", k, d, new Random(99));
        var resumed = StepwiseExpectationMaximization<T>.Resume(second, checkpoint, options);
        AssertBitwise(Parameters(first), Parameters(second), "the resumed model gets the checkpoint's parameters");
        resumed.Fit(data);
        Assert.Equal(uninterrupted.Steps, resumed.Steps);
        AssertBitwise(Parameters(straight), Parameters(second), "parameters after three epochs");
        AssertBitwise(uninterrupted.EpochObjectives.ToArray(), resumed.EpochObjectives.ToArray(), "epoch objectives");
        Assert.Throws<ArgumentException>(() => StepwiseExpectationMaximization<T>.Resume(second, checkpoint, options with { Kappa = 0.7 }));
        Assert.Throws<ArgumentException>(() => StepwiseExpectationMaximization<T>.Resume(second, checkpoint.AsSpan(0, checkpoint.Length - 3)));
        Assert.Throws<ArgumentException>(() => StepwiseExpectationMaximization<T>.Resume(Models.Random<T>("full", k + 1, d, random), checkpoint));
    }

    [Fact]
    public void Stepwise_OverStreamedData_IsBitwiseTheInMemoryFit() => Property.Run(Gen.Choose(0, int.MaxValue), seed =>
    {
        var random = new Random(seed);
        string family = Models.Families[random.Next(Models.Families.Length)];
        int k = random.Next(1, 4), d = Models.FeaturesOf(family, random.Next(1, 4)), n = random.Next(50, 9000);
        double[] x = Models.Data(family, n, d, random);
        var streamed = new StreamedSource<T>(x, n, d, random.Next(1, 2000));
        var options = new StepwiseOptions { BatchSize = random.Next(1, 700), Epochs = 2, Seed = seed, Kappa = 0.51 + 0.49 * random.NextDouble(), MaxDegreeOfParallelism = random.Next(1, 3) };
        FiniteMixture<T> a = Models.Random<T>(family, k, d, new Random(seed));
        FiniteMixture<T> b = Models.Random<T>(family, k, d, new Random(seed));
        a.Initialization = b.Initialization = (MixtureInitialization)random.Next(4);
        var inMemory = new StepwiseExpectationMaximization<T>(a, options);
        inMemory.Fit(streamed.InMemory());
        var outOfCore = new StepwiseExpectationMaximization<T>(b, options);
        outOfCore.Fit(streamed);
        AssertBitwise(Parameters(a), Parameters(b), $"{family}, N = {n}");
        AssertBitwise(inMemory.EpochObjectives.ToArray(), outOfCore.EpochObjectives.ToArray(), $"{family}, N = {n}: objectives");
    }, count: 20);

    [Fact]
    public void Stepwise_OnWellSeparatedData_ReachesTheBatchOptimumWithinFiveEpochs()
    {
        var random = new Random(2026);
        var truth = SyntheticMixture.Create(random, 4, 3, separation: 8);
        (double[] x, _) = truth.Sample(random, 100_000);
        var data = new StreamedSource<T>(x, 100_000, 3).InMemory();
        var batch = new FiniteMixture<T>(new DiagonalCovarianceComponents<T>(4, 3));
        ExpectationMaximizationResult optimum = ExpectationMaximization.Fit(batch, data, new ExpectationMaximizationOptions { MaxIterations = 500, Tolerance = 1e-10, Seed = 3 });
        var online = new FiniteMixture<T>(new DiagonalCovarianceComponents<T>(4, 3));
        var driver = new StepwiseExpectationMaximization<T>(online, new StepwiseOptions { BatchSize = 1000, Kappa = 0.6, Epochs = 5, Seed = 3 });
        driver.Fit(data);
        double best = driver.EpochObjectives.Skip(1).Max();
        double tolerance = typeof(T) == typeof(float) ? 2e-3 : 1e-3;
        Assert.True(best >= optimum.Objective - tolerance, $"stepwise reached {best} in 5 epochs; the batch optimum is {optimum.Objective} (epochs: {string.Join(", ", driver.EpochObjectives)})");
    }

    [Fact]
    public void CustomFamily_BatchEm_IsTheTextbookEmForExponentialMixtures()
    {
        // EM for a mixture of exponentials written out from the definitions, in double: r ∝ w λ e^(−λx), w = N_k / N, λ = N_k / Σ r x.
        var random = new Random(8);
        const int n = 3000;
        double[] x = Enumerable.Range(0, n).Select(i => -Math.Log(1 - random.NextDouble()) / (i % 3 == 0 ? 4.0 : 0.5)).ToArray();
        double[] w = [0.5, 0.5], rate = [1, 2];
        var family = new ExponentialComponents<T>(2);
        rate.CopyTo(family.Parameters);
        var model = new FiniteMixture<T>(family, MixtureInitialization.Current);
        model.SetWeights(w);
        ExpectationMaximizationResult result = ExpectationMaximization.Fit(model, new StreamedSource<T>(x, n, 1).InMemory(), new ExpectationMaximizationOptions { MaxIterations = 25, Tolerance = 0 });
        var history = new List<double>();
        for (int iteration = 0; iteration <= 25; iteration++)
        {
            double[] mass = new double[2], sum = new double[2];
            double logLikelihood = 0;
            foreach (double v in x)
            {
                double[] joint = [w[0] * rate[0] * Math.Exp(-rate[0] * v), w[1] * rate[1] * Math.Exp(-rate[1] * v)];
                double total = joint[0] + joint[1];
                logLikelihood += Math.Log(total);
                for (int j = 0; j < 2; j++)
                {
                    mass[j] += joint[j] / total;
                    sum[j] += joint[j] / total * v;
                }
            }

            history.Add(logLikelihood / n);
            if (iteration < 25)
            {
                for (int j = 0; j < 2; j++)
                {
                    w[j] = mass[j] / n;
                    rate[j] = mass[j] / sum[j];
                }
            }
        }

        double tolerance = typeof(T) == typeof(float) ? 1e-5 : 1e-12;
        for (int i = 0; i < history.Count; i++)
        {
            Assert.Equal(history[i], result.ObjectiveHistory[i], Math.Abs(history[i]) * tolerance);
        }

        for (int j = 0; j < 2; j++)
        {
            Assert.Equal(w[j], model.Weights[j], tolerance * 10);
            Assert.Equal(rate[j], family.Parameters[j], rate[j] * tolerance * 10);
        }

        Assert.Empty(result.Decreases);
    }

    [Fact]
    public void CustomFamily_Stepwise_ReachesTheBatchOptimum()
    {
        var random = new Random(9);
        const int n = 100_000;
        double[] x = Enumerable.Range(0, n).Select(i => -Math.Log(1 - random.NextDouble()) / (i % 4 == 0 ? 8.0 : 0.5)).ToArray();
        FiniteMixture<T> Start()
        {
            var family = new ExponentialComponents<T>(2);
            family.Parameters[0] = 1;
            family.Parameters[1] = 3;
            return new FiniteMixture<T>(family, MixtureInitialization.Current);
        }

        ExpectationMaximizationResult optimum = ExpectationMaximization.Fit(Start(), new StreamedSource<T>(x, n, 1).InMemory(), new ExpectationMaximizationOptions { MaxIterations = 2000, Tolerance = 1e-12 });
        FiniteMixture<T> online = Start();
        var driver = new StepwiseExpectationMaximization<T>(online, new StepwiseOptions { BatchSize = 1000, Epochs = 5, Seed = 1 });
        driver.Fit(new StreamedSource<T>(x, n, 1, 3000));
        double tolerance = typeof(T) == typeof(float) ? 2e-3 : 1e-3;
        Assert.True(driver.EpochObjectives[^1] >= optimum.Objective - tolerance, $"stepwise {string.Join(", ", driver.EpochObjectives)}; batch optimum {optimum.Objective}");
        var family = (ExponentialComponents<T>)online.Family;
        int fast = family.Parameters[0] > family.Parameters[1] ? 0 : 1;
        Assert.InRange(family.Parameters[fast], 5.0, 12.0);
        Assert.InRange(family.Parameters[1 - fast], 0.4, 0.6);
    }

    [Fact]
    public void SemiSupervised_EveryPointKnown_OneStepIsTheCompleteDataEstimate()
    {
        var random = new Random(4);
        const int n = 900, d = 2, k = 3;
        double[] x = Models.Data("diag", n, d, random);
        int[] labels = Enumerable.Range(0, n).Select(i => random.Next(k)).ToArray();
        var family = new DiagonalCovarianceComponents<T>(k, d, 1e-6);
        var model = new FiniteMixture<T>(family, MixtureInitialization.Current);
        ExpectationMaximization.Fit(model, new StreamedSource<T>(x, n, d, labels: labels).InMemory(), new ExpectationMaximizationOptions { MaxIterations = 1, Tolerance = 0 });
        double tolerance = typeof(T) == typeof(float) ? 1e-5 : 1e-12;
        for (int j = 0; j < k; j++)
        {
            int[] members = Enumerable.Range(0, n).Where(i => labels[i] == j).ToArray();
            Assert.Equal(members.Length / (double)n, model.Weights[j], 1e-15);
            for (int f = 0; f < d; f++)
            {
                double[] values = members.Select(i => double.CreateTruncating(T.CreateTruncating(x[i * d + f]))).ToArray();
                double mean = values.Average();
                double variance = values.Select(v => (v - mean) * (v - mean)).Average() + 1e-6;
                Assert.Equal(mean, family.Means[j * d + f], tolerance * 10 * (1 + Math.Abs(mean)));
                Assert.Equal(variance, family.Covariances[j * d + f], tolerance * 100 * variance);
            }
        }
    }

    [Fact]
    public void SemiSupervised_KnownPoints_KeepTheirComponent_AndEmStaysMonotone()
    {
        var random = new Random(12);
        const int n = 3000, d = 2, k = 3;
        double[] x = Models.Data("full", n, d, random);
        int[] labels = Enumerable.Range(0, n).Select(i => random.Next(5) == 0 ? random.Next(k) : -1).ToArray();
        var source = new StreamedSource<T>(x, n, d, labels: labels).InMemory();
        var model = new FiniteMixture<T>(new FullCovarianceComponents<T>(k, d));
        ExpectationMaximizationResult result = ExpectationMaximization.Fit(model, source, new ExpectationMaximizationOptions { MaxIterations = 40, Tolerance = 0, Seed = 2 });
        Assert.Empty(result.Decreases);
        T[] responsibilities = new T[n * k];
        ExpectationMaximization.Evaluate(model, new StreamedSource<T>(x, n, d, labels: labels), null, responsibilities, null);
        for (int i = 0; i < n; i++)
        {
            if (labels[i] >= 0)
            {
                for (int j = 0; j < k; j++)
                {
                    Assert.Equal(j == labels[i] ? T.One : T.Zero, responsibilities[i * k + j]);
                }
            }
        }

        Assert.Throws<ArgumentException>(() => ExpectationMaximization.Fit(model, new StreamedSource<T>(x, n, d, labels: [.. labels[..^1], k]), new ExpectationMaximizationOptions()));
    }

    [Fact]
    public void Estimators_TakeKnownComponents()
    {
        var random = new Random(14);
        const int n = 600, d = 2, k = 2;
        double[] x = Models.Data("diag", n, d, random);
        int[] labels = Enumerable.Range(0, n).Select(i => i % 3 == 0 ? 1 : 0).ToArray();
        T[] data = x.Select(T.CreateTruncating).ToArray();
        var options = new GaussianMixtureOptions { Components = k, CovarianceType = CovarianceType.Diagonal, MaxIterations = 1, Tolerance = 0, Seed = 1 };
        GaussianMixtureModel<T> model = new GaussianMixture<T>(options).Fit(data, n, d, knownComponents: labels);
        for (int j = 0; j < k; j++)
        {
            for (int f = 0; f < d; f++)
            {
                double mean = Enumerable.Range(0, n).Where(i => labels[i] == j).Average(i => double.CreateTruncating(data[i * d + f]));
                Assert.Equal(mean, model.Means[j * d + f], typeof(T) == typeof(float) ? 1e-4 : 1e-10);
            }
        }

        var bernoulli = new BernoulliMixture<T>(new DiscreteMixtureOptions { Components = 2, MaxIterations = 1, Tolerance = 0, Seed = 1 });
        T[] bits = Enumerable.Range(0, n * 3).Select(i => T.CreateTruncating(random.Next(2))).ToArray();
        DiscreteMixtureModel<T> fitted = bernoulli.Fit(bits, n, 3, knownComponents: labels);
        double ones = Enumerable.Range(0, n).Where(i => labels[i] == 1).Average(i => double.CreateTruncating(bits[i * 3]));
        Assert.Equal(ones, fitted.Parameters[3], 1e-6);
        Assert.Throws<ArgumentException>(() => bernoulli.Fit(bits, n, 3, knownComponents: labels.AsSpan(1)));
    }

    [Fact]
    public void Cancellation_ThrowsPromptly_AndLeavesTheModelInTheUsersCoordinates()
    {
        var random = new Random(6);
        const int n = 40_000, d = 3;
        double[] x = Models.Data("diag", n, d, random).Select(v => v + 1e5).ToArray();
        using var cancel = new CancellationTokenSource();
        var model = new FiniteMixture<T>(new DiagonalCovarianceComponents<T>(3, d));
        int reports = 0;
        var options = new ExpectationMaximizationOptions
        {
            MaxIterations = 1000,
            Tolerance = 0,
            CancellationToken = cancel.Token,
            Progress = new Callback(p =>
            {
                reports++;
                if (p.Iteration == 3)
                {
                    cancel.Cancel();
                }
            }),
        };
        Assert.ThrowsAny<OperationCanceledException>(() => ExpectationMaximization.Fit(model, new StreamedSource<T>(x, n, d, 1000), options));
        Assert.Equal(3, reports);
        var family = (GaussianComponents<T>)model.Family;
        Assert.All(family.Means.ToArray(), m => Assert.InRange(m, 1e5 - 100, 1e5 + 100));

        var estimator = new GaussianMixture<T>(new GaussianMixtureOptions { Components = 2, CancellationToken = new CancellationToken(canceled: true) });
        Assert.ThrowsAny<OperationCanceledException>(() => estimator.Fit(x.Select(T.CreateTruncating).ToArray(), n, d));
    }

    [Fact]
    public void Evaluation_IsTheSameForAnyThreadCount()
    {
        var random = new Random(3);
        const int n = 50_000, d = 4, k = 5;
        double[] x = Models.Data("full", n, d, random);
        FiniteMixture<T> model = Models.Random<T>("full", k, d, random);
        double[] one = new double[n], two = new double[n];
        T[] r1 = new T[n * k], r2 = new T[n * k];
        int[] l1 = new int[n], l2 = new int[n];
        ExpectationMaximization.Evaluate(model, new StreamedSource<T>(x, n, d).InMemory(), one, r1, l1, maxDegreeOfParallelism: 1);
        ExpectationMaximization.Evaluate(model, new StreamedSource<T>(x, n, d, 777), two, r2, l2, maxDegreeOfParallelism: 2);
        AssertBitwise(one, two, "scores");
        Assert.Equal(r1, r2);
        Assert.Equal(l1, l2);
    }

    private static double[] Parameters(IExpectationMaximizationModel<T> model)
    {
        double[] values = new double[model.ParameterLength];
        model.WriteParameters(values);
        return values;
    }

    private static void AssertBitwise(double[] expected, double[] actual, string where)
    {
        Assert.True(expected.Length == actual.Length, $"{where}: {actual.Length} values, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(
                BitConverter.DoubleToInt64Bits(expected[i]) == BitConverter.DoubleToInt64Bits(actual[i]),
                $"{where}: element {i} is {actual[i]:R}, expected {expected[i]:R}");
        }
    }

    private sealed class Callback(Action<FitProgress> action) : IProgress<FitProgress>
    {
        public void Report(FitProgress value) => action(value);
    }
}
