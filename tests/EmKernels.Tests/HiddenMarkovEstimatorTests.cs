using EmKernels.Mixtures;
using EmKernels.Sequences;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// The estimator over the engine model: it recovers an HMM it is given data of (every emission kind), keeps fixed and
/// given parameters, MAP pseudo-counts pull the transitions as Dirichlet counts do, samples score like the training data,
/// and bad options are refused naming them.
/// </summary>
public sealed class HiddenMarkovEstimatorTests
{
    private static readonly double[] TrueTransitions = [0.90, 0.08, 0.02, 0.05, 0.90, 0.05, 0.10, 0.10, 0.80];

    private static (double[] X, int[] Lengths, int[] States) Draw(int sequences, int length, int seed, Func<Random, int, double[]> emit)
    {
        var random = new Random(seed);
        var x = new List<double>();
        var states = new List<int>();
        for (int s = 0; s < sequences; s++)
        {
            int state = random.Next(3);
            for (int t = 0; t < length; t++)
            {
                states.Add(state);
                x.AddRange(emit(random, state));
                double u = random.NextDouble(), cumulative = 0;
                int next = 2;
                for (int j = 0; j < 3; j++)
                {
                    cumulative += TrueTransitions[state * 3 + j];
                    if (u < cumulative)
                    {
                        next = j;
                        break;
                    }
                }

                state = next;
            }
        }

        return (x.ToArray(), Enumerable.Repeat(length, sequences).ToArray(), states.ToArray());
    }

    private static double Normal(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    /// <summary>The fitted state that explains the most observations of each true state (a permutation, checked).</summary>
    private static int[] Matching(int[] truth, int[] decoded)
    {
        int[] map = Enumerable.Range(0, 3).Select(c => Enumerable.Range(0, truth.Length).Where(i => truth[i] == c).GroupBy(i => decoded[i]).MaxBy(g => g.Count())!.Key).ToArray();
        Assert.Equal(3, map.Distinct().Count());
        return map;
    }

    [Theory]
    [InlineData(HiddenMarkovEmission.Gaussian)]
    [InlineData(HiddenMarkovEmission.Categorical)]
    [InlineData(HiddenMarkovEmission.Bernoulli)]
    [InlineData(HiddenMarkovEmission.Poisson)]
    public void DataFromAnHmm_ItsTransitionsAreRecovered(HiddenMarkovEmission emission)
    {
        double[][] centres = [[-4, 0], [4, 1], [0, 6]];
        (double[] x, int[] lengths, int[] truth) = Draw(40, 250, seed: 11, (random, state) => emission switch
        {
            HiddenMarkovEmission.Gaussian => [centres[state][0] + Normal(random), centres[state][1] + Normal(random)],
            HiddenMarkovEmission.Categorical => [random.NextDouble() < 0.8 ? state : random.Next(4), random.NextDouble() < 0.7 ? (state + 1) % 4 : random.Next(4)],
            HiddenMarkovEmission.Bernoulli => [random.NextDouble() < (state == 0 ? 0.9 : 0.1) ? 1 : 0, random.NextDouble() < (state == 1 ? 0.9 : 0.1) ? 1 : 0, random.NextDouble() < (state == 2 ? 0.9 : 0.1) ? 1 : 0],
            _ => [Poisson(random, 1 + 6 * state), Poisson(random, 12 - 5 * state)],
        });
        int d = emission == HiddenMarkovEmission.Bernoulli ? 3 : 2;
        int n = truth.Length;
        HiddenMarkovFit<double> fit = new HiddenMarkov<double>(new HiddenMarkovOptions
        {
            States = 3, Emission = emission, Categories = 4, Seed = 1, Restarts = 3, MaxIterations = 300, Tolerance = 1e-9,
        }).Fit(x, n, d, lengths);
        Assert.Empty(fit.LikelihoodDecreases);
        int[] path = fit.Decode(x, n, lengths, out double best);
        int[] map = Matching(truth, path);
        for (int i = 0; i < 3; i++)
        {
            for (int j = 0; j < 3; j++)
            {
                Assert.Equal(TrueTransitions[i * 3 + j], fit.Transitions[map[i] * 3 + map[j]], 0.03);
            }
        }

        double[] scores = fit.ScoreSamples(x, n, lengths);
        Assert.Equal(fit.MeanLogLikelihood, scores.Average(), 1e-9 * Math.Abs(fit.MeanLogLikelihood));
        Assert.True(best <= scores.Sum() + 1e-9);
        double[] posteriors = fit.PredictProbabilities(x, n, lengths);
        for (int t = 0; t < n; t += 97)
        {
            Assert.Equal(1.0, posteriors[(t * 3)..(t * 3 + 3)].Sum(), 1e-12);
        }
    }

    private static double Poisson(Random random, double rate)
    {
        double limit = Math.Exp(-rate), product = random.NextDouble();
        int count = 0;
        while (product > limit)
        {
            product *= random.NextDouble();
            count++;
        }

        return count;
    }

    [Fact]
    public void FixedAndGivenParameters_StayAsGiven_AndPseudoCountsActAsDirichletCounts()
    {
        double[][] centres = [[-4, 0], [4, 1], [0, 6]];
        (double[] x, int[] lengths, _) = Draw(10, 200, seed: 12, (random, state) => [centres[state][0] + Normal(random), centres[state][1] + Normal(random)]);
        int n = x.Length / 2;
        double[] leftRight = [0.5, 0.5, 0, 0, 0.5, 0.5, 0, 0, 1];
        HiddenMarkovFit<double> fixedFit = new HiddenMarkov<double>(new HiddenMarkovOptions
        {
            States = 3, Seed = 2, InitialTransitions = leftRight, FixTransitions = true, InitialStartProbabilities = [1, 0, 0], MaxIterations = 20,
        }).Fit(x, n, 2, lengths);
        Assert.Equal(leftRight, fixedFit.Transitions.ToArray());
        Assert.Equal(0.0, fixedFit.StartProbabilities[1]);
        Assert.Equal(0.0, fixedFit.StartProbabilities[2]);

        // Left-right structure learnt: the zeros stay exactly zero. With a pseudo-count τ per allowed entry, row i is
        // (E_ij + τ) / (R_i + τ · allowed): a huge τ pulls every allowed entry of the row to the same value.
        HiddenMarkovFit<double> map = new HiddenMarkov<double>(new HiddenMarkovOptions
        {
            States = 3, Seed = 2, InitialTransitions = leftRight, InitialStartProbabilities = [1, 0, 0], TransitionPseudoCount = 1e9, MaxIterations = 10,
        }).Fit(x, n, 2, lengths);
        Assert.Empty(map.LikelihoodDecreases);
        Assert.Equal(0.0, map.Transitions[2]);
        Assert.Equal(0.0, map.Transitions[3]);
        Assert.Equal(0.5, map.Transitions[0], 1e-4);
        Assert.Equal(0.5, map.Transitions[4], 1e-4);
        Assert.Equal(1.0, map.Transitions[8]);
    }

    [Fact]
    public void Samples_ScoreLikeTheTrainingData_AndFollowTheChain()
    {
        double[][] centres = [[-4, 0], [4, 1], [0, 6]];
        (double[] x, int[] lengths, _) = Draw(20, 300, seed: 13, (random, state) => [centres[state][0] + Normal(random), centres[state][1] + Normal(random)]);
        int n = x.Length / 2;
        HiddenMarkovFit<double> fit = new HiddenMarkov<double>(new HiddenMarkovOptions { States = 3, Seed = 3, Restarts = 2 }).Fit(x, n, 2, lengths);
        (double[] drawn, int[] states) = fit.Sample(20_000, seed: 4);
        Assert.Equal(40_000, drawn.Length);
        Assert.True(Math.Abs(fit.Score(drawn, 20_000) - fit.MeanLogLikelihood) < 0.05, $"{fit.Score(drawn, 20_000)} vs {fit.MeanLogLikelihood}");
        for (int i = 0; i < 3; i++)
        {
            int from = states.Take(states.Length - 1).Count(s => s == i);
            int stay = Enumerable.Range(0, states.Length - 1).Count(t => states[t] == i && states[t + 1] == i);
            Assert.Equal(fit.Transitions[i * 3 + i], (double)stay / from, 0.03);
        }
    }

    [Fact]
    public void BadOptions_AreRefusedNamingThem()
    {
        double[] x = new double[20];
        Assert.Equal("options.States", Assert.Throws<ArgumentOutOfRangeException>(() => new HiddenMarkov<double>(new HiddenMarkovOptions { States = 0 }).Fit(x, 10, 2)).ParamName);
        Assert.Equal("options.InitialTransitions", Assert.Throws<ArgumentException>(() => new HiddenMarkov<double>(new HiddenMarkovOptions { InitialTransitions = [0.5, 0.4, 0.5, 0.5] }).Fit(x, 10, 2)).ParamName);
        Assert.Equal("options.InitialStartProbabilities", Assert.Throws<ArgumentException>(() => new HiddenMarkov<double>(new HiddenMarkovOptions { InitialStartProbabilities = [1.5, -0.5] }).Fit(x, 10, 2)).ParamName);
        Assert.Equal("options.InitialCovariances", Assert.Throws<ArgumentException>(() => new HiddenMarkov<double>(new HiddenMarkovOptions { InitialMeans = new double[4] }).Fit(x, 10, 2)).ParamName);
        Assert.Equal("options.Categories", Assert.Throws<ArgumentOutOfRangeException>(() => new HiddenMarkov<double>(new HiddenMarkovOptions { Emission = HiddenMarkovEmission.Categorical, Categories = 1 }).Fit(x, 10, 2)).ParamName);
        Assert.Equal("lengths", Assert.Throws<ArgumentException>(() => new HiddenMarkov<double>(new HiddenMarkovOptions()).Fit(x, 10, 2, [3, 3])).ParamName);
    }
}
