using System.Numerics;
using EmKernels.Engine;
using EmKernels.Mixtures;

namespace EmKernels.Latent;

/// <summary>Options of <see cref="MixtureOfRegressions{T}"/> and <see cref="MixtureOfExperts{T}"/>.</summary>
public sealed record RegressionMixtureOptions
{
    /// <summary>K, the number of experts (≥ 1).</summary>
    public int Components { get; init; } = 2;

    /// <summary>Whether the design gets a leading column of ones (an intercept for every expert and in the gate); false when x has its own.</summary>
    public bool Intercept { get; init; } = true;

    /// <summary>Maximum number of EM iterations per run (≥ 1).</summary>
    public int MaxIterations { get; init; } = 200;

    /// <summary>A run stops when the mean log-likelihood changes by less than this (≥ 0; 0 runs every iteration).</summary>
    public double Tolerance { get; init; } = 1e-8;

    /// <summary>Runs from different starts (≥ 1); the best final mean log-likelihood is kept.</summary>
    public int Restarts { get; init; } = 1;

    /// <summary>Seed of every random choice (the start: each expert by least squares on P + 2 random rows); null draws one.</summary>
    public int? Seed { get; init; }

    /// <summary>
    /// Starting gate: the K weights (mixture of regressions), or the K × P gating rows v_k with row K − 1 all 0 (mixture of
    /// experts; P counts the intercept column). Give all three starting arrays or none.
    /// </summary>
    public double[]? InitialGate { get; init; }

    /// <summary>Starting coefficients β_k (K × P, row-major; P counts the intercept column).</summary>
    public double[]? InitialCoefficients { get; init; }

    /// <summary>Starting variances σ²_k (K).</summary>
    public double[]? InitialVariances { get; init; }

    /// <summary>Maximum number of threads; null uses every core. Results do not depend on it.</summary>
    public int? MaxDegreeOfParallelism { get; init; }

    /// <summary>Receives one report per iteration.</summary>
    public IProgress<FitProgress>? Progress { get; init; }

    /// <summary>Cancels the fit.</summary>
    public CancellationToken CancellationToken { get; init; }
}

/// <summary>
/// Fits a mixture of K linear regressions with constant weights by EM (<see cref="LinearExpertMixture{T}"/>): each
/// expert's M-step is weighted least squares, the weights are the experts' shares. flexmix's <c>FLXMRglm(family =
/// "gaussian")</c> and mixtools' <c>regmixEM</c> fit the same model (flexmix reports σ² with the divisor N − P instead of
/// N_k; we report the maximum-likelihood variance, as mixtools does).
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class MixtureOfRegressions<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Creates the estimator.</summary>
    /// <param name="options">Options; checked here.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public MixtureOfRegressions(RegressionMixtureOptions options)
    {
        RegressionMixtures.CheckOptions(options);
        Options = options;
    }

    /// <summary>The options.</summary>
    public RegressionMixtureOptions Options { get; }

    /// <summary>Fits responses y to row-major regressors x (regressor j of point n at <c>regressors[n·P + j]</c>).</summary>
    /// <param name="regressors">N × P finite values (P may be 0 with an intercept).</param>
    /// <param name="responses">N finite values.</param>
    /// <param name="points">N ≥ K.</param>
    /// <param name="regressorCount">P.</param>
    /// <param name="sampleWeights">Empty, or N non-negative weights (not all zero).</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">A length, value or starting parameter is invalid; the message says which.</exception>
    public RegressionMixtureModel<T> Fit(ReadOnlySpan<T> regressors, ReadOnlySpan<T> responses, int points, int regressorCount, ReadOnlySpan<T> sampleWeights = default) =>
        RegressionMixtures.Fit(ExpertGating.Constant, Options, regressors, responses, points, regressorCount, sampleWeights);

    /// <summary>Fits data from any source (in memory, or streamed from a file): every column but the last is an input, the last is y.</summary>
    /// <param name="data">The points.</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">A value or starting parameter is invalid; the message says which.</exception>
    public RegressionMixtureModel<T> Fit(DataSource<T> data) => RegressionMixtures.Fit(ExpertGating.Constant, Options, data);
}

/// <summary>
/// Fits a mixture of K linear-regression experts with a softmax gating network on the same inputs (Jordan and Jacobs 1994)
/// by generalized EM (<see cref="LinearExpertMixture{T}"/>): the experts by weighted least squares, the gate by one Newton
/// (IRLS) step per iteration, and the drivers' check that the log-likelihood does not decrease.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class MixtureOfExperts<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Creates the estimator.</summary>
    /// <param name="options">Options; checked here.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public MixtureOfExperts(RegressionMixtureOptions options)
    {
        RegressionMixtures.CheckOptions(options);
        Options = options;
    }

    /// <summary>The options.</summary>
    public RegressionMixtureOptions Options { get; }

    /// <summary>Fits responses y to row-major regressors x (regressor j of point n at <c>regressors[n·P + j]</c>).</summary>
    /// <param name="regressors">N × P finite values (P may be 0 with an intercept).</param>
    /// <param name="responses">N finite values.</param>
    /// <param name="points">N ≥ K.</param>
    /// <param name="regressorCount">P.</param>
    /// <param name="sampleWeights">Empty, or N non-negative weights (not all zero).</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">A length, value or starting parameter is invalid; the message says which.</exception>
    public RegressionMixtureModel<T> Fit(ReadOnlySpan<T> regressors, ReadOnlySpan<T> responses, int points, int regressorCount, ReadOnlySpan<T> sampleWeights = default) =>
        RegressionMixtures.Fit(ExpertGating.Softmax, Options, regressors, responses, points, regressorCount, sampleWeights);

    /// <summary>Fits data from any source (in memory, or streamed from a file): every column but the last is an input, the last is y.</summary>
    /// <param name="data">The points.</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">A value or starting parameter is invalid; the message says which.</exception>
    public RegressionMixtureModel<T> Fit(DataSource<T> data) => RegressionMixtures.Fit(ExpertGating.Softmax, Options, data);
}

/// <summary>What the two estimators share.</summary>
internal static class RegressionMixtures
{
    public static void CheckOptions(RegressionMixtureOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        MixtureSetup.CheckOptions(options.Components, options.MaxIterations, options.Restarts, options.Tolerance, options.MaxDegreeOfParallelism);
        int given = (options.InitialGate is null ? 0 : 1) + (options.InitialCoefficients is null ? 0 : 1) + (options.InitialVariances is null ? 0 : 1);
        if (given is 1 or 2)
        {
            throw new ArgumentException("Give the initial gate, coefficients and variances together, or none of them.", nameof(options));
        }
    }

    /// <summary>The data as the model reads them: the inputs, then y, feature-major.</summary>
    public static FeatureMajorMatrix<T> Data<T>(ReadOnlySpan<T> regressors, ReadOnlySpan<T> responses, int points, int regressorCount)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegative(points);
        ArgumentOutOfRangeException.ThrowIfNegative(regressorCount);
        if ((long)points * regressorCount != regressors.Length)
        {
            throw new ArgumentException($"Expected {points} × {regressorCount} regressors, got {regressors.Length}.", nameof(regressors));
        }

        if (responses.Length != points)
        {
            throw new ArgumentException($"Expected {points} responses, got {responses.Length}.", nameof(responses));
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

        responses.CopyTo(data.Feature(regressorCount));
        return data;
    }

    public static RegressionMixtureModel<T> Fit<T>(
        ExpertGating gating, RegressionMixtureOptions o, ReadOnlySpan<T> regressors, ReadOnlySpan<T> responses, int points, int regressorCount, ReadOnlySpan<T> sampleWeights)
        where T : unmanaged, IBinaryFloatingPointIeee754<T> =>
        Fit(gating, o, InMemoryDataSource<T>.Own(Data(regressors, responses, points, regressorCount), sampleWeights));

    public static RegressionMixtureModel<T> Fit<T>(ExpertGating gating, RegressionMixtureOptions o, DataSource<T> data)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(data);
        int k = o.Components, p = data.Features - 1 + (o.Intercept ? 1 : 0);
        if (p < 1)
        {
            throw new ArgumentException("A regression needs at least one regressor or an intercept.", nameof(data));
        }

        if (data.Points < k)
        {
            throw new ArgumentException($"There are {data.Points} points but {k} components; a mixture needs at least as many points as components.", nameof(data));
        }

        var model = new LinearExpertMixture<T>(gating, k, p, o.Intercept);
        if (o.InitialGate is not null)
        {
            Given(o.InitialGate, model.Gate.Length, "options.InitialGate").CopyTo(model.Gate);
            Given(o.InitialCoefficients!, k * p, "options.InitialCoefficients").CopyTo(model.Coefficients);
            Given(o.InitialVariances!, k, "options.InitialVariances").CopyTo(model.Variances);
            try
            {
                model.CheckParameters();
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException(e.Message, e.ParamName switch
                {
                    "coefficients" => "options.InitialCoefficients",
                    "variances" => "options.InitialVariances",
                    _ => "options.InitialGate",
                }, e);
            }

            model.StartFromData = false;
        }

        ExpectationMaximizationResult result = ExpectationMaximization.Fit(model, data, new ExpectationMaximizationOptions
        {
            MaxIterations = o.MaxIterations,
            Tolerance = o.Tolerance,
            Restarts = o.Restarts,
            Seed = o.Seed,
            MaxDegreeOfParallelism = o.MaxDegreeOfParallelism,
            Progress = o.Progress,
            CancellationToken = o.CancellationToken,
        });
        return new RegressionMixtureModel<T>(model, o.Intercept, result);
    }

    private static double[] Given(double[] values, int length, string name) =>
        values.Length == length ? values : throw new ArgumentException($"Expected {length} values, got {values.Length}.", name);
}

/// <summary>
/// A fitted mixture of linear-regression experts (constant or softmax gating): the parameters, how the fit went, and
/// prediction. Immutable.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class RegressionMixtureModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly LinearExpertMixture<T> _model;
    private readonly double[] _parameters;
    private readonly double[] _history;

    internal RegressionMixtureModel(LinearExpertMixture<T> model, bool intercept, ExpectationMaximizationResult result)
    {
        _model = model;
        _parameters = new double[model.ParameterLength];
        model.WriteParameters(_parameters);
        model.StartFromData = false;
        Intercept = intercept;
        _history = result.ObjectiveHistory;
        Converged = result.Converged;
        Iterations = result.Iterations;
        LikelihoodDecreases = result.Decreases;
    }

    /// <summary>Constant (mixture of regressions) or softmax (mixture of experts) gating.</summary>
    public ExpertGating Gating => _model.Gating;

    /// <summary>K.</summary>
    public int Components => _model.Components;

    /// <summary>P, the design's columns (the intercept's included when <see cref="Intercept"/>).</summary>
    public int Regressors => _model.Regressors;

    /// <summary>Whether column 0 of the design is the intercept the estimator added (the inputs then have P − 1 columns).</summary>
    public bool Intercept { get; }

    /// <summary>Constant gating: the K weights; softmax: the K × P gating rows (row K − 1 is 0).</summary>
    public ReadOnlySpan<double> Gate => _parameters.AsSpan(0, _model.Gate.Length);

    /// <summary>β_k, K × P row-major (column 0 the intercept when <see cref="Intercept"/>).</summary>
    public ReadOnlySpan<double> Coefficients => _parameters.AsSpan(_model.Gate.Length, Components * Regressors);

    /// <summary>σ²_k, the experts' noise variances (maximum likelihood).</summary>
    public ReadOnlySpan<double> Variances => _parameters.AsSpan(_model.Gate.Length + (Components * Regressors), Components);

    /// <summary>The mean log-likelihood (1/Σw) Σ w log p(y | x) under the start and after each iteration: <see cref="Iterations"/> + 1 values.</summary>
    public ReadOnlySpan<double> MeanLogLikelihoodHistory => _history;

    /// <summary>The mean log-likelihood of the training data under the returned parameters.</summary>
    public double MeanLogLikelihood => _history[^1];

    /// <summary>Whether the kept run stopped on the tolerance.</summary>
    public bool Converged { get; }

    /// <summary>Iterations of the kept run.</summary>
    public int Iterations { get; }

    /// <summary>Iterations whose log-likelihood fell by more than rounding (a softmax gate's Newton step is not guaranteed to increase it; expected empty).</summary>
    public IReadOnlyList<LikelihoodDecrease> LikelihoodDecreases { get; }

    /// <summary>The gate probabilities π_k(x) of each point: N × K, row-major.</summary>
    /// <param name="regressors">N × (the inputs' P) values, row-major (without the intercept column when <see cref="Intercept"/>).</param>
    /// <param name="points">N.</param>
    /// <returns>N × K probabilities.</returns>
    /// <exception cref="ArgumentException">The shape does not match, or a value is not finite.</exception>
    public double[] GateProbabilities(ReadOnlySpan<T> regressors, int points) => _model.GateProbabilities(Design(regressors, points), points);

    /// <summary>Each expert's prediction x_iᵀβ_k: N × K, row-major.</summary>
    /// <param name="regressors">N × (the inputs' P) values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>N × K predictions.</returns>
    /// <exception cref="ArgumentException">The shape does not match, or a value is not finite.</exception>
    public double[] PredictComponents(ReadOnlySpan<T> regressors, int points)
    {
        double[] design = Design(regressors, points);
        int k = Components, p = Regressors;
        double[] result = new double[points * k];
        for (int i = 0; i < points; i++)
        {
            for (int j = 0; j < k; j++)
            {
                double sum = 0;
                for (int c = 0; c < p; c++)
                {
                    sum += Coefficients[j * p + c] * design[i * p + c];
                }

                result[i * k + j] = sum;
            }
        }

        return result;
    }

    /// <summary>The predictive mean E[y | x] = Σ_k π_k(x) x_iᵀβ_k of each point.</summary>
    /// <param name="regressors">N × (the inputs' P) values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>N predictions.</returns>
    /// <exception cref="ArgumentException">The shape does not match, or a value is not finite.</exception>
    public double[] Predict(ReadOnlySpan<T> regressors, int points)
    {
        double[] gates = GateProbabilities(regressors, points), experts = PredictComponents(regressors, points);
        int k = Components;
        double[] result = new double[points];
        for (int i = 0; i < points; i++)
        {
            for (int j = 0; j < k; j++)
            {
                result[i] += gates[i * k + j] * experts[i * k + j];
            }
        }

        return result;
    }

    /// <summary>
    /// Any of log p(y | x) per point, the responsibilities p(k | x, y) (N × K, row-major) and the most probable expert, in one
    /// pass; null outputs are skipped.
    /// </summary>
    /// <param name="regressors">N × (the inputs' P) values, row-major.</param>
    /// <param name="responses">N values.</param>
    /// <param name="points">N.</param>
    /// <param name="logLikelihoods">N outputs, or null.</param>
    /// <param name="responsibilities">N × K outputs, or null.</param>
    /// <param name="labels">N outputs, or null.</param>
    /// <exception cref="ArgumentException">A shape does not match, or a value is not finite.</exception>
    public void Evaluate(ReadOnlySpan<T> regressors, ReadOnlySpan<T> responses, int points, double[]? logLikelihoods, T[]? responsibilities, int[]? labels)
    {
        FeatureMajorMatrix<T> data = RegressionMixtures.Data(regressors, responses, points, Regressors - (Intercept ? 1 : 0));
        var copy = new LinearExpertMixture<T>(Gating, Components, Regressors, Intercept) { StartFromData = false };
        copy.ReadParameters(_parameters);
        ExpectationMaximization.Evaluate(copy, InMemoryDataSource<T>.Own(data, default), logLikelihoods, responsibilities, labels);
    }

    /// <summary>The mean log-likelihood (1/N) Σ log p(y | x) of the points.</summary>
    /// <param name="regressors">N × (the inputs' P) values, row-major (N ≥ 1).</param>
    /// <param name="responses">N values.</param>
    /// <param name="points">N.</param>
    /// <returns>The mean.</returns>
    /// <exception cref="ArgumentException">A shape does not match, N is 0, or a value is not finite.</exception>
    public double Score(ReadOnlySpan<T> regressors, ReadOnlySpan<T> responses, int points)
    {
        if (points < 1)
        {
            throw new ArgumentException("Scoring needs at least one point.", nameof(points));
        }

        double[] values = new double[points];
        Evaluate(regressors, responses, points, values, null, null);
        return values.Average();
    }

    /// <summary>The design rows (N × P, double, the intercept column added when <see cref="Intercept"/>), the inputs checked.</summary>
    private double[] Design(ReadOnlySpan<T> regressors, int points)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(points);
        int inputs = Regressors - (Intercept ? 1 : 0), p = Regressors;
        if (regressors.Length != (long)points * inputs)
        {
            throw new ArgumentException($"Expected {points} × {inputs} regressors, got {regressors.Length}.", nameof(regressors));
        }

        double[] design = new double[points * p];
        for (int i = 0; i < points; i++)
        {
            if (Intercept)
            {
                design[i * p] = 1;
            }

            for (int c = 0; c < inputs; c++)
            {
                double v = double.CreateTruncating(regressors[i * inputs + c]);
                if (!double.IsFinite(v))
                {
                    throw new ArgumentException($"Regressor {c} of row {i} is {v}; every value must be finite.", nameof(regressors));
                }

                design[i * p + c + (Intercept ? 1 : 0)] = v;
            }
        }

        return design;
    }
}
