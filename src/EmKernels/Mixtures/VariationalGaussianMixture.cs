using System.Numerics;
using System.Runtime.CompilerServices;
using EmKernels.Engine;
using EmKernels.Kernels;
using EmKernels.Kernels.Common;
using EmKernels.Numerics;

namespace EmKernels.Mixtures;

/// <summary>
/// A Gaussian mixture fitted by mean-field variational Bayes, as a model of the EM engine: q(π) q(μ, Λ) q(z) with a
/// Dirichlet-distribution or Dirichlet-process prior on the weights and a Normal–Wishart prior on each component
/// (<see cref="BayesianMixturePrior"/>), scikit-learn's <c>BayesianGaussianMixture</c> computation. The E-step is the
/// Gaussian mixture's fused kernel pass under the means m_k and the covariances C_k = E[Λ_k]⁻¹, with E[log π_k] and
/// the expected log-determinant folded into each component's constant; the M-step updates the variational
/// parameters from the same sufficient statistics.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
/// <remarks>
/// <para>The objective is the evidence lower bound (ELBO), in full: per point, log Σ_k exp(E[log π_k] + E[log N(x | μ_k, Λ_k⁻¹)])
/// — the bound maximized over q(z) under the current q(π, μ, Λ) — minus KL(q(π, μ, Λ) ‖ p(π, μ, Λ)) for the whole data,
/// every normalizing constant included. Coordinate ascent never decreases it, and the drivers check that it does
/// not. scikit-learn's <c>lower_bound_</c> is a different number (<see cref="ScikitLearnLowerBound"/>): it drops terms
/// constant given N, D, K and the prior, and it pairs q(π, μ, Λ) with the responsibilities that made it rather than with
/// those it implies.</para>
/// <para>For diagonal and spherical covariances each q(Λ_k) is a Wishart distribution whose scale matrix is
/// restricted to be diagonal or a multiple of the identity (the optimum of that family is scikit-learn's update, and
/// its expected log-determinant the full Wishart one); for tied covariances the K precisions have independent priors
/// and share one q(Λ), which is scikit-learn's tied update. The bound is exact for these families.</para>
/// <para>The flat parameter vector is N_k (K expected counts, with scikit-learn's 10ε), m_k (K × D), C_k (the
/// covariance layout of <see cref="GaussianMixtureModel{T}.Covariances"/>), then the entropy −Σ w r ln r of the
/// responsibilities the last M-step used. β_k, ν_k and the weights' concentrations follow from N_k and the prior.</para>
/// </remarks>
public sealed class VariationalGaussianMixture<T> : IMixtureModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private const double TenEpsilon = 10 * 2.220446049250313e-16;
    private readonly GaussianComponents<T> _kernels;
    private readonly double[] _counts;
    private readonly double[] _means;
    private readonly double[] _covariances;
    private readonly double[] _logWeights;
    private readonly double[] _scratch;
    private readonly double[] _inverse;
    private readonly double[] _pooled;
    private readonly double[] _meanTerm;
    private readonly double[] _origin;
    private double _entropy;
    private double _objectiveCorrection;
    private int _frameExponent;
    private int _weightExponent;
    private double[] _priorMean = [];
    private double[] _priorCovariance = [];
    private double _weightConcentration;
    private double _meanPrecision;
    private double _degreesOfFreedom;
    private bool _priorResolved;
    private double[]? _initialResponsibilities;

    /// <summary>A variational Gaussian mixture with K components; the prior is resolved from the data at the first fit when null.</summary>
    /// <param name="covarianceType">The covariance type.</param>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="weightPrior">The prior on the weights.</param>
    /// <param name="prior">The prior, or null for scikit-learn's data-dependent defaults (see <see cref="BayesianMixturePrior"/>).</param>
    /// <param name="regularization">reg_covar (≥ 0, finite): added to each component's maximum-likelihood covariance before the Wishart update, as scikit-learn does.</param>
    /// <param name="initialization">How each run starts.</param>
    /// <exception cref="ArgumentOutOfRangeException">A count or the regularization is out of range, or an enum value is unknown.</exception>
    /// <exception cref="ArgumentException">The prior is invalid (the message says which value).</exception>
    public VariationalGaussianMixture(
        CovarianceType covarianceType, int components, int features, WeightPrior weightPrior, BayesianMixturePrior? prior = null,
        double regularization = 1e-6, MixtureInitialization initialization = MixtureInitialization.KMeans)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(components, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        if (!Enum.IsDefined(covarianceType))
        {
            throw new ArgumentOutOfRangeException(nameof(covarianceType), covarianceType, "Unknown covariance type.");
        }

        if (!Enum.IsDefined(weightPrior))
        {
            throw new ArgumentOutOfRangeException(nameof(weightPrior), weightPrior, "Unknown weight prior.");
        }

        if (!Enum.IsDefined(initialization))
        {
            throw new ArgumentOutOfRangeException(nameof(initialization), initialization, "Unknown initialization.");
        }

        if (!(regularization >= 0) || double.IsInfinity(regularization))
        {
            throw new ArgumentOutOfRangeException(nameof(regularization), regularization, "Must be finite and non-negative.");
        }

        CovarianceType = covarianceType;
        Components = components;
        Features = features;
        WeightPrior = weightPrior;
        Regularization = regularization;
        Initialization = initialization;
        _kernels = GaussianComponents<T>.Create(covarianceType, components, features, regularization);
        _counts = new double[components];
        _means = new double[components * features];
        _covariances = _kernels.Covariances.ToArray();
        _logWeights = new double[components];
        int d = features;
        _scratch = new double[4 * d + d * d];
        _inverse = new double[3 * d * d];
        _origin = new double[d];
        _pooled = new double[d * d];
        _meanTerm = new double[d * d];
        StatisticsLayout = Layout();
        if (prior is not null)
        {
            Prior = prior;
        }
    }

    /// <summary>The covariance type.</summary>
    public CovarianceType CovarianceType { get; }

    /// <inheritdoc/>
    public int Components { get; }

    /// <inheritdoc/>
    public int Features { get; }

    /// <summary>The prior on the weights.</summary>
    public WeightPrior WeightPrior { get; }

    /// <summary>reg_covar, in the user's units.</summary>
    public double Regularization { get; }

    /// <summary>How each run starts (ignored while <see cref="InitialResponsibilities"/> are set).</summary>
    public MixtureInitialization Initialization { get; set; }

    /// <summary>
    /// The prior, in the current frame (the user's units outside a fit; Ψ₀ × 2^−2q, see <see cref="CovarianceScaleExponent"/>);
    /// null until given or resolved from the data by the first fit.
    /// </summary>
    /// <exception cref="ArgumentException">The prior set is invalid.</exception>
    public BayesianMixturePrior? Prior
    {
        get => _priorResolved ? new BayesianMixturePrior(_weightConcentration, _meanPrecision, [.. _priorMean], _degreesOfFreedom, [.. _priorCovariance]) : null;
        set
        {
            if (value is null)
            {
                _priorResolved = false;
                return;
            }

            value.Validate(CovarianceType, Features, nameof(value));
            _weightConcentration = value.WeightConcentration;
            _meanPrecision = value.MeanPrecision;
            _priorMean = [.. value.Mean];
            _degreesOfFreedom = value.DegreesOfFreedom;
            _priorCovariance = [.. value.Covariance];
            _priorResolved = true;
        }
    }

    /// <summary>
    /// Responsibilities to start every run from (N × K, row-major, used as given: scikit-learn's
    /// <c>_initialize(X, resp)</c>, an M-step of them), or null.
    /// </summary>
    /// <exception cref="ArgumentException">A value is negative or not finite.</exception>
    public double[]? InitialResponsibilities
    {
        get => _initialResponsibilities;
        set
        {
            if (value is not null && (value.Length % Components != 0 || value.Any(r => !(r >= 0) || double.IsInfinity(r))))
            {
                throw new ArgumentException($"Initial responsibilities must be N × {Components} finite non-negative values.", nameof(value));
            }

            _initialResponsibilities = value;
        }
    }

    /// <summary>The parts of the prior an estimator's options give (the rest from the data), for <see cref="ResolvePrior"/>.</summary>
    internal BayesianGaussianMixtureOptions? PriorChoices { get; set; }

    /// <summary>N_k = Σ w r_k + 10ε: the expected number of points of each component (in the user's weight units).</summary>
    public ReadOnlySpan<double> ExpectedCounts => _counts;

    /// <summary>m_k, the means of q(μ_k) (K × D, row-major).</summary>
    public ReadOnlySpan<double> Means => _means;

    /// <summary>C_k = E[Λ_k]⁻¹ = (ν_k W_k)⁻¹ (scikit-learn's <c>covariances_</c>), in the covariance type's layout, × 2^−2q (<see cref="CovarianceScaleExponent"/>).</summary>
    public ReadOnlySpan<double> Covariances => _covariances;

    /// <summary>
    /// q: <see cref="Covariances"/> and the prior's Ψ₀ hold their values × 2^−2q. 0 unless those are not representable in double
    /// (data whose spread is beyond about 10^±154); not part of the parameter vector.
    /// </summary>
    public int CovarianceScaleExponent { get; set; }

    /// <summary>Writable parameters for building a model from values: N_k, m_k and C_k (call <see cref="IExpectationMaximizationModel{T}.ReadParameters"/> for all at once).</summary>
    internal Span<double> CountsForWriting => _counts;

    /// <inheritdoc/>
    public int FreeParameterCount => GaussianComponents<T>.DensityParameterCount(CovarianceType, Components, Features) + Components - 1;

    /// <inheritdoc/>
    public StatisticsLayout StatisticsLayout { get; }

    /// <inheritdoc/>
    public int ParameterLength => _counts.Length + _means.Length + _covariances.Length + 1;

    /// <inheritdoc/>
    public bool SupportsTranslation => true;

    /// <summary>β_k = β₀ + N_k.</summary>
    /// <param name="component">0-based k.</param>
    /// <returns>β_k.</returns>
    public double MeanPrecision(int component) => RequirePrior()._meanPrecision + _counts[component];

    /// <summary>ν_k = ν₀ + N_k (tied: the one ν = ν₀ + Σ_k N_k / K).</summary>
    /// <param name="component">0-based k.</param>
    /// <returns>ν_k.</returns>
    public double DegreesOfFreedom(int component)
    {
        RequirePrior();
        if (CovarianceType != CovarianceType.Tied)
        {
            return _degreesOfFreedom + _counts[component];
        }

        double total = 0;
        foreach (double n in _counts)
        {
            total += n;
        }

        return _degreesOfFreedom + (total / Components);
    }

    /// <summary>
    /// The concentrations of q(π): Dirichlet distribution α_k = γ + N_k (K values); Dirichlet process the Beta parameters
    /// a_k = 1 + N_k then b_k = γ + Σ_{j&gt;k} N_j (2K values), scikit-learn's <c>weight_concentration_</c>.
    /// </summary>
    /// <returns>A new array.</returns>
    public double[] WeightConcentrations()
    {
        RequirePrior();
        int k = Components;
        if (WeightPrior == WeightPrior.DirichletDistribution)
        {
            return _counts.Select(n => _weightConcentration + n).ToArray();
        }

        double[] result = new double[2 * k];
        double tail = 0;
        for (int j = k - 1; j >= 0; j--)
        {
            result[j] = 1 + _counts[j];
            result[k + j] = _weightConcentration + tail;
            tail += _counts[j];
        }

        return result;
    }

    /// <summary>
    /// E[π_k] under q, renormalized to sum to 1 (scikit-learn's <c>weights_</c>): α_k / Σ α, or for the Dirichlet process the
    /// expected stick lengths E[v_k] Π_{j&lt;k} E[1 − v_j] divided by their sum.
    /// </summary>
    /// <returns>A new array of K weights.</returns>
    public double[] ExpectedWeights()
    {
        double[] c = WeightConcentrations();
        int k = Components;
        double[] weights = new double[k];
        if (WeightPrior == WeightPrior.DirichletDistribution)
        {
            double sum = c.Sum();
            for (int j = 0; j < k; j++)
            {
                weights[j] = c[j] / sum;
            }

            return weights;
        }

        double remaining = 1, total = 0;
        for (int j = 0; j < k; j++)
        {
            double a = c[j], b = c[k + j];
            weights[j] = a / (a + b) * remaining;
            remaining *= b / (a + b);
            total += weights[j];
        }

        for (int j = 0; j < k; j++)
        {
            weights[j] /= total;
        }

        return weights;
    }

    /// <summary>
    /// scikit-learn's <c>lower_bound_</c> for the current parameters and the responsibilities the last M-step used: −Σ r ln r
    /// − Σ_k ln B(W_k, ν_k) − ln C(α) − ½ D Σ_k ln β_k, with the Wishart normalizers without their π terms (tied: K times
    /// the one), a sum over the data, not per point. It is the ELBO of that pair up to terms constant given N, D, K and
    /// the prior; the engine's objective is the full ELBO (see the class remarks).
    /// </summary>
    /// <returns>The bound.</returns>
    public double ScikitLearnLowerBound()
    {
        RequirePrior();
        int d = Features, k = Components;
        double bound = _entropy;
        double logTwo = Math.Log(2);
        for (int j = 0; j < (CovarianceType == CovarianceType.Tied ? 1 : k); j++)
        {
            double nu = DegreesOfFreedom(j);
            double logDetC = CovarianceLogDeterminant(j, null) + (2.0 * (CovarianceScaleExponent - _frameExponent) * d * logTwo);
            double logGammas = 0;
            for (int i = 0; i < d; i++)
            {
                logGammas += SpecialFunctions.LogGamma((nu - i) / 2);
            }

            double logB = -((nu * ((-0.5 * logDetC) - (0.5 * d * Math.Log(nu)))) + (0.5 * nu * d * logTwo) + logGammas);
            bound -= CovarianceType == CovarianceType.Tied ? k * logB : logB;
        }

        double[] c = WeightConcentrations();
        if (WeightPrior == WeightPrior.DirichletDistribution)
        {
            double logC = SpecialFunctions.LogGamma(c.Sum());
            foreach (double alpha in c)
            {
                logC -= SpecialFunctions.LogGamma(alpha);
            }

            bound -= logC;
        }
        else
        {
            for (int j = 0; j < k; j++)
            {
                bound += LogBeta(c[j], c[k + j]);
            }
        }

        for (int j = 0; j < k; j++)
        {
            bound -= 0.5 * d * Math.Log(MeanPrecision(j));
        }

        return bound;
    }

    /// <inheritdoc/>
    public void Translate(ReadOnlySpan<double> offset)
    {
        int d = Features;
        for (int j = 0; j < _priorMean.Length; j++)
        {
            _priorMean[j] += offset[j];
        }

        for (int a = 0; a < d; a++)
        {
            _origin[a] += offset[a];
        }

        for (int k = 0; k < Components; k++)
        {
            for (int a = 0; a < d; a++)
            {
                _means[k * d + a] += offset[a];
            }
        }
    }

    /// <inheritdoc/>
    public int FrameScaleExponent(DataSummary? summary)
    {
        if (CovarianceScaleExponent != 0)
        {
            return CovarianceScaleExponent;
        }

        _covariances.CopyTo(_kernels.Covariances);
        return _kernels.FrameScaleExponent(summary);
    }

    /// <inheritdoc/>
    public void ScaleFrame(int exponent)
    {
        _frameExponent += exponent;
        Scale(_means, exponent);
        Scale(_priorMean, exponent);
        Scale(_origin, exponent);

        // The covariances (and Ψ₀, in the same units) stay scaled by 2^−2q where C itself is not representable.
        int q = CovarianceScaleExponent + exponent;
        if (q != 0 && Representable(_covariances, 2 * q) && Representable(_priorCovariance, 2 * q))
        {
            Scale(_covariances, 2 * q);
            Scale(_priorCovariance, 2 * q);
            q = 0;
        }

        CovarianceScaleExponent = q;

        static void Scale(Span<double> values, int exponent)
        {
            foreach (ref double value in values)
            {
                value = Math.ScaleB(value, exponent);
            }
        }
    }

    /// <inheritdoc/>
    public void ScaleWeights(int exponent) => _weightExponent += exponent;

    /// <summary>Whether every entry of a covariance layout × 2^<paramref name="twice"/> is finite and every variance stays a normal number.</summary>
    private bool Representable(ReadOnlySpan<double> covariances, int twice)
    {
        int d = Features;
        bool matrix = CovarianceType is CovarianceType.Full or CovarianceType.Tied;
        for (int i = 0; i < covariances.Length; i++)
        {
            double scaled = Math.ScaleB(covariances[i], twice);
            bool variance = !matrix || (i % (d * d) % (d + 1) == 0);
            if (!double.IsFinite(scaled) || (variance && covariances[i] > 0 && !double.IsNormal(scaled)))
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc/>
    public void WriteParameters(Span<double> destination)
    {
        _counts.CopyTo(destination);
        _means.CopyTo(destination[_counts.Length..]);
        _covariances.CopyTo(destination[(_counts.Length + _means.Length)..]);
        destination[ParameterLength - 1] = _entropy;
    }

    /// <inheritdoc/>
    public void ReadParameters(ReadOnlySpan<double> source)
    {
        int k = _counts.Length, m = _means.Length;
        source[..k].CopyTo(_counts);
        source.Slice(k, m).CopyTo(_means);
        source.Slice(k + m, _covariances.Length).CopyTo(_covariances);
        _entropy = source[ParameterLength - 1];
    }

    /// <inheritdoc/>
    public int WorkspaceLength(int tilePoints) => (2 * Components * tilePoints) + _kernels.WorkspaceLength(tilePoints);

    /// <inheritdoc/>
    public void Validate(in DataTile<T> tile)
    {
        TileChecks.RequireFinite(tile);
        if (!tile.Labels.IsEmpty)
        {
            throw new ArgumentException("A variational mixture does not take known components.", "labels");
        }
    }

    /// <inheritdoc/>
    public bool Initialize(ModelInitialization<T> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        int k = Components, d = Features;
        if (CovarianceScaleExponent != 0 && (_initialResponsibilities is not null || Initialization != MixtureInitialization.Current))
        {
            // Covariances that were not representable in the fit's frame (a fresh model's, entering the frame of data beyond
            // 10^±154) are replaced by the start; the prior's Ψ₀ moves into the frame's units.
            foreach (ref double value in _priorCovariance.AsSpan())
            {
                value = Math.ScaleB(value, 2 * CovarianceScaleExponent);
            }

            CovarianceScaleExponent = 0;
        }

        if (context.Restart == 0 && !_priorResolved)
        {
            ResolvePrior(context);
        }

        if (_initialResponsibilities is { } given)
        {
            if (given.Length != context.Summary.Points * k)
            {
                throw new ArgumentException($"The initial responsibilities hold {given.Length / k} rows; the data have {context.Summary.Points}.", nameof(InitialResponsibilities));
            }

            StartNeutral(null);
            MaximizeFrom(context, (in DataTile<T> tile, Span<T> r) =>
            {
                int points = tile.Points;
                for (int i = 0; i < points; i++)
                {
                    for (int j = 0; j < k; j++)
                    {
                        r[j * points + i] = T.CreateTruncating(given[((tile.Start + i) * k) + j]);
                    }
                }
            });
            return true;
        }

        if (Initialization == MixtureInitialization.Current)
        {
            return true;
        }

        switch (Initialization)
        {
            case MixtureInitialization.KMeans:
            {
                double[] centres = KMeans.Centres(context, k);
                StartNeutral(centres);
                MaximizeFrom(context, new KMeansLabels<T>(centres, k, d).Fill);
                break;
            }

            case MixtureInitialization.Hierarchical when HierarchicalStart.Partition(context, k) is { } partition:
                StartNeutral(null);
                MaximizeFrom(context, partition.Fill);
                return true;

            case MixtureInitialization.Hierarchical:
                goto case MixtureInitialization.KMeans;

            case MixtureInitialization.RandomResponsibilities:
            {
                Random random = context.Random;
                StartNeutral(null);
                MaximizeFrom(context, (in DataTile<T> tile, Span<T> r) => MixtureSetup.RandomResponsibilities(random, k, tile.Points, r));
                break;
            }

            default:
            {
                // scikit-learn's random_from_data: responsibility 1 of K distinct random points, one per component.
                double[] points = KMeans.RandomPoints(context, k);
                var statistics = new SufficientStatistics(StatisticsLayout);
                points.CopyTo(statistics.Block(0));
                statistics.Block(1).Fill(Math.ScaleB(1.0, _weightExponent));
                Maximize(statistics);
                break;
            }
        }

        return false;
    }

    /// <inheritdoc/>
    public void PrepareExpectation(bool reshift)
    {
        RequirePrior();
        if (CovarianceScaleExponent != 0)
        {
            throw new InvalidOperationException(
                $"The covariances are held scaled by 2^{-2 * CovarianceScaleExponent} (their own values are beyond double's range); evaluate them in a frame of scale 2^{CovarianceScaleExponent}, as the library's drivers do.");
        }

        int d = Features, k = Components;
        double[] c = WeightConcentrations();
        double logTwo = Math.Log(2);

        // E[log π_k].
        if (WeightPrior == WeightPrior.DirichletDistribution)
        {
            double digammaSum = SpecialFunctions.Digamma(c.Sum());
            for (int j = 0; j < k; j++)
            {
                _logWeights[j] = SpecialFunctions.Digamma(c[j]) - digammaSum;
            }
        }
        else
        {
            double earlier = 0;
            for (int j = 0; j < k; j++)
            {
                double digammaTotal = SpecialFunctions.Digamma(c[j] + c[k + j]);
                _logWeights[j] = SpecialFunctions.Digamma(c[j]) - digammaTotal + earlier;
                earlier += SpecialFunctions.Digamma(c[k + j]) - digammaTotal;
            }
        }

        // + ½ (E[ln |Λ_k|] − ln |C_k⁻¹|) − D / (2 β_k): the kernel's Gaussian log-density under C_k supplies the rest.
        for (int j = 0; j < k; j++)
        {
            double nu = DegreesOfFreedom(j);
            _logWeights[j] += (0.5 * (WishartDigammaSum(nu, d) + (d * logTwo) - (d * Math.Log(nu)))) - (d / (2 * MeanPrecision(j)));
        }

        _means.CopyTo(_kernels.Means);
        _covariances.CopyTo(_kernels.Covariances);
        _kernels.PrepareExpectation(_logWeights, reshift);
        _objectiveCorrection = -Math.ScaleB(KullbackLeibler(), _weightExponent);
    }

    /// <inheritdoc/>
    public void AdoptShift(SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        _kernels.ReadShift(statistics.Shift);
    }

    /// <inheritdoc/>
    public void ResetStatistics(SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        _kernels.WriteShift(statistics.Shift);
        statistics.Clear();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public double Posterior(in DataTile<T> tile, Span<T> responsibilities, Span<T> pointLogLikelihoods, Span<T> workspace)
    {
        int k = Components, points = tile.Points;
        Span<T> logRho = responsibilities[..(k * points)];
        _kernels.LogProbabilities(tile, logRho, workspace[(k * points)..]);
        return MixtureKernels.Responsibilities<T>(logRho, k, points, pointLogLikelihoods, tile.SampleWeights);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public double Expectation(in DataTile<T> tile, SufficientStatistics? statistics, Span<T> workspace, Span<T> pointObjectives)
    {
        int block = Components * tile.Points;
        Span<T> r = workspace[..block];
        if (statistics is null)
        {
            return Posterior(tile, r, pointObjectives, workspace);
        }

        // The log-probabilities are kept (at the workspace's end) for the entropy of the responsibilities they give.
        Span<T> logRho = workspace[^block..];
        _kernels.LogProbabilities(tile, r, workspace[block..^block]);
        r.CopyTo(logRho);
        double objective = MixtureKernels.Responsibilities<T>(r, Components, tile.Points, pointObjectives, tile.SampleWeights);
        _kernels.Accumulate(tile, r, statistics);
        statistics.Block(4)[0] += Reductions.WeightedEntropy<T>(r, logRho, pointObjectives, Components, tile.Points, tile.SampleWeights);
        return objective;
    }

    /// <inheritdoc/>
    public bool Maximize(SufficientStatistics statistics, MaximizationContext context)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        Maximize(statistics);
        return false;
    }

    /// <inheritdoc/>
    public double ObjectiveCorrection() => _objectiveCorrection;

    /// <inheritdoc/>
    public double ObjectiveRoundingError() => _kernels.ObjectiveRoundingError();

    /// <summary>Stepwise EM would need implied statistics of q, which a variational mixture does not give: false.</summary>
    /// <param name="statistics">Unused.</param>
    /// <returns>False.</returns>
    public bool TryWriteImpliedStatistics(SufficientStatistics statistics) => false;

    /// <summary>
    /// The variational M-step (scikit-learn's, FORMAT §5.2): N_k = Σ w r + 10ε, β_k, m_k, ν_k and C_k from the statistics
    /// about the shift, reg_covar added to the maximum-likelihood covariance before the Wishart update.
    /// </summary>
    private void Maximize(SufficientStatistics statistics)
    {
        RequirePrior();
        int k = Components, d = Features;
        double s = Math.ScaleB(1.0, -_weightExponent);
        ReadOnlySpan<double> shift = statistics.Block(0), mass = statistics.Block(1), first = statistics.Block(2), second = statistics.Block(3);
        double reg = Math.ScaleB(Regularization, 2 * _frameExponent);
        double beta0 = _meanPrecision;
        Span<double> sum = _scratch.AsSpan(0, d);
        Span<double> e = _scratch.AsSpan(d, d);
        Span<double> f = _scratch.AsSpan(2 * d, d);
        Span<double> dev = _scratch.AsSpan(3 * d, d);
        Span<double> candidate = _scratch.AsSpan(4 * d, d * d);
        double total = 0;
        if (CovarianceType == CovarianceType.Tied)
        {
            for (int i = 0; i < d * d; i++)
            {
                _pooled[i] = s * second[i];
            }

            Array.Clear(_meanTerm);
        }

        for (int j = 0; j < k; j++)
        {
            double massJ = s * mass[j], n = massJ + TenEpsilon, beta = beta0 + n;
            total += n;
            double sumDev2 = 0, sumA = 0;
            for (int a = 0; a < d; a++)
            {
                // Σ w r x, the mean x̄ = Σ w r x / N_k, its offset from the shift, and d = x̄ − m₀.
                // (x̄ is taken about the user's origin o, as scikit-learn's Σ w r x / N_k is: with the 10ε, an empty component's
                // x̄ is the origin, not the frame's centre.)
                f[a] = s * first[j * d + a];
                sum[a] = f[a] + (massJ * (shift[j * d + a] - _origin[a]));
                double mean = _origin[a] + (sum[a] / n);
                e[a] = mean - shift[j * d + a];
                dev[a] = mean - _priorMean[a];
                sumDev2 += dev[a] * dev[a];
                _means[j * d + a] = ((beta0 * _priorMean[a]) + (n * mean)) / beta;
            }

            _counts[j] = n;
            double meanWeight = n * beta0 / beta;
            switch (CovarianceType)
            {
                case CovarianceType.Full:
                {
                    double nu = _degreesOfFreedom + n;
                    for (int a = 0; a < d; a++)
                    {
                        for (int b = a; b < d; b++)
                        {
                            // The scatter about x̄ from the moments about the shift: S2 − e fᵀ − f eᵀ + m e eᵀ.
                            double scatter = (s * second[((j * d) + a) * d + b]) - (e[a] * f[b]) - (f[a] * e[b]) + (massJ * e[a] * e[b]);
                            candidate[a * d + b] = (_priorCovariance[a * d + b] + scatter + (a == b ? reg * n : 0) + (meanWeight * dev[a] * dev[b])) / nu;
                        }
                    }

                    DenseMatrix.MirrorUpperToLower(candidate, d);
                    if (DenseMatrix.TryCholesky(candidate, d, _inverse.AsSpan(0, d * d)))
                    {
                        candidate.CopyTo(_covariances.AsSpan(j * d * d, d * d));
                    }

                    break;
                }

                case CovarianceType.Tied:
                    for (int a = 0; a < d; a++)
                    {
                        for (int b = a; b < d; b++)
                        {
                            _pooled[a * d + b] += (massJ * e[a] * e[b]) - (e[a] * f[b]) - (f[a] * e[b]);
                            _meanTerm[a * d + b] += n / beta * dev[a] * dev[b];
                        }
                    }

                    break;
                case CovarianceType.Diagonal:
                {
                    double nu = _degreesOfFreedom + n;
                    for (int a = 0; a < d; a++)
                    {
                        double scatter = (s * second[j * d + a]) - (2 * e[a] * f[a]) + (massJ * e[a] * e[a]);
                        double value = (_priorCovariance[a] + scatter + (reg * n) + (meanWeight * dev[a] * dev[a])) / nu;
                        if (value > 0)
                        {
                            _covariances[j * d + a] = value;
                        }
                    }

                    break;
                }

                default:
                {
                    double nu = _degreesOfFreedom + n;
                    for (int a = 0; a < d; a++)
                    {
                        sumA += (s * second[j * d + a]) - (2 * e[a] * f[a]) + (massJ * e[a] * e[a]);
                    }

                    double value = (_priorCovariance[0] + (sumA / d) + (reg * n) + (meanWeight * sumDev2 / d)) / nu;
                    if (value > 0)
                    {
                        _covariances[j] = value;
                    }

                    break;
                }
            }
        }

        if (CovarianceType == CovarianceType.Tied)
        {
            double nu = _degreesOfFreedom + (total / k);
            for (int a = 0; a < d; a++)
            {
                for (int b = a; b < d; b++)
                {
                    candidate[a * d + b] = (_priorCovariance[a * d + b] + ((_pooled[a * d + b] + (a == b ? reg * total : 0)) / k) + (beta0 / k * _meanTerm[a * d + b])) / nu;
                }
            }

            DenseMatrix.MirrorUpperToLower(candidate, d);
            if (DenseMatrix.TryCholesky(candidate, d, _inverse.AsSpan(0, d * d)))
            {
                candidate.CopyTo(_covariances);
            }
        }

        _entropy = -s * statistics.Block(4)[0];
    }

    /// <summary>KL(q(π, μ, Λ) ‖ p(π, μ, Λ)) of the current parameters (frame-invariant).</summary>
    private double KullbackLeibler()
    {
        int d = Features, k = Components;
        double[] c = WeightConcentrations();
        double gamma = _weightConcentration, kl = 0;
        if (WeightPrior == WeightPrior.DirichletDistribution)
        {
            double sum = c.Sum(), digammaSum = SpecialFunctions.Digamma(sum);
            kl = SpecialFunctions.LogGamma(sum) - SpecialFunctions.LogGamma(k * gamma) + (k * SpecialFunctions.LogGamma(gamma));
            foreach (double alpha in c)
            {
                kl += -SpecialFunctions.LogGamma(alpha) + ((alpha - gamma) * (SpecialFunctions.Digamma(alpha) - digammaSum));
            }
        }
        else
        {
            for (int j = 0; j < k; j++)
            {
                // KL(Beta(a, b) ‖ Beta(1, γ)), ln B(1, γ) = −ln γ.
                double a = c[j], b = c[k + j], digammaTotal = SpecialFunctions.Digamma(a + b);
                kl += -Math.Log(gamma) - LogBeta(a, b) + ((a - 1) * SpecialFunctions.Digamma(a)) + ((b - gamma) * SpecialFunctions.Digamma(b)) + ((1 + gamma - a - b) * digammaTotal);
            }
        }

        double logTwo = Math.Log(2);
        double logDetPrior = PriorLogDeterminant();
        double nu0 = _degreesOfFreedom, beta0 = _meanPrecision;
        Span<double> delta = _scratch.AsSpan(0, d);
        for (int j = 0; j < k; j++)
        {
            double beta = MeanPrecision(j), nu = DegreesOfFreedom(j);
            for (int a = 0; a < d; a++)
            {
                delta[a] = _means[j * d + a] - _priorMean[a];
            }

            double logDetC = CovarianceLogDeterminant(j, _inverse);
            double quadratic = InverseQuadratic(j, delta);
            kl += 0.5 * ((d * beta0 / beta) + (beta0 * quadratic) - d + (d * Math.Log(beta / beta0)));
            if (CovarianceType == CovarianceType.Tied && j > 0)
            {
                continue;
            }

            // KL(W(W, ν) ‖ W(W₀, ν₀)) with W = C⁻¹/ν, W₀ = Ψ₀⁻¹ (tied: once per component, the K precisions share q).
            double logW = -logDetC - (d * Math.Log(nu)), logW0 = -logDetPrior;
            double expectedLogDet = WishartDigammaSum(nu, d) + (d * logTwo) + logW;
            double logB = (-0.5 * nu * logW) - (0.5 * nu * d * logTwo) - SpecialFunctions.LogMultivariateGamma(d, 0.5 * nu);
            double logB0 = (-0.5 * nu0 * logW0) - (0.5 * nu0 * d * logTwo) - SpecialFunctions.LogMultivariateGamma(d, 0.5 * nu0);
            double wishart = logB - logB0 + (0.5 * (nu - nu0) * expectedLogDet) - (0.5 * nu * d) + (0.5 * PriorTrace(j));
            kl += CovarianceType == CovarianceType.Tied ? k * wishart : wishart;
        }

        return kl;
    }

    /// <summary>ln det C_k; for full and tied, the inverse C_k⁻¹ goes to <paramref name="inverse"/> when given.</summary>
    private double CovarianceLogDeterminant(int k, double[]? inverse)
    {
        int d = Features;
        switch (CovarianceType)
        {
            case CovarianceType.Full:
            case CovarianceType.Tied:
            {
                ReadOnlySpan<double> c = _covariances.AsSpan(CovarianceType == CovarianceType.Full ? k * d * d : 0, d * d);
                double[] target = inverse ?? new double[3 * d * d];
                DenseMatrix.TryInvertPositiveDefinite(c, d, target.AsSpan(0, d * d), target.AsSpan(d * d, 2 * d * d), out double logDet);
                return logDet;
            }

            case CovarianceType.Diagonal:
            {
                double sum = 0;
                for (int a = 0; a < d; a++)
                {
                    sum += Math.Log(_covariances[k * d + a]);
                }

                return sum;
            }

            default:
                return d * Math.Log(_covariances[k]);
        }
    }

    /// <summary>δᵀ C_k⁻¹ δ (full and tied: from the inverse <see cref="CovarianceLogDeterminant"/> left in <see cref="_inverse"/>).</summary>
    private double InverseQuadratic(int k, ReadOnlySpan<double> delta)
    {
        int d = Features;
        double sum = 0;
        for (int a = 0; a < d; a++)
        {
            switch (CovarianceType)
            {
                case CovarianceType.Full:
                case CovarianceType.Tied:
                    for (int b = 0; b < d; b++)
                    {
                        sum += delta[a] * _inverse[a * d + b] * delta[b];
                    }

                    break;
                case CovarianceType.Diagonal:
                    sum += delta[a] * delta[a] / _covariances[k * d + a];
                    break;
                default:
                    sum += delta[a] * delta[a] / _covariances[k];
                    break;
            }
        }

        return sum;
    }

    /// <summary>tr(Ψ₀ C_k⁻¹) (full and tied: from <see cref="_inverse"/>).</summary>
    private double PriorTrace(int k)
    {
        int d = Features;
        double sum = 0;
        for (int a = 0; a < d; a++)
        {
            switch (CovarianceType)
            {
                case CovarianceType.Full:
                case CovarianceType.Tied:
                    for (int b = 0; b < d; b++)
                    {
                        sum += _priorCovariance[a * d + b] * _inverse[b * d + a];
                    }

                    break;
                case CovarianceType.Diagonal:
                    sum += _priorCovariance[a] / _covariances[k * d + a];
                    break;
                default:
                    sum += _priorCovariance[0] / _covariances[k];
                    break;
            }
        }

        return sum;
    }

    /// <summary>ln det Ψ₀.</summary>
    private double PriorLogDeterminant()
    {
        int d = Features;
        switch (CovarianceType)
        {
            case CovarianceType.Full:
            case CovarianceType.Tied:
                double[] scratch = new double[3 * d * d];
                DenseMatrix.TryInvertPositiveDefinite(_priorCovariance, d, scratch.AsSpan(0, d * d), scratch.AsSpan(d * d), out double logDet);
                return logDet;
            case CovarianceType.Diagonal:
                return _priorCovariance.Sum(Math.Log);
            default:
                return d * Math.Log(_priorCovariance[0]);
        }
    }

    /// <summary>Σ_{j=0}^{D−1} ψ((ν − j)/2), the digamma part of E[ln |Λ|] under a Wishart with ν degrees of freedom.</summary>
    private static double WishartDigammaSum(double nu, int d)
    {
        double sum = 0;
        for (int j = 0; j < d; j++)
        {
            sum += SpecialFunctions.Digamma((nu - j) / 2);
        }

        return sum;
    }

    /// <summary>ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b).</summary>
    private static double LogBeta(double a, double b) =>
        SpecialFunctions.LogGamma(a) + SpecialFunctions.LogGamma(b) - SpecialFunctions.LogGamma(a + b);

    /// <summary>Before an initialization's M-step: means at <paramref name="centres"/> (or the prior mean), C_k = Ψ₀/ν₀, no counts.</summary>
    private void StartNeutral(double[]? centres)
    {
        int d = Features;
        Array.Clear(_counts);
        for (int j = 0; j < Components; j++)
        {
            for (int a = 0; a < d; a++)
            {
                _means[j * d + a] = centres?[j * d + a] ?? _priorMean[a];
            }
        }

        int length = BayesianMixturePrior.CovarianceLength(CovarianceType, d);
        for (int j = 0; j < _covariances.Length; j += length)
        {
            for (int i = 0; i < length; i++)
            {
                _covariances[j + i] = _priorCovariance[i] / _degreesOfFreedom;
            }
        }
    }

    /// <summary>An M-step from responsibilities chosen by <paramref name="fill"/> (scikit-learn's <c>_initialize(X, resp)</c>).</summary>
    private void MaximizeFrom(ModelInitialization<T> context, ResponsibilityFill fill)
    {
        int k = Components;
        var statistics = new SufficientStatistics(StatisticsLayout);
        T[] r = new T[k * context.TilePoints];
        PrepareExpectation(reshift: true);
        ResetStatistics(statistics);
        context.ForEachTile((in DataTile<T> tile) =>
        {
            Span<T> block = r.AsSpan(0, k * tile.Points);
            fill(tile, block);
            _kernels.Accumulate(tile, block, statistics);
        });
        Maximize(statistics);
    }

    /// <summary>scikit-learn's defaults for the parts of the prior not given: γ = 1/K, β₀ = 1, m₀ = the data's mean, ν₀ = D, Ψ₀ = the data's covariance (divisor N − 1).</summary>
    private void ResolvePrior(ModelInitialization<T> context)
    {
        int d = Features;
        DataSummary summary = context.Summary;
        double weight = Math.ScaleB(summary.TotalWeight, summary.WeightScaleExponent);
        double unbiased = weight > 1 ? weight / (weight - 1) : 1;
        double[] mean = new double[d];
        for (int a = 0; a < d; a++)
        {
            mean[a] = Math.ScaleB(summary.Mean[a] - summary.Centre[a], -summary.ScaleExponent);
        }

        double[] covariance;
        BayesianGaussianMixtureOptions? given = PriorChoices;
        if (given?.CovariancePrior is not null)
        {
            covariance = [.. given.CovariancePrior];
            for (int i = 0; i < covariance.Length; i++)
            {
                covariance[i] = Math.ScaleB(covariance[i], -2 * summary.ScaleExponent);
            }
        }
        else if (CovarianceType is CovarianceType.Full or CovarianceType.Tied)
        {
            covariance = new double[d * d];
            GaussianComponents<T>.DataCovariance(context, covariance);
            for (int i = 0; i < covariance.Length; i++)
            {
                covariance[i] *= unbiased;
            }
        }
        else
        {
            covariance = summary.Variance.Select(v => v * unbiased).ToArray();
            if (CovarianceType == CovarianceType.Spherical)
            {
                covariance = [covariance.Average()];
            }
        }

        if (given?.CovariancePrior is null)
        {
            // Constant features have no spread to take a prior from: reg_covar (or the smallest positive spread) stands in.
            double floor = Math.Max(Math.ScaleB(Regularization, 2 * _frameExponent), 1e-300);
            int length = covariance.Length == d * d ? d : covariance.Length;
            for (int a = 0; a < length; a++)
            {
                int i = covariance.Length == d * d ? a * d + a : a;
                if (!(covariance[i] > 0))
                {
                    covariance[i] = floor;
                }
            }

            if (covariance.Length == d * d)
            {
                // Collinear features: a ridge of 1e-12 of the mean variance (growing tenfold) until positive definite.
                double trace = 0;
                for (int a = 0; a < d; a++)
                {
                    trace += covariance[a * d + a];
                }

                double[] lower = new double[d * d];
                for (double ridge = Math.Max(1e-12 * trace / d, floor); !DenseMatrix.TryCholesky(covariance, d, lower); ridge *= 10)
                {
                    for (int a = 0; a < d; a++)
                    {
                        covariance[a * d + a] += ridge;
                    }
                }
            }
        }

        // Parts of the prior the user gave (in the user's units) replace the defaults, moved into the frame.
        if (given?.MeanPrior is { } userMean)
        {
            for (int a = 0; a < d; a++)
            {
                mean[a] = Math.ScaleB(userMean[a] - summary.Centre[a], -summary.ScaleExponent);
            }
        }

        Prior = new BayesianMixturePrior(given?.WeightConcentration ?? 1.0 / Components, given?.MeanPrecision ?? 1, mean, given?.DegreesOfFreedom ?? d, covariance);
    }

    private VariationalGaussianMixture<T> RequirePrior() => _priorResolved
        ? this
        : throw new InvalidOperationException("The prior is resolved from the data at the first fit; give one, or fit first.");

    private StatisticsLayout Layout()
    {
        StatisticsLayout gaussian = _kernels.StatisticsLayout;
        return new StatisticsLayout(
            $"variational-gaussian-{CovarianceType.ToString().ToLowerInvariant()}/1",
            [.. gaussian.Blocks, new StatisticsBlock("responsibility-entropy", 1)]);
    }

    /// <summary>Fills K × B responsibilities for a tile.</summary>
    private delegate void ResponsibilityFill(in DataTile<T> tile, Span<T> responsibilities);
}
