using EmKernels.Engine;
using EmKernels.Mixtures;
using EmKernels.Sequences;
using EmKernels.Tests.Infrastructure;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// The hidden Markov model against a log-domain forward–backward written here from the definition (hmm/FORMAT.md §6.2)
/// and against brute force: the log-likelihood of the forward pass equals that of the backward pass, posteriors sum to
/// 1, Viterbi's path is the most likely one and its log-probability at most the log-likelihood; Baum–Welch is monotone,
/// bitwise the same for any thread count, float within 1e-4 of double; a sequence of 100,000 steps, sequences of
/// length 1, structural zeros, an unreachable state and the scaled recursion's underflow are handled.
/// </summary>
public sealed class HiddenMarkovModelTests
{
    private const int K = 3, D = 2;

    /// <summary>A diagonal-Gaussian HMM with fixed parameters (3 states, 2 features).</summary>
    private static HiddenMarkovModel<TT> Model<TT>(double[]? start = null, double[]? transitions = null)
        where TT : unmanaged, System.Numerics.IBinaryFloatingPointIeee754<TT>
    {
        var family = GaussianComponents<TT>.Create(CovarianceType.Diagonal, K, D, 0);
        new double[] { -2, 0, 1, 3, 4, -1 }.CopyTo(family.Means);
        new double[] { 1, 0.5, 0.8, 1.2, 0.6, 0.9 }.CopyTo(family.Covariances);
        var model = new HiddenMarkovModel<TT>(family, HiddenMarkovInitialization.Current);
        (start ?? [0.5, 0.3, 0.2]).CopyTo(model.StartProbabilities);
        (transitions ?? [0.8, 0.15, 0.05, 0.1, 0.7, 0.2, 0.2, 0.2, 0.6]).CopyTo(model.Transitions);
        return model;
    }

    /// <summary>Sequences drawn from <see cref="Model{TT}"/>'s parameters.</summary>
    private static double[] Draw(int[] lengths, int seed, double[]? transitions = null)
    {
        var random = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        double[] means = [-2, 0, 1, 3, 4, -1], variances = [1, 0.5, 0.8, 1.2, 0.6, 0.9];
        double[] a = transitions ?? [0.8, 0.15, 0.05, 0.1, 0.7, 0.2, 0.2, 0.2, 0.6];
        var x = new List<double>();
        foreach (int length in lengths)
        {
            int state = random.Next(K);
            for (int t = 0; t < length; t++)
            {
                for (int f = 0; f < D; f++)
                {
                    x.Add(means[state * D + f] + Math.Sqrt(variances[state * D + f]) * Normal());
                }

                double u = random.NextDouble(), cumulative = 0;
                int next = K - 1;
                for (int j = 0; j < K; j++)
                {
                    cumulative += a[state * K + j];
                    if (u < cumulative)
                    {
                        next = j;
                        break;
                    }
                }

                state = next;
            }
        }

        return x.ToArray();
    }

    private static double LogEmission(HiddenMarkovModel<double> model, double[] x, int n, int k)
    {
        var family = (GaussianComponents<double>)model.Emissions;
        double sum = 0;
        for (int f = 0; f < D; f++)
        {
            double v = family.Covariances[k * D + f], diff = x[n * D + f] - family.Means[k * D + f];
            sum += -0.5 * (Math.Log(2 * Math.PI * v) + diff * diff / v);
        }

        return sum;
    }

    private static double LogSumExp(IEnumerable<double> values)
    {
        double[] v = values.ToArray();
        double max = v.Max();
        return double.IsNegativeInfinity(max) ? max : max + Math.Log(v.Sum(e => Math.Exp(e - max)));
    }

    /// <summary>The definition's log-domain recursions for one sequence: (log p by α, log p by β, γ).</summary>
    private static (double Forward, double Backward, double[] Gamma) Reference(HiddenMarkovModel<double> model, double[] x, int offset, int length)
    {
        double[] pi = model.StartProbabilities.ToArray(), a = model.Transitions.ToArray();
        double[,] alpha = new double[length, K], beta = new double[length, K];
        for (int t = 0; t < length; t++)
        {
            for (int j = 0; j < K; j++)
            {
                double e = LogEmission(model, x, offset + t, j);
                alpha[t, j] = t == 0 ? Math.Log(pi[j]) + e : LogSumExp(Enumerable.Range(0, K).Select(i => alpha[t - 1, i] + Math.Log(a[i * K + j]))) + e;
            }
        }

        for (int t = length - 2; t >= 0; t--)
        {
            for (int i = 0; i < K; i++)
            {
                beta[t, i] = LogSumExp(Enumerable.Range(0, K).Select(j => Math.Log(a[i * K + j]) + LogEmission(model, x, offset + t + 1, j) + beta[t + 1, j]));
            }
        }

        double forward = LogSumExp(Enumerable.Range(0, K).Select(j => alpha[length - 1, j]));
        double backward = LogSumExp(Enumerable.Range(0, K).Select(j => Math.Log(pi[j]) + LogEmission(model, x, offset, j) + beta[0, j]));
        double[] gamma = new double[length * K];
        for (int t = 0; t < length; t++)
        {
            for (int j = 0; j < K; j++)
            {
                gamma[t * K + j] = Math.Exp(alpha[t, j] + beta[t, j] - forward);
            }
        }

        return (forward, backward, gamma);
    }

    [Fact]
    public void LogLikelihoodAndPosteriors_AreTheForwardBackwardOfTheDefinition()
    {
        int[] lengths = [1, 7, 1, 40, 3, 300, 2];
        double[] x = Draw(lengths, seed: 1);
        int n = lengths.Sum();
        HiddenMarkovModel<double> model = Model<double>();
        var source = new SequenceDataSource<double>(new InMemoryDataSource<double>(x, n, D), lengths);
        double[] perPoint = new double[n], posteriors = new double[n * K];
        ExpectationMaximization.Evaluate(model, source, perPoint, posteriors, null);
        int offset = 0;
        foreach (int length in lengths)
        {
            (double forward, double backward, double[] gamma) = Reference(model, x, offset, length);
            Assert.Equal(forward, backward, 1e-9 * Math.Abs(forward));
            double ours = perPoint.AsSpan(offset, length).ToArray().Sum();
            Assert.Equal(forward, ours, 1e-10 * Math.Abs(forward));
            for (int t = 0; t < length; t++)
            {
                double total = 0;
                for (int j = 0; j < K; j++)
                {
                    Assert.Equal(gamma[t * K + j], posteriors[(offset + t) * K + j], 1e-10);
                    total += posteriors[(offset + t) * K + j];
                }

                Assert.Equal(1.0, total, 1e-12);
            }

            offset += length;
        }
    }

    [Fact]
    public void Viterbi_IsTheMostLikelyPath_AndAtMostTheLikelihood()
    {
        int[] lengths = [6, 1, 5];
        double[] x = Draw(lengths, seed: 2);
        int n = lengths.Sum();
        HiddenMarkovModel<double> model = Model<double>();
        int[] path = new int[n];
        double best = model.Decode(x, n, lengths, path);
        double expected = 0;
        int offset = 0;
        foreach (int length in lengths)
        {
            // Brute force over the K^T paths.
            double top = double.NegativeInfinity;
            int[] argmax = [];
            for (int code = 0; code < (int)Math.Pow(K, length); code++)
            {
                int[] z = new int[length];
                for (int t = 0, c = code; t < length; t++, c /= K)
                {
                    z[t] = c % K;
                }

                double value = Math.Log(model.StartProbabilities[z[0]]) + LogEmission(model, x, offset, z[0]);
                for (int t = 1; t < length; t++)
                {
                    value += Math.Log(model.Transitions[z[t - 1] * K + z[t]]) + LogEmission(model, x, offset + t, z[t]);
                }

                if (value > top)
                {
                    top = value;
                    argmax = z;
                }
            }

            Assert.Equal(argmax, path.AsSpan(offset, length).ToArray());
            Assert.True(top <= Reference(model, x, offset, length).Forward + 1e-12);
            expected += top;
            offset += length;
        }

        Assert.Equal(expected, best, 1e-10 * Math.Abs(expected));
    }

    [Fact]
    public void BaumWelch_IsMonotone_AndBitwiseTheSameForAnyThreadCount()
    {
        int[] lengths = Enumerable.Range(0, 60).Select(s => 20 + (s * 37 % 90)).ToArray();
        double[] x = Draw(lengths, seed: 3);
        int n = lengths.Sum();
        double[]? first = null;
        foreach (int threads in new[] { 1, 2, 4 })
        {
            var family = GaussianComponents<double>.Create(CovarianceType.Full, K, D);
            var model = new HiddenMarkovModel<double>(family);
            var source = new SequenceDataSource<double>(new InMemoryDataSource<double>(x, n, D), lengths);
            ExpectationMaximizationResult result = ExpectationMaximization.Fit(model, source, new ExpectationMaximizationOptions { Seed = 5, MaxIterations = 30, Tolerance = 0, MaxDegreeOfParallelism = threads });
            Assert.Empty(result.Decreases);
            for (int i = 1; i < result.ObjectiveHistory.Length; i++)
            {
                Assert.True(result.ObjectiveHistory[i] >= result.ObjectiveHistory[i - 1] - 1e-12, $"iteration {i}: {result.ObjectiveHistory[i - 1]} → {result.ObjectiveHistory[i]}");
            }

            double[] parameters = new double[model.ParameterLength];
            model.WriteParameters(parameters);
            first ??= parameters;
            Assert.Equal(first, parameters); // bitwise
        }
    }

    [Fact]
    public void Float_IsWithin1e4OfDouble()
    {
        int[] lengths = [500, 300, 200];
        double[] x = Draw(lengths, seed: 4);
        int n = lengths.Sum();
        var options = new ExpectationMaximizationOptions { MaxIterations = 10, Tolerance = 0 };
        ExpectationMaximizationResult inDouble = ExpectationMaximization.Fit(Model<double>(), new SequenceDataSource<double>(new InMemoryDataSource<double>(x, n, D), lengths), options);
        ExpectationMaximizationResult inFloat = ExpectationMaximization.Fit(Model<float>(), new SequenceDataSource<float>(new InMemoryDataSource<float>(x.Select(v => (float)v).ToArray(), n, D), lengths), options);
        Assert.True(Math.Abs(inDouble.Objective - inFloat.Objective) < 1e-4, $"float {inFloat.Objective}, double {inDouble.Objective}");
    }

    [Fact]
    public void ASequenceOf100000Steps_NeitherUnderflowsNorOverflows()
    {
        int[] lengths = [100_000];
        double[] x = Draw(lengths, seed: 6);
        HiddenMarkovModel<double> model = Model<double>();
        ExpectationMaximizationResult result = ExpectationMaximization.Fit(model, new SequenceDataSource<double>(new InMemoryDataSource<double>(x, 100_000, D), lengths), new ExpectationMaximizationOptions { MaxIterations = 3, Tolerance = 0 });
        Assert.All(result.ObjectiveHistory, v => Assert.True(double.IsFinite(v) && v < 0 && v > -10, $"{v}"));
        Assert.Empty(result.Decreases);
        Assert.All(model.Transitions.ToArray(), v => Assert.True(v >= 0 && v <= 1));
    }

    [Fact]
    public void StructuralZeros_StayZero_AndAnUnreachableStateKeepsItsParameters()
    {
        // State 2 can neither start nor be entered: it never gets mass, and keeps its emissions; zeros stay exactly zero.
        double[] transitions = [0.9, 0.1, 0, 0.2, 0.8, 0, 0.5, 0.5, 0];
        int[] lengths = [50, 80, 1, 30];
        double[] x = Draw(lengths, seed: 7, transitions: [0.9, 0.1, 0, 0.2, 0.8, 0, 0.5, 0.5, 0]);
        int n = lengths.Sum();
        HiddenMarkovModel<double> model = Model<double>([0.6, 0.4, 0], transitions);
        var family = (GaussianComponents<double>)model.Emissions;
        double[] before = family.Parameters.ToArray();
        ExpectationMaximizationResult result = ExpectationMaximization.Fit(model, new SequenceDataSource<double>(new InMemoryDataSource<double>(x, n, D), lengths), new ExpectationMaximizationOptions { MaxIterations = 20, Tolerance = 0 });
        Assert.Empty(result.Decreases);
        Assert.Equal(0.0, model.StartProbabilities[2]);
        Assert.Equal(0.0, model.Transitions[2]);
        Assert.Equal(0.0, model.Transitions[5]);
        Assert.Equal(0.0, model.Transitions[8]);
        Assert.Equal(before.AsSpan(2 * D, D).ToArray(), family.Means.Slice(2 * D, D).ToArray());
        Assert.All(family.Parameters.ToArray(), v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public void WhereTheScaledRecursionUnderflows_TheLogDomainGivesTheDefinitionsValue()
    {
        // A left-to-right chain that must stay in state 0, shown observations only state 2 explains: every normalizer of
        // the scaled recursion is below 1e-290, so the model redoes the sequence in the log domain.
        double[] transitions = [1, 0, 0, 0, 1, 0, 0, 0, 1];
        HiddenMarkovModel<double> model = Model<double>([1, 0, 0], transitions);
        int length = 4;
        double[] x = Enumerable.Range(0, length).SelectMany(_ => new[] { 4.0 + 60, -1.0 }).ToArray();
        double[] perPoint = new double[length];
        double[] posteriors = new double[length * K];
        ExpectationMaximization.Evaluate(model, new SequenceDataSource<double>(new InMemoryDataSource<double>(x, length, D), [length]), perPoint, posteriors, null);
        double expected = Reference(model, x, 0, length).Forward;
        Assert.True(expected < -1000 && double.IsFinite(expected));
        Assert.Equal(expected, perPoint.Sum(), 1e-10 * Math.Abs(expected));
        for (int t = 0; t < length; t++)
        {
            Assert.Equal(1.0, posteriors[t * K], 1e-12);
        }
    }

    [Fact]
    public void BadInput_IsRefusedNamingTheArgument()
    {
        double[] x = Draw([10], seed: 8);
        var inner = new InMemoryDataSource<double>(x, 10, D);
        Assert.Equal("lengths", Assert.Throws<ArgumentException>(() => new SequenceDataSource<double>(inner, [4, 5])).ParamName);
        Assert.Equal("lengths", Assert.Throws<ArgumentException>(() => new SequenceDataSource<double>(inner, [10, 0])).ParamName);
        Assert.Equal("sampleWeights", Assert.Throws<ArgumentException>(() =>
            ExpectationMaximization.Fit(Model<double>(), new InMemoryDataSource<double>(x, 10, D, Enumerable.Repeat(1.0, 10).ToArray()), new ExpectationMaximizationOptions { MaxIterations = 1 })).ParamName);
        Assert.Equal("path", Assert.Throws<ArgumentException>(() => Model<double>().Decode(x, 10, [], new int[9])).ParamName);
        Assert.Equal("lengths", Assert.Throws<ArgumentException>(() => Model<double>().Decode(x, 10, [3, 3], new int[10])).ParamName);
    }

    [Fact]
    public void Streamed_IsBitwiseTheInMemoryFit_AndASequenceLongerThanAChunkIsRefusedClearly()
    {
        int[] lengths = Enumerable.Range(0, 40).Select(s => 5 + (s * 29 % 60)).ToArray();
        double[] x = Draw(lengths, seed: 9);
        int n = lengths.Sum();
        var options = new ExpectationMaximizationOptions { MaxIterations = 8, Tolerance = 0, MaxDegreeOfParallelism = 2 };
        HiddenMarkovModel<double> inMemory = Model<double>(), streamed = Model<double>();
        ExpectationMaximizationResult a = ExpectationMaximization.Fit(inMemory, new SequenceDataSource<double>(new InMemoryDataSource<double>(x, n, D), lengths), options);
        ExpectationMaximizationResult b = ExpectationMaximization.Fit(streamed, new SequenceDataSource<double>(new StreamedSource<double>(x, n, D, chunkPoints: 300), lengths), options);
        Assert.Equal(a.ObjectiveHistory, b.ObjectiveHistory);
        double[] pa = new double[inMemory.ParameterLength], pb = new double[streamed.ParameterLength];
        inMemory.WriteParameters(pa);
        streamed.WriteParameters(pb);
        Assert.Equal(pa, pb);

        int[] one = [n];
        var error = Assert.Throws<NotSupportedException>(() =>
            ExpectationMaximization.Fit(Model<double>(), new SequenceDataSource<double>(new StreamedSource<double>(x, n, D, chunkPoints: 300), one), options));
        Assert.Contains("longer than", error.Message);
    }

    [Fact]
    public void StepwiseEm_OverBatchesOfSequences_ReachesTheBatchFit_AndResumesBitwise()
    {
        int[] lengths = Enumerable.Range(0, 300).Select(s => 10 + (s * 13 % 50)).ToArray();
        double[] x = Draw(lengths, seed: 10);
        int n = lengths.Sum();
        var data = new SequenceDataSource<double>(new InMemoryDataSource<double>(x, n, D), lengths);
        HiddenMarkovModel<double> Fresh() => new(GaussianComponents<double>.Create(CovarianceType.Diagonal, K, D));
        HiddenMarkovModel<double> batch = Fresh();
        ExpectationMaximizationResult fit = ExpectationMaximization.Fit(batch, data, new ExpectationMaximizationOptions { Seed = 4, Restarts = 3, Tolerance = 1e-10, MaxIterations = 500 });

        var options = new StepwiseOptions { BatchSize = 600, Epochs = 12, Kappa = 0.6, Seed = 4 };
        HiddenMarkovModel<double> online = Fresh();
        var driver = new StepwiseExpectationMaximization<double>(online, options);
        driver.Fit(data);
        double[] scores = new double[n];
        ExpectationMaximization.Evaluate(online, data, scores, null, null);
        Assert.True(fit.Objective - scores.Average() < 2e-3, $"stepwise {scores.Average()}, batch {fit.Objective}");
        Assert.All(online.Transitions.ToArray(), v => Assert.True(v >= 0 && v <= 1));

        // Cancelled after 17 steps, saved, resumed on another model object: bitwise the uninterrupted fit.
        using var cancel = new CancellationTokenSource();
        HiddenMarkovModel<double> first = Fresh();
        var stopped = new StepwiseExpectationMaximization<double>(first, options with
        {
            CancellationToken = cancel.Token,
            Progress = new Callback(p =>
            {
                if (p.Iteration == 17)
                {
                    cancel.Cancel();
                }
            }),
        });
        Assert.ThrowsAny<OperationCanceledException>(() => stopped.Fit(data));
        byte[] checkpoint = stopped.SaveCheckpoint();
        HiddenMarkovModel<double> second = Fresh();
        var resumed = StepwiseExpectationMaximization<double>.Resume(second, checkpoint, options);
        resumed.Fit(data);
        Assert.Equal(driver.Steps, resumed.Steps);
        double[] a = new double[online.ParameterLength], b = new double[second.ParameterLength];
        online.WriteParameters(a);
        second.WriteParameters(b);
        Assert.Equal(a, b);
        Assert.Throws<NotSupportedException>(() => resumed.Step(data, [0, 1]));
    }

    private sealed class Callback(Action<FitProgress> action) : IProgress<FitProgress>
    {
        public void Report(FitProgress value) => action(value);
    }

    [Fact]
    public void TheLogDomainRecursion_GivesTheScaledOnesResults()
    {
        int[] lengths = [1, 30, 200, 7];
        double[] x = Draw(lengths, seed: 12);
        int n = lengths.Sum();
        var data = new SequenceDataSource<double>(new InMemoryDataSource<double>(x, n, D), lengths);
        double[] scaled = new double[n], scaledPosteriors = new double[n * K];
        ExpectationMaximization.Evaluate(Model<double>(), data, scaled, scaledPosteriors, null);
        HiddenMarkovModel<double> a = Model<double>(), b = Model<double>();
        ExpectationMaximization.Fit(a, data, new ExpectationMaximizationOptions { MaxIterations = 5, Tolerance = 0 });
        double[] logDomain = new double[n], logPosteriors = new double[n * K];
        HiddenMarkovModel<double> logModel = Model<double>();
        logModel.LogDomainOnly = true;
        b.LogDomainOnly = true;
        ExpectationMaximization.Evaluate(logModel, data, logDomain, logPosteriors, null);
        ExpectationMaximization.Fit(b, data, new ExpectationMaximizationOptions { MaxIterations = 5, Tolerance = 0 });

        for (int i = 0; i < n; i++)
        {
            Assert.Equal(scaled[i], logDomain[i], 1e-10 * (1 + Math.Abs(scaled[i])));
        }

        for (int i = 0; i < n * K; i++)
        {
            Assert.Equal(scaledPosteriors[i], logPosteriors[i], 1e-10);
        }

        double[] pa = new double[a.ParameterLength], pb = new double[b.ParameterLength];
        a.WriteParameters(pa);
        b.WriteParameters(pb);
        for (int i = 0; i < pa.Length; i++)
        {
            Assert.Equal(pa[i], pb[i], 1e-9 * (1 + Math.Abs(pa[i])));
        }
    }

    [Fact]
    public void SequencesAsArrays_AreTheConcatenationWithItsLengths()
    {
        int[] lengths = [12, 1, 40];
        double[] x = Draw(lengths, seed: 13);
        double[][] arrays = [x[..(12 * D)], x[(12 * D)..(13 * D)], x[(13 * D)..]];
        var options = new HiddenMarkovOptions { States = K, Seed = 3, MaxIterations = 10 };
        HiddenMarkovFit<double> fromArrays = new HiddenMarkov<double>(options).Fit(arrays, D);
        HiddenMarkovFit<double> fromLengths = new HiddenMarkov<double>(options).Fit(x, lengths.Sum(), D, lengths);
        Assert.Equal(fromLengths.Transitions.ToArray(), fromArrays.Transitions.ToArray());
        Assert.Equal(fromLengths.MeanLogLikelihood, fromArrays.MeanLogLikelihood);
        Assert.Equal("sequences", Assert.Throws<ArgumentException>(() => new HiddenMarkov<double>(options).Fit([x[..3]], D)).ParamName);
    }
}
