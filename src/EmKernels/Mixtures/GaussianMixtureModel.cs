using System.Numerics;
using EmKernels.Engine;
using EmKernels.Numerics;

namespace EmKernels.Mixtures;

/// <summary>
/// A fitted Gaussian mixture: its means and covariances on top of what every <see cref="MixtureModel{T}"/> has.
/// Immutable; every method that takes data only reads it.
/// </summary>
/// <typeparam name="T">float or double: the type data are evaluated in. Parameters are double.</typeparam>
/// <remarks>
/// Layouts (as in the fixtures' FORMAT.md §4): <see cref="Means"/> K × D; <see cref="Covariances"/>
/// full K × D × D, tied D × D, diagonal K × D (variances), spherical K (variances);
/// <see cref="PrecisionsCholesky"/> the same shapes: full and tied the upper-triangular U with
/// Σ⁻¹ = U Uᵀ (scikit-learn's <c>precisions_cholesky_</c>), diagonal and spherical 1/σ.
/// </remarks>
public sealed class GaussianMixtureModel<T> : MixtureModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly double[] _means;
    private readonly double[] _covariances;
    private double[]? _samplingFactors;
    private readonly double[] _precisionsCholesky;

    internal GaussianMixtureModel(
        CovarianceType covarianceType, int components, int features, double[] weights, double[] means, double[] covariances, FitRecord? fit, int covarianceScaleExponent = 0, ParsimoniousModel? parameterization = null, double? logNoiseDensity = null)
        : base(components, features, weights, fit)
    {
        CovarianceType = covarianceType;
        Parameterization = parameterization;
        LogNoiseDensity = logNoiseDensity;
        _means = means;
        _covariances = covariances;
        CovarianceScaleExponent = covarianceScaleExponent;
        GaussianComponents<T> family = CreateFamily(this);
        double[] precisions = new double[family.Covariances.Length];
        family.WritePrecisionsCholesky(precisions);
        _precisionsCholesky = precisions.AsSpan(0, covariances.Length).ToArray(); // without the noise component's placeholder
    }

    /// <summary>The fitted model of a Gaussian mixture the engine fitted.</summary>
    internal static GaussianMixtureModel<T> Fitted(FiniteMixture<T> mixture, ExpectationMaximizationResult result)
    {
        var marginal = mixture.Family as MarginalGaussianComponents<T>;
        GaussianComponents<T> family = marginal?.Gaussian ?? (GaussianComponents<T>)mixture.Family;
        var parsimonious = family as ParsimoniousComponents<T>;
        int gaussians = parsimonious?.Gaussians ?? mixture.Components;
        return new GaussianMixtureModel<T>(
            family.CovarianceType, mixture.Components, mixture.Features, mixture.Weights.ToArray(), family.Means[..(gaussians * mixture.Features)].ToArray(),
            family.Covariances[..(gaussians == mixture.Components ? family.Covariances.Length : gaussians * mixture.Features * mixture.Features)].ToArray(), FitRecord.Of(result, family.Prior is null ? 0 : mixture.ObjectiveCorrection()), family.CovarianceScaleExponent,
            parsimonious?.Model, parsimonious is { HasNoise: true } ? parsimonious.LogNoiseDensity : null)
        {
            MissingValues = marginal is null ? MissingValues.Reject : MissingValues.Marginalize,
        };
    }

    /// <summary>Whether the model evaluates data with missing values (NaN entries) by marginalising them (as it was fitted).</summary>
    public MissingValues MissingValues { get; private init; }

    /// <summary>
    /// This model's parameters with another handling of missing values (for a model rebuilt from stored parameters by
    /// <see cref="FromParameters"/>): the copy has no fit history.
    /// </summary>
    /// <param name="missingValues">How the copy evaluates NaN entries.</param>
    /// <returns>A new model.</returns>
    /// <exception cref="ArgumentException"><paramref name="missingValues"/> is unknown, or marginalisation is asked of a parameterization.</exception>
    public GaussianMixtureModel<T> WithMissingValues(MissingValues missingValues)
    {
        if (!Enum.IsDefined(missingValues) || (missingValues == MissingValues.Marginalize && Parameterization is not null))
        {
            throw new ArgumentException($"{missingValues} is not a handling of missing values for this model.", nameof(missingValues));
        }

        return new GaussianMixtureModel<T>(CovarianceType, Components, Features, Weights.ToArray(), _means, _covariances, null, CovarianceScaleExponent, Parameterization, LogNoiseDensity)
        {
            MissingValues = missingValues,
        };
    }

    /// <summary>
    /// The data with their missing values (NaN entries) replaced by their conditional means given each row's observed entries,
    /// E[x_h | x_o] = Σ_k p(k | x_o) (μ_k,h + Σ_k,ho Σ_k,oo⁻¹ (x_o − μ_k,o)), and the conditional variances of those entries
    /// (0 for observed ones): the completed table of a model fitted with <see cref="MissingValues.Marginalize"/>.
    /// </summary>
    /// <param name="data">N × D values, row-major, NaN where missing (every row with an observed value).</param>
    /// <param name="points">N.</param>
    /// <returns>N × D conditional means and N × D conditional variances, row-major.</returns>
    /// <exception cref="ArgumentException">The data do not fit the model, or a row has no observed value.</exception>
    public (double[] Values, double[] Variances) Impute(ReadOnlySpan<T> data, int points)
    {
        int d = Features, k = Components;
        if ((long)points * d != data.Length)
        {
            throw new ArgumentException($"The data hold {data.Length} values; {points} points of {d} features are {(long)points * d}.", nameof(data));
        }

        var marginal = new MarginalGaussianComponents<T>(CreateFamily(this));
        double[] logWeights = Weights.ToArray().Select(w => Math.Log(w)).ToArray();
        marginal.PrepareExpectation(logWeights, reshift: true);
        double[] values = new double[points * d], variances = new double[points * d];
        double[] x = new double[d], mean = new double[k * d], covariance = new double[d * d], second = new double[d], log = new double[k];
        for (int n = 0; n < points; n++)
        {
            int observed = 0;
            for (int f = 0; f < d; f++)
            {
                x[f] = double.CreateTruncating(data[(n * d) + f]);
                observed += double.IsNaN(x[f]) ? 0 : 1;
                if (double.IsInfinity(x[f]))
                {
                    throw new ArgumentException($"The data contain {x[f]} at row {n}, column {f}; every value must be finite or missing (NaN).", nameof(data));
                }
            }

            if (observed == 0)
            {
                throw new ArgumentException($"Row {n} has no observed value; a row needs at least one.", nameof(data));
            }

            Array.Clear(second);
            double max = double.NegativeInfinity;
            for (int j = 0; j < k; j++)
            {
                log[j] = logWeights[j] + marginal.ConditionalMoments(x, j, mean.AsSpan(j * d, d), covariance);
                max = Math.Max(max, log[j]);
            }

            double total = 0;
            for (int j = 0; j < k; j++)
            {
                log[j] = Math.Exp(log[j] - max);
                total += log[j];
            }

            for (int j = 0; j < k; j++)
            {
                double r = log[j] / total;
                marginal.ConditionalMoments(x, j, mean.AsSpan(j * d, d), covariance);
                for (int f = 0; f < d; f++)
                {
                    double m = mean[(j * d) + f];
                    values[(n * d) + f] += r * m;
                    second[f] += r * (covariance[(f * d) + f] + (m * m));
                }
            }

            for (int f = 0; f < d; f++)
            {
                if (!double.IsNaN(x[f]))
                {
                    values[(n * d) + f] = x[f];
                    variances[(n * d) + f] = 0;
                }
                else
                {
                    variances[(n * d) + f] = Math.Max(second[f] - (values[(n * d) + f] * values[(n * d) + f]), 0);
                }
            }
        }

        return (values, variances);
    }

    /// <summary>
    /// A model with the given parameters, for evaluating and sampling parameters stored or computed elsewhere
    /// (a saved model, another library's fit). It has no fit history: <see cref="MixtureModel{T}.Iterations"/> is 0,
    /// <see cref="MixtureModel{T}.Converged"/> false and <see cref="MixtureModel{T}.MeanLogLikelihood"/> throws.
    /// </summary>
    /// <param name="covarianceType">The covariance type.</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="weights">K ≥ 1 finite non-negative weights summing to 1 (within 1e-6).</param>
    /// <param name="means">K × D finite means, row-major.</param>
    /// <param name="covariances">Covariances in the type's layout (see the remarks on the type): symmetric positive definite matrices, or positive variances; Σ·2^(−2q).</param>
    /// <param name="covarianceScaleExponent">q (see <see cref="CovarianceScaleExponent"/>); 0 for covariances given as they are.</param>
    /// <returns>The model; it holds copies of the arrays.</returns>
    /// <exception cref="ArgumentNullException">An array is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="covarianceType"/> is unknown, D &lt; 1 or K = 0.</exception>
    /// <exception cref="ArgumentException">A length or value is invalid; the message says which.</exception>
    /// <param name="parameterization">mclust's parameterization the covariances follow (then <paramref name="covarianceType"/> is <see cref="CovarianceType.Full"/>), for BIC and for continuing the fit; null for none.</param>
    public static GaussianMixtureModel<T> FromParameters(
        CovarianceType covarianceType, int features, double[] weights, double[] means, double[] covariances, int covarianceScaleExponent = 0, ParsimoniousModel? parameterization = null)
    {
        if (parameterization is { } p && (!Enum.IsDefined(p) || covarianceType != CovarianceType.Full || ((p is ParsimoniousModel.E or ParsimoniousModel.V) != (features == 1))))
        {
            throw new ArgumentOutOfRangeException(nameof(parameterization), parameterization, "A parameterization needs CovarianceType.Full (its layout); E and V are for D = 1, the others for D ≥ 2.");
        }

        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(means);
        ArgumentNullException.ThrowIfNull(covariances);
        if (!Enum.IsDefined(covarianceType))
        {
            throw new ArgumentOutOfRangeException(nameof(covarianceType), covarianceType, "Unknown covariance type.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        if (weights.Length == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(weights), "A mixture needs at least one component.");
        }

        var given = GivenParameters.Check(
            covarianceType, weights.Length, features, weights, means, covariances, null, nameof(weights), nameof(means), nameof(covariances), nameof(covariances));
        if (Math.Abs((long)covarianceScaleExponent) > 1100)
        {
            throw new ArgumentOutOfRangeException(nameof(covarianceScaleExponent), covarianceScaleExponent, "A covariance scale beyond 2^±1100 scales no double.");
        }

        return new GaussianMixtureModel<T>(covarianceType, weights.Length, features, given.Weights!, given.Means!, given.Covariances!, null, covarianceScaleExponent, parameterization);
    }

    /// <summary>
    /// Builds a model with mclust's noise component from its parameters: G Gaussian components of a parameterization and the
    /// noise component, of constant log-density <paramref name="logNoiseDensity"/>, after them.
    /// </summary>
    /// <param name="parameterization">The Gaussian components' parameterization.</param>
    /// <param name="logNoiseDensity">log(1/V) of the noise component, in the data's units (finite).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="weights">G + 1 weights summing to 1, the noise component's last.</param>
    /// <param name="means">G × D means.</param>
    /// <param name="covariances">G full D × D covariances.</param>
    /// <param name="covarianceScaleExponent">As <see cref="CovarianceScaleExponent"/>.</param>
    /// <returns>The model; it holds copies of the arrays.</returns>
    /// <exception cref="ArgumentNullException">An array is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The parameterization does not fit D, the log-density is not finite, or G = 0.</exception>
    /// <exception cref="ArgumentException">A length or value is invalid; the message says which.</exception>
    public static GaussianMixtureModel<T> FromNoiseParameters(
        ParsimoniousModel parameterization, double logNoiseDensity, int features, double[] weights, double[] means, double[] covariances, int covarianceScaleExponent)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (!double.IsFinite(logNoiseDensity))
        {
            throw new ArgumentOutOfRangeException(nameof(logNoiseDensity), logNoiseDensity, "Must be finite.");
        }

        if (weights.Length < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(weights), "A mixture with noise needs G ≥ 1 Gaussian weights and the noise's.");
        }

        double[] checkedWeights = MixtureSetup.StartWeights(weights, weights.Length, nameof(weights));
        double total = 0;
        for (int k = 0; k < weights.Length - 1; k++)
        {
            total += checkedWeights[k];
        }

        // The Gaussians' parameters are checked as a mixture of their own (their weights renormalised).
        GaussianMixtureModel<T> gaussians = FromParameters(
            CovarianceType.Full, features, total > 0 ? checkedWeights[..^1].Select(w => w / total).ToArray() : Enumerable.Repeat(1.0 / (weights.Length - 1), weights.Length - 1).ToArray(),
            means, covariances, covarianceScaleExponent, parameterization);
        return new GaussianMixtureModel<T>(CovarianceType.Full, weights.Length, features, checkedWeights, gaussians._means, gaussians._covariances, null, covarianceScaleExponent, parameterization, logNoiseDensity);
    }

    /// <summary>The covariance type.</summary>
    public CovarianceType CovarianceType { get; }

    /// <summary>
    /// With mclust's noise component: log(1/V), its constant log-density in the data's units; null without one. The noise
    /// component is the last of the <see cref="MixtureModel{T}.Components"/> (its weight last, its label G, its column of the
    /// responsibilities last); <see cref="Means"/>, <see cref="Covariances"/> and <see cref="PrecisionsCholesky"/> hold the
    /// G = <see cref="Gaussians"/> Gaussian components only.
    /// </summary>
    public double? LogNoiseDensity { get; }

    /// <summary>Whether the model has mclust's noise component (<see cref="LogNoiseDensity"/>).</summary>
    public bool HasNoise => LogNoiseDensity is not null;

    /// <summary>G, the Gaussian components: K, or K − 1 with a noise component.</summary>
    public int Gaussians => HasNoise ? Components - 1 : Components;

    /// <summary>G × D means, row-major (G = <see cref="Gaussians"/>).</summary>
    public ReadOnlySpan<double> Means => _means;

    /// <summary>Covariances in the type's layout (see the remarks on the type), as Σ·2^(−2·<see cref="CovarianceScaleExponent"/>).</summary>
    public ReadOnlySpan<double> Covariances => _covariances;

    /// <summary>
    /// q: <see cref="Covariances"/> (and <see cref="PrecisionsCholesky"/>, of them) hold Σ·2^−2q. 0 unless Σ itself
    /// is not representable in double — data whose spread is beyond about 10^±154 — when the model keeps it
    /// scaled and evaluates, samples and reports log-determinants exactly all the same.
    /// </summary>
    public int CovarianceScaleExponent { get; }

    /// <summary>Cholesky factors of the precisions in the type's layout (see the remarks on the type).</summary>
    public ReadOnlySpan<double> PrecisionsCholesky => _precisionsCholesky;

    /// <summary>mclust's covariance parameterization the fit followed, or null (the covariance type's own).</summary>
    public ParsimoniousModel? Parameterization { get; }

    /// <summary>
    /// Free parameters: G·D means, the covariances' free entries (a parameterization's, as mclust counts them) and K − 1 weights
    /// (as scikit-learn counts them); with a noise component also its hypervolume (as mclust counts it).
    /// </summary>
    public override int ParameterCount => (Parameterization is { } p
        ? ParsimoniousComponents<T>.CovarianceParameterCount(p, Gaussians, Features) + (Gaussians * Features)
        : GaussianComponents<T>.DensityParameterCount(CovarianceType, Components, Features)) + Components - 1 + (HasNoise ? 1 : 0);

    /// <summary>Component <paramref name="component"/>'s covariance as a full D × D matrix (row-major), whatever the type.</summary>
    /// <param name="component">0-based component.</param>
    /// <returns>A new D × D array.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="component"/> is not in 0 … G − 1 (a Gaussian component), or D × D values would not fit one array (read <see cref="Covariances"/> of a diagonal or spherical model instead).</exception>
    public double[] ComponentCovariance(int component)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(component);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(component, Gaussians);
        if ((long)Features * Features > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(component), component, $"A {Features} × {Features} matrix does not fit one array; {CovarianceType} covariances are in Covariances.");
        }

        double[] matrix = new double[Features * Features];
        GaussianComponents<T>.FullCovariance(CovarianceType, Features, _covariances, component, matrix);
        if (CovarianceScaleExponent != 0)
        {
            foreach (ref double value in matrix.AsSpan())
            {
                value = Math.ScaleB(value, 2 * CovarianceScaleExponent); // ±∞ where Σ is beyond double's range
            }
        }

        return matrix;
    }

    /// <summary>log det Σ_k of component <paramref name="component"/> (from the precision Cholesky factor: −2 Σ_j log U_jj).</summary>
    /// <param name="component">0-based component.</param>
    /// <returns>The log-determinant.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="component"/> is not in 0 … G − 1.</exception>
    public double LogDeterminant(int component)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(component);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(component, Gaussians);
        int d = Features;
        double sum = 0;
        switch (CovarianceType)
        {
            case CovarianceType.Full:
            case CovarianceType.Tied:
                int offset = CovarianceType == CovarianceType.Full ? component * d * d : 0;
                for (int j = 0; j < d; j++)
                {
                    sum += Math.Log(_precisionsCholesky[offset + j * d + j]);
                }

                return -2 * sum + Scale();
            case CovarianceType.Diagonal:
                for (int j = 0; j < d; j++)
                {
                    sum += Math.Log(_covariances[component * d + j]);
                }

                return sum + Scale();
            default:
                return d * Math.Log(_covariances[component]) + Scale();
        }

        double Scale() => 2.0 * CovarianceScaleExponent * d * Math.Log(2);
    }

    /// <inheritdoc cref="MixtureModel{T}.Predict(ReadOnlySpan{T}, int)"/>
    public int[] Predict(T[,] data) => Predict(RowMajor(data, out int points), points);

    /// <inheritdoc cref="MixtureModel{T}.PredictProbabilities(ReadOnlySpan{T}, int)"/>
    public T[] PredictProbabilities(T[,] data) => PredictProbabilities(RowMajor(data, out int points), points);

    /// <inheritdoc cref="MixtureModel{T}.ScoreSamples(ReadOnlySpan{T}, int)"/>
    public double[] ScoreSamples(T[,] data) => ScoreSamples(RowMajor(data, out int points), points);

    /// <inheritdoc/>
    private protected override void SampleCore(Span<T> points, Span<int> labels, Random random)
    {
        if (HasNoise)
        {
            throw new NotSupportedException("The noise component is uniform over a region the model does not hold (only its volume): a model with noise does not sample.");
        }

        int d = Features;
        double[] factors = SamplingFactors();
        Span<double> z = d <= 256 ? stackalloc double[d] : new double[d];
        for (int i = 0; i < labels.Length; i++)
        {
            int k = MixtureSetup.Draw(random, Weights);
            labels[i] = k;
            for (int a = 0; a < d; a++)
            {
                z[a] = StandardNormal.Next(random);
            }

            for (int a = 0; a < d; a++)
            {
                double deviation = 0;
                for (int b = 0; b <= a; b++)
                {
                    deviation += factors[k * d * d + a * d + b] * z[b];
                }

                points[i * d + a] = T.CreateTruncating(_means[k * d + a] + Math.ScaleB(deviation, CovarianceScaleExponent));
            }
        }
    }

    /// <summary>The K covariance Cholesky factors L (Σ = L Lᵀ) that turn standard normal draws into the components' draws; made once per model.</summary>
    private double[] SamplingFactors()
    {
        if (_samplingFactors is { } made)
        {
            return made;
        }

        int d = Features;
        double[] factors = new double[Components * d * d];
        double[] lower = new double[d * d];
        double[] covariance = new double[d * d];
        for (int k = 0; k < Components; k++)
        {
            GaussianComponents<T>.FullCovariance(CovarianceType, d, _covariances, k, covariance);
            DenseMatrix.TryCholesky(covariance, d, lower);
            lower.CopyTo(factors, k * d * d);
        }

        _samplingFactors = factors;
        return factors;
    }


    /// <inheritdoc/>
    public override FiniteMixture<T> ToFiniteMixture()
    {
        GaussianComponents<T> gaussian = CreateFamily(this);
        ComponentFamily<T> family = MissingValues == MissingValues.Marginalize ? new MarginalGaussianComponents<T>(gaussian) : gaussian;
        var mixture = new FiniteMixture<T>(family, MixtureInitialization.Current);
        mixture.SetWeights(Weights);
        return mixture;
    }

    /// <summary>Evaluation runs about the weighted average of the means, so that data far from the origin keep their precision and a point's results do not depend on the others evaluated with it.</summary>
    private protected override double[]? EvaluationCentre() => WeightedCentre(_means, Gaussians);

    /// <summary>The engine's components holding this model's parameters (reg_covar 0: they are evaluated, not fitted).</summary>
    private static GaussianComponents<T> CreateFamily(GaussianMixtureModel<T> model)
    {
        GaussianComponents<T> family = model.Parameterization is { } p
            ? new ParsimoniousComponents<T>(p, model.Gaussians, model.Features, model.LogNoiseDensity)
            : GaussianComponents<T>.Create(model.CovarianceType, model.Components, model.Features, 0);
        model._means.CopyTo(family.Means);
        model._covariances.CopyTo(family.Covariances);

        family.CovarianceScaleExponent = model.CovarianceScaleExponent;
        return family;
    }

    private static T[] RowMajor(T[,] data, out int points)
    {
        ArgumentNullException.ThrowIfNull(data);
        points = data.GetLength(0);
        T[] values = new T[data.Length];
        int i = 0;
        foreach (T value in data)
        {
            values[i++] = value;
        }

        return values;
    }
}
