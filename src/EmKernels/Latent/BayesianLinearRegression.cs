using System.Numerics;
using EmKernels.Engine;
using EmKernels.Mixtures;

namespace EmKernels.Latent;

/// <summary>Options of <see cref="BayesianLinearRegression{T}"/>.</summary>
public sealed record BayesianLinearRegressionOptions
{
    /// <summary>Whether Φ gets a leading column of ones: an intercept whose weight has the same prior as the others (penalized; y is not centred).</summary>
    public bool Intercept { get; init; } = true;

    /// <summary>Maximum number of EM iterations (≥ 0).</summary>
    public int MaxIterations { get; init; } = 1000;

    /// <summary>EM stops when the log evidence per point changes by less than this (≥ 0; 0 runs every iteration).</summary>
    public double Tolerance { get; init; } = 1e-10;

    /// <summary>α₀, the starting prior precision of the weights; null for 1.</summary>
    public double? InitialAlpha { get; init; }

    /// <summary>β₀, the starting noise precision; null for 1 / Var(y).</summary>
    public double? InitialBeta { get; init; }

    /// <summary>Maximum number of threads of the data pass; null uses every core. Results do not depend on it.</summary>
    public int? MaxDegreeOfParallelism { get; init; }

    /// <summary>Receives one report per EM iteration.</summary>
    public IProgress<FitProgress>? Progress { get; init; }

    /// <summary>Cancels the fit.</summary>
    public CancellationToken CancellationToken { get; init; }
}

/// <summary>
/// Fits Bayesian linear regression by EM on its hyperparameters (<see cref="BayesianLinearRegressor{T}"/>): one
/// parallel pass over the data for ΦᵀΦ, Φᵀy and yᵀy, then iterations of O(M³), with the engine's batch driver.
/// </summary>
/// <typeparam name="T">float or double: the type the data are held in.</typeparam>
public sealed class BayesianLinearRegression<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Creates the estimator.</summary>
    /// <param name="options">Options.</param>
    public BayesianLinearRegression(BayesianLinearRegressionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
    }

    /// <summary>The options.</summary>
    public BayesianLinearRegressionOptions Options { get; }

    /// <summary>Fits targets y to row-major regressors x (regressor j of point n at <c>regressors[n·P + j]</c>).</summary>
    /// <param name="regressors">N × P finite values (P may be 0 with an intercept).</param>
    /// <param name="targets">N finite values.</param>
    /// <param name="points">N ≥ 1.</param>
    /// <param name="regressorCount">P.</param>
    /// <param name="sampleWeights">Empty, or N non-negative weights (not all zero).</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">A length, value or option is invalid; the message says which.</exception>
    public BayesianLinearRegressionModel<T> Fit(ReadOnlySpan<T> regressors, ReadOnlySpan<T> targets, int points, int regressorCount, ReadOnlySpan<T> sampleWeights = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(points, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(regressorCount);
        if ((long)points * regressorCount != regressors.Length)
        {
            throw new ArgumentException($"Expected {points} × {regressorCount} values, got {regressors.Length}.", nameof(regressors));
        }

        if (targets.Length != points)
        {
            throw new ArgumentException($"Expected {points} values, got {targets.Length}.", nameof(targets));
        }

        var data = new FeatureMajorMatrix<T>(points, regressorCount + 1);
        for (int j = 0; j < regressorCount; j++)
        {
            Span<T> feature = data.Feature(j);
            for (int n = 0; n < points; n++)
            {
                feature[n] = regressors[n * regressorCount + j];
            }
        }

        targets.CopyTo(data.Feature(regressorCount));
        return Fit(InMemoryDataSource<T>.Own(data, sampleWeights));
    }

    /// <summary>Fits a data source whose last feature is the target and whose others are the regressors.</summary>
    /// <param name="data">Rows [x_1 … x_P, y].</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">A value or option is invalid.</exception>
    public BayesianLinearRegressionModel<T> Fit(DataSource<T> data)
    {
        ArgumentNullException.ThrowIfNull(data);
        BayesianLinearRegressionOptions o = Options;
        if (!o.Intercept && data.Features < 2)
        {
            throw new ArgumentException("Without an intercept there must be at least one regressor besides the target.", nameof(data));
        }

        var regressor = new BayesianLinearRegressor<T>(data.Features - 1, o.Intercept);
        try
        {
            regressor.SetStart(o.InitialAlpha, o.InitialBeta);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new ArgumentOutOfRangeException(e.ParamName == "alpha" ? "options.InitialAlpha" : "options.InitialBeta", e.ActualValue, "A precision must be positive and finite.");
        }

        ExpectationMaximizationResult result = ExpectationMaximization.Fit(regressor, data, new ExpectationMaximizationOptions
        {
            MaxIterations = o.MaxIterations,
            Tolerance = o.Tolerance,
            MaxDegreeOfParallelism = o.MaxDegreeOfParallelism,
            Progress = o.Progress,
            CancellationToken = o.CancellationToken,
        });
        return new BayesianLinearRegressionModel<T>(regressor, result);
    }
}

/// <summary>A fitted Bayesian linear regression: α, β, the posterior of the weights, the evidence history, predictions.</summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class BayesianLinearRegressionModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly BayesianLinearRegressor<T> _regressor;
    private readonly double[] _history;
    private readonly double[] _mean;
    private readonly double[] _covariance;

    internal BayesianLinearRegressionModel(BayesianLinearRegressor<T> regressor, ExpectationMaximizationResult result)
    {
        _regressor = regressor;
        _history = result.ObjectiveHistory;
        Iterations = result.Iterations;
        Converged = result.Converged;
        LikelihoodDecreases = result.Decreases;
        TrainingPoints = result.Summary.Points;
        (_mean, _covariance) = regressor.Posterior();
    }

    /// <summary>P, the regressors.</summary>
    public int Regressors => _regressor.Regressors;

    /// <summary>Whether the first weight is an intercept.</summary>
    public bool Intercept => _regressor.Intercept;

    /// <summary>α, the prior precision of the weights.</summary>
    public double Alpha => _regressor.Alpha;

    /// <summary>β, the noise precision (1/β is the noise variance).</summary>
    public double Beta => _regressor.Beta;

    /// <summary>m, the posterior mean of the weights (M values; the intercept first when there is one).</summary>
    public ReadOnlySpan<double> Coefficients => _mean;

    /// <summary>S, the posterior covariance of the weights: M × M, row-major.</summary>
    public ReadOnlySpan<double> CoefficientCovariance => _covariance;

    /// <summary>The posterior standard deviations of the weights, √S_ii.</summary>
    /// <returns>M values.</returns>
    public double[] CoefficientStandardDeviations()
    {
        int m = _mean.Length;
        double[] deviations = new double[m];
        for (int i = 0; i < m; i++)
        {
            deviations[i] = Math.Sqrt(_covariance[i * m + i]);
        }

        return deviations;
    }

    /// <summary>The log evidence per point, log p(y | α, β) / N, under the starting and each iteration's α and β.</summary>
    public ReadOnlySpan<double> LogEvidenceHistory => _history;

    /// <summary>The log evidence per point under the returned α and β.</summary>
    public double LogEvidence => _history[^1];

    /// <summary>EM iterations.</summary>
    public int Iterations { get; }

    /// <summary>Whether the change fell below the tolerance.</summary>
    public bool Converged { get; }

    /// <summary>Iterations whose evidence fell by more than rounding (expected empty).</summary>
    public IReadOnlyList<LikelihoodDecrease> LikelihoodDecreases { get; }

    /// <summary>N of the training data.</summary>
    public long TrainingPoints { get; }

    /// <summary>The predictive mean and standard deviation of the target at new regressors.</summary>
    /// <param name="regressors">N × P values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>N means and N standard deviations.</returns>
    public (double[] Mean, double[] StandardDeviation) Predict(ReadOnlySpan<T> regressors, int points) => _regressor.Predict(regressors, points);
}
