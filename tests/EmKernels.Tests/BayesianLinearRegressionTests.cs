using EmKernels.Latent;
using EmKernels.Tests.Infrastructure;
using Xunit;

namespace EmKernels.Tests;

/// <summary>
/// Bayesian linear regression by EM against the mathematics: the evidence fixed point at convergence (PRML 3.92, 3.95),
/// the evidence and the predictive distribution written out directly, monotone EM, weights as copies, float against
/// double. The fixtures (latent/) are run by <see cref="FixtureParityTests"/>.
/// </summary>
public sealed class BayesianLinearRegressionTests
{
    /// <summary>y = 1.5 + Σ_j c_j x_j + noise with P regressors.</summary>
    private static (double[] X, double[] Y) Synthetic(int n, int p, int seed, double noise = 0.5)
    {
        var random = new Random(seed);
        double[] x = new double[n * p], y = new double[n];
        for (int i = 0; i < n; i++)
        {
            double value = 1.5;
            for (int j = 0; j < p; j++)
            {
                x[i * p + j] = random.NextDouble() * 4 - 2;
                value += (j % 2 == 0 ? 0.8 : -0.3) * x[i * p + j];
            }

            y[i] = value + noise * (random.NextDouble() + random.NextDouble() + random.NextDouble() - 1.5) * 2;
        }

        return (x, y);
    }

    /// <summary>Φ with a leading column of ones.</summary>
    private static double[] Design(double[] x, int n, int p)
    {
        double[] phi = new double[n * (p + 1)];
        for (int i = 0; i < n; i++)
        {
            phi[i * (p + 1)] = 1;
            Array.Copy(x, i * p, phi, i * (p + 1) + 1, p);
        }

        return phi;
    }

    /// <summary>The posterior and the log evidence per point written out from Φ and y (PRML 3.53–3.54, 3.86).</summary>
    private static (double[] Mean, double[] Covariance, double Evidence) Direct(double[] phi, double[] y, int n, int m, double alpha, double beta)
    {
        double[] a = new double[m * m];
        for (int i = 0; i < m; i++)
        {
            a[i * m + i] = alpha;
            for (int j = 0; j < m; j++)
            {
                for (int r = 0; r < n; r++)
                {
                    a[i * m + j] += beta * phi[r * m + i] * phi[r * m + j];
                }
            }
        }

        (double[] s, double logDeterminant) = DenseReference.Invert(a, m);
        double[] mean = new double[m];
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < m; j++)
            {
                for (int r = 0; r < n; r++)
                {
                    mean[i] += beta * s[i * m + j] * phi[r * m + j] * y[r];
                }
            }
        }

        double residual = 0;
        for (int r = 0; r < n; r++)
        {
            double fitted = 0;
            for (int j = 0; j < m; j++)
            {
                fitted += phi[r * m + j] * mean[j];
            }

            residual += (y[r] - fitted) * (y[r] - fitted);
        }

        double evidence = 0.5 * m * Math.Log(alpha) + 0.5 * n * Math.Log(beta) - 0.5 * beta * residual - 0.5 * alpha * mean.Sum(v => v * v)
            - 0.5 * logDeterminant - 0.5 * n * Math.Log(2 * Math.PI);
        return (mean, s, evidence / n);
    }

    [Fact]
    public void Converged_IsTheEvidenceFixedPoint()
    {
        const int n = 200, p = 4;
        (double[] x, double[] y) = Synthetic(n, p, seed: 1);
        var model = new BayesianLinearRegression<double>(new BayesianLinearRegressionOptions { Tolerance = 0, MaxIterations = 5000 }).Fit(x, y, n, p);
        double[] phi = Design(x, n, p);
        int m = p + 1;

        // γ = Σ_i βλ_i / (α + βλ_i) over the eigenvalues λ of ΦᵀΦ; α = γ / mᵀm; β = (N − γ) / ‖y − Φm‖².
        double[] gram = new double[m * m];
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < m; j++)
            {
                for (int r = 0; r < n; r++)
                {
                    gram[i * m + j] += phi[r * m + i] * phi[r * m + j];
                }
            }
        }

        (double[] eigenvalues, _) = DenseReference.Eigen(gram, m);
        double alpha = model.Alpha, beta = model.Beta;
        double gamma = eigenvalues.Sum(l => beta * l / (alpha + beta * l));
        (double[] mean, double[] covariance, double evidence) = Direct(phi, y, n, m, alpha, beta);
        double residual = 0;
        for (int r = 0; r < n; r++)
        {
            double fitted = 0;
            for (int j = 0; j < m; j++)
            {
                fitted += phi[r * m + j] * mean[j];
            }

            residual += (y[r] - fitted) * (y[r] - fitted);
        }

        Assert.Equal(gamma / mean.Sum(v => v * v), alpha, 1e-7 * alpha);
        Assert.Equal((n - gamma) / residual, beta, 1e-7 * beta);
        Assert.Equal(evidence, model.LogEvidence, 1e-11 * Math.Abs(evidence));
        for (int i = 0; i < m; i++)
        {
            Assert.Equal(mean[i], model.Coefficients[i], 1e-10 * (1 + Math.Abs(mean[i])));
            Assert.Equal(covariance[i * m + i], model.CoefficientCovariance[i * m + i], 1e-10 * covariance[i * m + i]);
        }

        Assert.True(model.Converged || model.Iterations == 5000);
    }

    [Theory]
    [InlineData(true, 3, 1)]
    [InlineData(false, 5, 2)]
    [InlineData(true, 0, 3)]
    public void Evidence_NeverDecreases_AndMatchesTheDirectFormula(bool intercept, int p, int seed)
    {
        const int n = 60;
        (double[] x, double[] y) = Synthetic(n, Math.Max(p, 1), seed, noise: 2);
        if (p == 0)
        {
            x = [];
        }

        var model = new BayesianLinearRegression<double>(new BayesianLinearRegressionOptions { Intercept = intercept, Tolerance = 0, MaxIterations = 100 }).Fit(x, y, n, p);
        Assert.Empty(model.LikelihoodDecreases);
        ReadOnlySpan<double> history = model.LogEvidenceHistory;
        for (int i = 1; i < history.Length; i++)
        {
            Assert.True(history[i] >= history[i - 1] - 1e-13 * Math.Abs(history[i - 1]), $"evidence fell at {i}: {history[i - 1]} → {history[i]}");
        }

        double[] phi = intercept ? Design(x, n, p) : x;
        int m = p + (intercept ? 1 : 0);
        (_, _, double evidence) = Direct(phi, y, n, m, model.Alpha, model.Beta);
        Assert.Equal(evidence, model.LogEvidence, 1e-11 * Math.Abs(evidence));
    }

    [Fact]
    public void Predict_IsThePredictiveDistribution()
    {
        const int n = 100, p = 2;
        (double[] x, double[] y) = Synthetic(n, p, seed: 4);
        var model = new BayesianLinearRegression<double>(new BayesianLinearRegressionOptions()).Fit(x, y, n, p);
        double[] at = [0.5, -1, 3, 2];
        (double[] mean, double[] deviation) = model.Predict(at, 2);
        double[] s = model.CoefficientCovariance.ToArray();
        for (int r = 0; r < 2; r++)
        {
            double[] phi = [1, at[r * 2], at[r * 2 + 1]];
            double expected = 0, variance = 1 / model.Beta;
            for (int i = 0; i < 3; i++)
            {
                expected += phi[i] * model.Coefficients[i];
                for (int j = 0; j < 3; j++)
                {
                    variance += phi[i] * s[i * 3 + j] * phi[j];
                }
            }

            Assert.Equal(expected, mean[r], 1e-12);
            Assert.Equal(Math.Sqrt(variance), deviation[r], 1e-12);
        }
    }

    [Fact]
    public void AWeightOfTwo_IsTwoCopiesOfThePoint()
    {
        const int n = 40, p = 2;
        (double[] x, double[] y) = Synthetic(n, p, seed: 5);
        double[] weights = Enumerable.Range(0, n).Select(i => i < 10 ? 2.0 : 1.0).ToArray();
        var options = new BayesianLinearRegressionOptions { Tolerance = 0, MaxIterations = 50 };
        var weighted = new BayesianLinearRegression<double>(options).Fit(x, y, n, p, weights);
        double[] x2 = [.. x, .. x.AsSpan(0, 10 * p)];
        double[] y2 = [.. y, .. y.AsSpan(0, 10)];
        var copied = new BayesianLinearRegression<double>(options).Fit(x2, y2, n + 10, p);
        Assert.Equal(copied.Alpha, weighted.Alpha, 1e-10 * copied.Alpha);
        Assert.Equal(copied.Beta, weighted.Beta, 1e-10 * copied.Beta);
        Assert.Equal(copied.LogEvidence, weighted.LogEvidence, 1e-10 * Math.Abs(copied.LogEvidence));
    }

    [Fact]
    public void Float_IsCloseToDouble()
    {
        const int n = 1000, p = 5;
        (double[] x, double[] y) = Synthetic(n, p, seed: 6);
        var options = new BayesianLinearRegressionOptions { Tolerance = 0, MaxIterations = 100 };
        var inDouble = new BayesianLinearRegression<double>(options).Fit(x, y, n, p);
        var inFloat = new BayesianLinearRegression<float>(options).Fit(x.Select(v => (float)v).ToArray(), y.Select(v => (float)v).ToArray(), n, p);
        Assert.True(Math.Abs(inDouble.LogEvidence - inFloat.LogEvidence) < 1e-4, $"float {inFloat.LogEvidence}, double {inDouble.LogEvidence}");
        Assert.Equal(inDouble.Alpha, inFloat.Alpha, 1e-3 * inDouble.Alpha);
    }

    [Theory]
    [InlineData(1e200)]
    [InlineData(1e-200)]
    public void DataWhosePrecisionDoubleCannotHold_AreRefusedClearly(double scale)
    {
        // β is 1 / the noise variance in the data's units: about 1e-400 or 1e400 here, beyond double. A clear
        // ArgumentException with the way out, never NaN or an internal error.
        (double[] x, double[] y) = Synthetic(50, 2, seed: 8);
        var e = Assert.Throws<ArgumentException>(() => new BayesianLinearRegression<double>(new BayesianLinearRegressionOptions())
            .Fit(x.Select(v => v * scale).ToArray(), y.Select(v => v * scale).ToArray(), 50, 2));
        Assert.Equal("data", e.ParamName);
        Assert.Contains("rescale", e.Message);
    }

    [Fact]
    public void InvalidInput_IsRefusedNamingTheArgument()
    {
        (double[] x, double[] y) = Synthetic(20, 2, seed: 7);
        var estimator = new BayesianLinearRegression<double>(new BayesianLinearRegressionOptions());
        Assert.Equal("regressors", Assert.Throws<ArgumentException>(() => estimator.Fit(x.AsSpan(1), y, 20, 2)).ParamName);
        Assert.Equal("targets", Assert.Throws<ArgumentException>(() => estimator.Fit(x, y.AsSpan(1), 20, 2)).ParamName);
        double[] bad = (double[])y.Clone();
        bad[3] = double.PositiveInfinity;
        var e = Assert.Throws<ArgumentException>(() => estimator.Fit(x, bad, 20, 2));
        Assert.Equal("data", e.ParamName);
        Assert.Contains("row 3, column 2", e.Message);
        Assert.Equal("options.InitialAlpha", Assert.Throws<ArgumentOutOfRangeException>(() =>
            new BayesianLinearRegression<double>(new BayesianLinearRegressionOptions { InitialAlpha = -1 }).Fit(x, y, 20, 2)).ParamName);
        Assert.Throws<ArgumentException>(() => new BayesianLinearRegression<double>(new BayesianLinearRegressionOptions { Intercept = false }).Fit([], y, 20, 0));
    }
}
