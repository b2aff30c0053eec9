using EmKernels.Latent;
using EmKernels.Numerics;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// Mixtures of regressions and of experts (the latent/ fixtures check the iterations against flexmix's model and the
/// reference's Newton step): one expert is ordinary least squares; lines drawn from three regressions are recovered;
/// the log-likelihood never decreases; a weight of 3 is three copies; float is close to double; fits are bitwise
/// identical for any thread count; the gate of a mixture of experts learns a split in x; bad input names the argument.
/// </summary>
public sealed class RegressionMixtureTests
{
    /// <summary>N points on K lines y = a_k + b_k x + noise, x uniform in [−3, 3]; with <paramref name="split"/> the line is chosen by x's sign (K = 2).</summary>
    private static (double[] X, double[] Y, int[] Line) Lines(int n, double[] intercepts, double[] slopes, double noise, int seed, bool split = false)
    {
        var random = new Random(seed);
        double[] x = new double[n], y = new double[n];
        int[] line = new int[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = (random.NextDouble() * 6) - 3;
            line[i] = split ? (x[i] < 0 ? 0 : 1) : i % intercepts.Length;
            y[i] = intercepts[line[i]] + (slopes[line[i]] * x[i]) + (noise * StandardNormal.Next(random));
        }

        return (x, y, line);
    }

    [Fact]
    public void OneExpert_IsOrdinaryLeastSquares()
    {
        const int n = 500;
        (double[] x, double[] y, _) = Lines(n, [1], [2], 0.5, seed: 3);
        RegressionMixtureModel<double> fit = new MixtureOfRegressions<double>(new RegressionMixtureOptions { Components = 1, Seed = 1 }).Fit(x, y, n, 1);
        double sx = x.Sum(), sy = y.Sum(), sxx = x.Sum(v => v * v), sxy = x.Zip(y, (a, b) => a * b).Sum();
        double slope = ((n * sxy) - (sx * sy)) / ((n * sxx) - (sx * sx)), intercept = (sy - (slope * sx)) / n;
        double rss = x.Zip(y, (a, b) => Math.Pow(b - intercept - (slope * a), 2)).Sum();
        Assert.Equal(intercept, fit.Coefficients[0], 1e-10);
        Assert.Equal(slope, fit.Coefficients[1], 1e-10);
        Assert.Equal(rss / n, fit.Variances[0], 1e-10);
        Assert.Equal(1.0, fit.Gate[0]);
        Assert.Equal((-0.5 * Math.Log(2 * Math.PI * rss / n)) - 0.5, fit.MeanLogLikelihood, 1e-10);
    }

    [Fact]
    public void ThreeLines_AreRecovered_AndTheLikelihoodNeverDecreases()
    {
        const int n = 3000;
        double[] intercepts = [0, 5, -5], slopes = [1, -2, 3];
        (double[] x, double[] y, _) = Lines(n, intercepts, slopes, 0.3, seed: 7);
        RegressionMixtureModel<double> fit = new MixtureOfRegressions<double>(new RegressionMixtureOptions { Components = 3, Seed = 2, Restarts = 5 }).Fit(x, y, n, 1);
        Assert.Empty(fit.LikelihoodDecreases);
        for (int t = 1; t < fit.MeanLogLikelihoodHistory.Length; t++)
        {
            Assert.True(fit.MeanLogLikelihoodHistory[t] >= fit.MeanLogLikelihoodHistory[t - 1] - 1e-12);
        }

        for (int k = 0; k < 3; k++)
        {
            int j = Enumerable.Range(0, 3).MinBy(c => Math.Abs(fit.Coefficients[c * 2] - intercepts[k]) + Math.Abs(fit.Coefficients[c * 2 + 1] - slopes[k]));
            Assert.Equal(intercepts[k], fit.Coefficients[j * 2], 0.05);
            Assert.Equal(slopes[k], fit.Coefficients[j * 2 + 1], 0.05);
            Assert.Equal(0.09, fit.Variances[j], 0.015);
            Assert.Equal(1.0 / 3, fit.Gate[j], 0.03);
        }

        // Labels as the true model's (equal weights, σ = 0.3) Bayes classifier gives them, up to near-ties where lines cross.
        int[] labels = new int[n];
        fit.Evaluate(x, y, n, null, null, labels);
        int[] match = Enumerable.Range(0, 3).Select(k => Enumerable.Range(0, 3).MinBy(c => Math.Abs(fit.Coefficients[c * 2] - intercepts[k]) + Math.Abs(fit.Coefficients[c * 2 + 1] - slopes[k]))).ToArray();
        int agree = Enumerable.Range(0, n).Count(i => labels[i] == match[Enumerable.Range(0, 3).MinBy(k => Math.Abs(y[i] - intercepts[k] - (slopes[k] * x[i])))]);
        Assert.True(agree > 0.99 * n, $"{agree} of {n} points labelled as the true lines' Bayes classifier labels them");
    }

    [Fact]
    public void TheGate_LearnsASplitInX()
    {
        const int n = 2000;
        (double[] x, double[] y, _) = Lines(n, [2, -2], [1, -1], 0.2, seed: 11, split: true);
        RegressionMixtureModel<double> fit = new MixtureOfExperts<double>(new RegressionMixtureOptions { Components = 2, Seed = 3, Restarts = 3 }).Fit(x, y, n, 1);
        Assert.Empty(fit.LikelihoodDecreases);
        double[] probe = [-2, 2];
        double[] gates = fit.GateProbabilities(probe, 2);
        int left = gates[0] > gates[1] ? 0 : 1;
        Assert.True(gates[left] > 0.95 && gates[2 + (1 - left)] > 0.95, $"gates at −2: {gates[0]}, {gates[1]}; at 2: {gates[2]}, {gates[3]}");
        Assert.Equal(2.0, fit.Coefficients[left * 2], 0.05);
        Assert.Equal(1.0, fit.Coefficients[left * 2 + 1], 0.05);
        double[] mean = fit.Predict(probe, 2);
        Assert.Equal(0.0, mean[0], 0.15); // 2 + 1·(−2)
        Assert.Equal(-4.0, mean[1], 0.15); // −2 − 1·2
        Assert.Equal(0.0, fit.Gate[2]);
        Assert.Equal(0.0, fit.Gate[3]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AWeightOfThree_IsThreeCopies(bool experts)
    {
        const int n = 200;
        (double[] x, double[] y, _) = Lines(n, [1, -1], [2, -2], 0.4, seed: 5);
        var options = new RegressionMixtureOptions
        {
            Components = 2, Tolerance = 0, MaxIterations = 25,
            InitialGate = experts ? [0.1, 0.3, 0, 0] : [0.5, 0.5], InitialCoefficients = [0.5, 1, -0.5, -1], InitialVariances = [1, 1],
        };
        RegressionMixtureModel<double> Fit(double[] xs, double[] ys, int count, double[] weights) => experts
            ? new MixtureOfExperts<double>(options).Fit(xs, ys, count, 1, weights)
            : new MixtureOfRegressions<double>(options).Fit(xs, ys, count, 1, weights);
        RegressionMixtureModel<double> copies = Fit([.. x, .. x, .. x], [.. y, .. y, .. y], 3 * n, []);
        RegressionMixtureModel<double> weighted = Fit(x, y, n, Enumerable.Repeat(3.0, n).ToArray());
        Assert.Equal(copies.MeanLogLikelihood, weighted.MeanLogLikelihood, 1e-10);
        for (int i = 0; i < copies.Coefficients.Length; i++)
        {
            Assert.Equal(copies.Coefficients[i], weighted.Coefficients[i], 1e-9);
        }

        for (int i = 0; i < copies.Gate.Length; i++)
        {
            Assert.Equal(copies.Gate[i], weighted.Gate[i], 1e-9);
        }
    }

    [Fact]
    public void Float_IsCloseToDouble_AndThreadsDoNotChangeTheFit()
    {
        const int n = 30000;
        (double[] x, double[] y, _) = Lines(n, [0, 4], [1, -1], 0.5, seed: 9);
        var options = new RegressionMixtureOptions { Components = 2, Seed = 4, Tolerance = 0, MaxIterations = 30 };
        RegressionMixtureModel<double> one = new MixtureOfRegressions<double>(options with { MaxDegreeOfParallelism = 1 }).Fit(x, y, n, 1);
        RegressionMixtureModel<double> three = new MixtureOfRegressions<double>(options with { MaxDegreeOfParallelism = 3 }).Fit(x, y, n, 1);
        Assert.Equal(one.MeanLogLikelihoodHistory.ToArray(), three.MeanLogLikelihoodHistory.ToArray());
        Assert.Equal(one.Coefficients.ToArray(), three.Coefficients.ToArray());
        RegressionMixtureModel<float> single = new MixtureOfRegressions<float>(options).Fit(x.Select(v => (float)v).ToArray(), y.Select(v => (float)v).ToArray(), n, 1);
        Assert.Equal(one.MeanLogLikelihood, single.MeanLogLikelihood, 1e-4 * Math.Abs(one.MeanLogLikelihood));
        for (int i = 0; i < one.Coefficients.Length; i++)
        {
            Assert.Equal(one.Coefficients[i], single.Coefficients[i], 1e-3);
        }
    }

    [Fact]
    public void BadInput_IsRefusedNamingTheArgument()
    {
        double[] x = [1, 2, 3, 4], y = [1, 2, 3, 4];
        var options = new RegressionMixtureOptions { Components = 2 };
        Assert.Equal("responses", Assert.Throws<ArgumentException>(() => new MixtureOfRegressions<double>(options).Fit(x, [1, 2, 3], 4, 1)).ParamName);
        Assert.Equal("regressors", Assert.Throws<ArgumentException>(() => new MixtureOfRegressions<double>(options).Fit(x, y, 2, 1)).ParamName);
        Assert.Equal("data", Assert.Throws<ArgumentException>(() => new MixtureOfRegressions<double>(options).Fit([1, double.NaN, 3, 4], y, 4, 1)).ParamName);
        Assert.Equal("options", Assert.Throws<ArgumentException>(() => new MixtureOfRegressions<double>(options with { InitialGate = [0.5, 0.5] })).ParamName);
        var given = options with { InitialGate = [0.5, 0.5], InitialCoefficients = [0, 1, 0, 1], InitialVariances = [1, -1] };
        Assert.Equal("options.InitialVariances", Assert.Throws<ArgumentException>(() => new MixtureOfRegressions<double>(given).Fit(x, y, 4, 1)).ParamName);
        Assert.Equal("options.InitialGate", Assert.Throws<ArgumentException>(() => new MixtureOfExperts<double>(given with { InitialGate = [1, 1, 1, 1], InitialVariances = [1, 1] }).Fit(x, y, 4, 1)).ParamName);
    }
}
