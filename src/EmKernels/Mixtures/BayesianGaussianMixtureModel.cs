using System.Numerics;
using EmKernels.Engine;

namespace EmKernels.Mixtures;

/// <summary>
/// A Gaussian mixture fitted by variational Bayes: the variational parameters, how the fit went (the ELBO history,
/// checked for monotonicity), the effective components, and evaluation on new data. Immutable; methods that take data
/// only read it.
/// </summary>
/// <typeparam name="T">float or double: the type data are evaluated in. Parameters are double.</typeparam>
/// <remarks>
/// <see cref="Predict"/> and <see cref="PredictProbabilities"/> use the variational E-step (responsibilities ∝
/// exp(E[log π_k] + E[log N(x | μ_k, Λ_k⁻¹)]), scikit-learn's <c>predict</c> and <c>predict_proba</c>).
/// <see cref="ScoreSamples"/> is the log posterior predictive density, a proper density: the mixture of Student t
/// densities Σ_k E[π_k] St(x | m_k, (1 + β_k) / (β_k (ν_k + 1 − D)) ν_k C_k, ν_k + 1 − D) (Bishop 2006, eq. 10.81).
/// scikit-learn's <c>score_samples</c> is instead log Σ_k of the E-step's unnormalized terms, which is not a density.
/// <see cref="PosteriorMeanMixture"/> is the Gaussian mixture of the posterior means (weights, m_k, C_k), for plug-in
/// scores and sampling as scikit-learn's <c>sample</c> does.
/// </remarks>
public sealed class BayesianGaussianMixtureModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly double[] _parameters;
    private readonly double[] _history;
    private readonly VariationalGaussianMixture<T> _model;
    private GaussianMixtureModel<T>? _posteriorMean;

    private BayesianGaussianMixtureModel(VariationalGaussianMixture<T> model, ExpectationMaximizationResult? result, double effectiveCountThreshold)
    {
        _model = model;
        _parameters = new double[model.ParameterLength];
        model.WriteParameters(_parameters);
        _history = result?.ObjectiveHistory ?? [];
        Converged = result?.Converged ?? false;
        Iterations = result?.Iterations ?? 0;
        ElboDecreases = result?.Decreases ?? [];
        TrainingPoints = result?.Summary.Points ?? 0;
        TrainingWeight = result is null ? 0 : Frames.ScaleByPowerOfTwo(result.Summary.TotalWeight, result.Summary.WeightScaleExponent);
        EffectiveCountThreshold = effectiveCountThreshold;
        Prior = model.Prior!;
        Weights = model.ExpectedWeights();
        WeightConcentrations = model.WeightConcentrations();
        MeanPrecisions = Enumerable.Range(0, model.Components).Select(model.MeanPrecision).ToArray();
        DegreesOfFreedom = Enumerable.Range(0, CovarianceType == CovarianceType.Tied ? 1 : model.Components).Select(model.DegreesOfFreedom).ToArray();
        ScikitLearnLowerBound = result is null ? double.NaN : model.ScikitLearnLowerBound();
    }

    /// <summary>The fitted model of a variational mixture the engine fitted (it keeps <paramref name="model"/>; the caller must not change it).</summary>
    internal static BayesianGaussianMixtureModel<T> Fitted(VariationalGaussianMixture<T> model, ExpectationMaximizationResult result, double effectiveCountThreshold)
    {
        model.InitialResponsibilities = null;
        model.Initialization = MixtureInitialization.Current;
        model.PriorChoices = null;
        return new BayesianGaussianMixtureModel<T>(model, result, effectiveCountThreshold);
    }

    /// <summary>
    /// A model with the given variational parameters (a saved model, another library's fit): q(π) from the expected counts
    /// and the prior, q(μ_k, Λ_k) from m_k, C_k, β_k = β₀ + N_k and ν_k = ν₀ + N_k. It has no fit history.
    /// </summary>
    /// <param name="covarianceType">The covariance type.</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="weightPrior">The prior on the weights.</param>
    /// <param name="prior">The prior, every value given (Ψ₀ × 2^−2q).</param>
    /// <param name="expectedCounts">K ≥ 1 finite non-negative expected counts N_k.</param>
    /// <param name="means">K × D finite means m_k.</param>
    /// <param name="covariances">C_k in the type's layout (symmetric positive definite, or positive), × 2^−2q.</param>
    /// <param name="regCovar">reg_covar (≥ 0), kept for continuing the fit.</param>
    /// <param name="covarianceScaleExponent">q; 0 for covariances given as they are.</param>
    /// <param name="effectiveCountThreshold">The expected count from which a component counts as effective (≥ 0).</param>
    /// <returns>The model; it holds copies of the arrays.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A length or value is invalid; the message says which.</exception>
    public static BayesianGaussianMixtureModel<T> FromParameters(
        CovarianceType covarianceType, int features, WeightPrior weightPrior, BayesianMixturePrior prior, double[] expectedCounts, double[] means, double[] covariances,
        double regCovar = 1e-6, int covarianceScaleExponent = 0, double effectiveCountThreshold = 1)
    {
        ArgumentNullException.ThrowIfNull(prior);
        ArgumentNullException.ThrowIfNull(expectedCounts);
        ArgumentNullException.ThrowIfNull(means);
        ArgumentNullException.ThrowIfNull(covariances);
        if (expectedCounts.Length == 0 || !expectedCounts.All(n => n >= 0 && double.IsFinite(n)))
        {
            throw new ArgumentException("Expected K ≥ 1 finite non-negative expected counts.", nameof(expectedCounts));
        }

        if (!(effectiveCountThreshold >= 0) || double.IsInfinity(effectiveCountThreshold))
        {
            throw new ArgumentOutOfRangeException(nameof(effectiveCountThreshold), effectiveCountThreshold, "Must be finite and non-negative.");
        }

        int k = expectedCounts.Length;
        var given = GivenParameters.Check(covarianceType, k, features, null, means, covariances, null, "weights", nameof(means), nameof(covariances), nameof(covariances));
        if (Math.Abs((long)covarianceScaleExponent) > 1100)
        {
            throw new ArgumentOutOfRangeException(nameof(covarianceScaleExponent), covarianceScaleExponent, "A covariance scale beyond 2^±1100 scales no double.");
        }

        VariationalGaussianMixture<T> model;
        try
        {
            model = new VariationalGaussianMixture<T>(covarianceType, k, features, weightPrior, prior, regCovar, MixtureInitialization.Current)
            {
                CovarianceScaleExponent = covarianceScaleExponent,
            };
        }
        catch (ArgumentException e) when (e is not ArgumentOutOfRangeException)
        {
            throw new ArgumentException(e.Message, nameof(prior), e);
        }

        double[] parameters = [.. expectedCounts, .. given.Means!, .. given.Covariances!, 0];
        model.ReadParameters(parameters);
        return new BayesianGaussianMixtureModel<T>(model, null, effectiveCountThreshold);
    }

    /// <summary>K.</summary>
    public int Components => _model.Components;

    /// <summary>D.</summary>
    public int Features => _model.Features;

    /// <summary>The covariance type.</summary>
    public CovarianceType CovarianceType => _model.CovarianceType;

    /// <summary>The prior on the weights.</summary>
    public WeightPrior WeightPrior => _model.WeightPrior;

    /// <summary>The prior used, every value resolved (the data-dependent defaults included), in the user's units (Ψ₀ × 2^−2q as <see cref="Covariances"/>).</summary>
    public BayesianMixturePrior Prior { get; }

    /// <summary>reg_covar.</summary>
    public double RegCovar => _model.Regularization;

    /// <summary>N_k = Σ w r_k + 10ε: the expected number of points of each component.</summary>
    public ReadOnlySpan<double> ExpectedCounts => _model.ExpectedCounts;

    /// <summary>E[π_k], renormalized (scikit-learn's <c>weights_</c>).</summary>
    public IReadOnlyList<double> Weights { get; }

    /// <summary>q(π)'s parameters: α_k (K values), or for the Dirichlet process a_k then b_k (2K values), scikit-learn's <c>weight_concentration_</c>.</summary>
    public IReadOnlyList<double> WeightConcentrations { get; }

    /// <summary>β_k = β₀ + N_k (scikit-learn's <c>mean_precision_</c>).</summary>
    public IReadOnlyList<double> MeanPrecisions { get; }

    /// <summary>m_k (K × D, row-major; scikit-learn's <c>means_</c>).</summary>
    public ReadOnlySpan<double> Means => _model.Means;

    /// <summary>ν_k (K values; tied: one), scikit-learn's <c>degrees_of_freedom_</c>.</summary>
    public IReadOnlyList<double> DegreesOfFreedom { get; }

    /// <summary>C_k = E[Λ_k]⁻¹ in the covariance type's layout (scikit-learn's <c>covariances_</c>), × 2^−2q (<see cref="CovarianceScaleExponent"/>).</summary>
    public ReadOnlySpan<double> Covariances => _model.Covariances;

    /// <summary>q: <see cref="Covariances"/> and the prior's Ψ₀ are held × 2^−2q; 0 unless the data's spread is beyond about 10^±154.</summary>
    public int CovarianceScaleExponent => _model.CovarianceScaleExponent;

    /// <summary>
    /// The ELBO per unit weight of the kept run under the starting parameters and after each iteration (the full bound,
    /// every constant included; see <see cref="VariationalGaussianMixture{T}"/>): <see cref="Iterations"/> + 1 values, the
    /// last for the returned parameters. Empty for a pruned model.
    /// </summary>
    public ReadOnlySpan<double> ElboHistory => _history;

    /// <summary>The ELBO of the training data under the returned parameters, a sum over the data (the last of <see cref="ElboHistory"/> × Σ w).</summary>
    /// <exception cref="InvalidOperationException">The model has no fit history (pruned).</exception>
    public double Elbo => _history.Length > 0 ? _history[^1] * TrainingWeight : throw new InvalidOperationException("A pruned model has no fit history.");

    /// <summary>scikit-learn's <c>lower_bound_</c> after the same iterations (see <see cref="VariationalGaussianMixture{T}.ScikitLearnLowerBound"/>); NaN for a model without fit history.</summary>
    public double ScikitLearnLowerBound { get; }

    /// <summary>Whether the kept run stopped because the change fell below the tolerance.</summary>
    public bool Converged { get; }

    /// <summary>Iterations of the kept run.</summary>
    public int Iterations { get; }

    /// <summary>Iterations of the kept run whose ELBO fell by more than rounding (expected empty).</summary>
    public IReadOnlyList<LikelihoodDecrease> ElboDecreases { get; }

    /// <summary>N.</summary>
    public long TrainingPoints { get; }

    /// <summary>Σ w of the training points (N without sample weights).</summary>
    public double TrainingWeight { get; }

    /// <summary>The expected count from which a component counts as effective.</summary>
    public double EffectiveCountThreshold { get; }

    /// <summary>How many components have an expected count N_k of at least <see cref="EffectiveCountThreshold"/>.</summary>
    public int EffectiveComponents => Enumerable.Range(0, Components).Count(IsEffective);

    /// <summary>Whether component <paramref name="component"/> has an expected count of at least <see cref="EffectiveCountThreshold"/>.</summary>
    /// <param name="component">0-based k.</param>
    /// <returns>True when effective.</returns>
    public bool IsEffective(int component) => _model.ExpectedCounts[component] >= EffectiveCountThreshold;

    /// <summary>
    /// The model with only its effective components (at least one: the largest if none is), in their order: their
    /// q(μ, Λ) unchanged and q(π) recomputed from their expected counts by the same update, so that the components
    /// removed are as if they had had no points. It has no fit history.
    /// </summary>
    /// <returns>A new model.</returns>
    public BayesianGaussianMixtureModel<T> Pruned()
    {
        int[] kept = Enumerable.Range(0, Components).Where(IsEffective).ToArray();
        if (kept.Length == 0)
        {
            int largest = 0;
            for (int j = 1; j < Components; j++)
            {
                largest = _model.ExpectedCounts[j] > _model.ExpectedCounts[largest] ? j : largest;
            }

            kept = [largest];
        }

        int d = Features, length = BayesianMixturePrior.CovarianceLength(CovarianceType, d);
        bool tied = CovarianceType == CovarianceType.Tied;
        var model = new VariationalGaussianMixture<T>(CovarianceType, kept.Length, d, WeightPrior, Prior, RegCovar, MixtureInitialization.Current)
        {
            CovarianceScaleExponent = CovarianceScaleExponent,
        };
        double[] parameters = new double[model.ParameterLength];
        int m = kept.Length;
        for (int i = 0; i < m; i++)
        {
            int j = kept[i];
            parameters[i] = _model.ExpectedCounts[j];
            Means.Slice(j * d, d).CopyTo(parameters.AsSpan(m + (i * d), d));
            if (!tied)
            {
                Covariances.Slice(j * length, length).CopyTo(parameters.AsSpan(m + (m * d) + (i * length), length));
            }
        }

        if (tied)
        {
            Covariances.CopyTo(parameters.AsSpan(m + (m * d), length));
        }

        parameters[^1] = _parameters[^1];
        model.ReadParameters(parameters);
        return new BayesianGaussianMixtureModel<T>(model, null, EffectiveCountThreshold);
    }

    /// <summary>The most probable component of each point under the variational E-step (ties to the lower index).</summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>N labels.</returns>
    /// <exception cref="ArgumentException">The shape does not match D, or a value is not finite (row and column named).</exception>
    public int[] Predict(ReadOnlySpan<T> data, int points)
    {
        int[] labels = new int[Math.Max(points, 0)];
        ExpectationMaximization.Evaluate(Variational(), Source(data, points), null, null, labels);
        return labels;
    }

    /// <summary>The responsibilities of the variational E-step: N × K, row-major, each row summing to 1.</summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>N × K probabilities.</returns>
    /// <exception cref="ArgumentException">The shape does not match D, or a value is not finite.</exception>
    public T[] PredictProbabilities(ReadOnlySpan<T> data, int points)
    {
        T[] probabilities = new T[Math.Max(points, 0) * Components];
        ExpectationMaximization.Evaluate(Variational(), Source(data, points), null, probabilities, null);
        return probabilities;
    }

    /// <summary>The log posterior predictive density of each point (the Student t mixture of the remarks).</summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>N values.</returns>
    /// <exception cref="ArgumentException">The shape does not match D, or a value is not finite.</exception>
    public double[] ScoreSamples(ReadOnlySpan<T> data, int points)
    {
        double[] scores = new double[Math.Max(points, 0)];
        ExpectationMaximization.Evaluate(Predictive(), Source(data, points), scores, null, null);
        return scores;
    }

    /// <summary>The mean log posterior predictive density of the points.</summary>
    /// <param name="data">N × D values, row-major (N ≥ 1).</param>
    /// <param name="points">N.</param>
    /// <returns>(1/N) Σ log p(x_n | training data).</returns>
    /// <exception cref="ArgumentException">The shape does not match D, N is 0, or a value is not finite.</exception>
    public double Score(ReadOnlySpan<T> data, int points)
    {
        if (points < 1)
        {
            throw new ArgumentException("Scoring needs at least one point.", nameof(points));
        }

        return ScoreSamples(data, points).Average();
    }

    /// <summary>The Gaussian mixture of the posterior means: weights E[π_k], means m_k, covariances C_k (plug-in scores, sampling).</summary>
    /// <returns>The mixture (the same instance on every call).</returns>
    public GaussianMixtureModel<T> PosteriorMeanMixture() =>
        _posteriorMean ??= GaussianMixtureModel<T>.FromParameters(CovarianceType, Features, [.. Weights], Means.ToArray(), Covariances.ToArray(), CovarianceScaleExponent);

    /// <summary>A copy of the model as the engine's <see cref="VariationalGaussianMixture{T}"/>, starting from these parameters (to evaluate it on a <see cref="DataSource{T}"/> or continue fitting it).</summary>
    /// <returns>A new model.</returns>
    public VariationalGaussianMixture<T> ToVariationalMixture()
    {
        var copy = new VariationalGaussianMixture<T>(CovarianceType, Components, Features, WeightPrior, Prior, RegCovar, MixtureInitialization.Current)
        {
            CovarianceScaleExponent = CovarianceScaleExponent,
        };
        copy.ReadParameters(_parameters);
        return copy;
    }

    private VariationalGaussianMixture<T> Variational() => ToVariationalMixture();

    /// <summary>The posterior predictive as a mixture of Student t components (a new one per call: evaluation moves it into a frame).</summary>
    private FiniteMixture<T> Predictive()
    {
        int k = Components, d = Features, length = BayesianMixturePrior.CovarianceLength(CovarianceType, d);
        double[] nu = new double[k];
        double[] scales = Covariances.ToArray();
        for (int j = 0; j < k; j++)
        {
            double nuJ = DegreesOfFreedom[CovarianceType == CovarianceType.Tied ? 0 : j], beta = MeanPrecisions[j];
            nu[j] = nuJ + 1 - d;
            if (CovarianceType != CovarianceType.Tied)
            {
                double factor = (1 + beta) * nuJ / (beta * nu[j]);
                for (int i = 0; i < length; i++)
                {
                    scales[(j * length) + i] *= factor;
                }
            }
        }

        if (CovarianceType == CovarianceType.Tied)
        {
            // One scale matrix for all: the components differ in β_k, which the tied kernels cannot carry. Evaluate each
            // component as a full one.
            double[] full = new double[k * d * d];
            for (int j = 0; j < k; j++)
            {
                double factor = (1 + MeanPrecisions[j]) * DegreesOfFreedom[0] / (MeanPrecisions[j] * nu[j]);
                for (int i = 0; i < d * d; i++)
                {
                    full[(j * d * d) + i] = Covariances[i] * factor;
                }
            }

            scales = full;
        }

        var family = new StudentTComponents<T>(CovarianceType == CovarianceType.Tied ? CovarianceType.Full : CovarianceType, d, Means.ToArray(), scales, nu, CovarianceScaleExponent);
        var mixture = new FiniteMixture<T>(family, MixtureInitialization.Current);
        mixture.SetWeights([.. Weights]);
        return mixture;
    }

    private InMemoryDataSource<T> Source(ReadOnlySpan<T> data, int points)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(points);
        if (data.Length != (long)points * Features)
        {
            throw new ArgumentException($"Expected {points} points × {Features} features = {(long)points * Features} values (the model has D = {Features}), got {data.Length}.", nameof(data));
        }

        return InMemoryDataSource<T>.Own(FeatureMajorMatrix<T>.FromRowMajor(data, points, Features), null);
    }
}
