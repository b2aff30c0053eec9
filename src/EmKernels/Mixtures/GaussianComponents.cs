using System.Numerics;
using System.Runtime.CompilerServices;
using EmKernels.Engine;
using EmKernels.Kernels;
using EmKernels.Numerics;

namespace EmKernels.Mixtures;

/// <summary>
/// K Gaussian components of one covariance structure: the four subclasses are the covariance types.
/// Parameters (<see cref="ComponentFamily{T}.Parameters"/>) are the K × D means followed by the covariances
/// in the type's layout (fixtures' FORMAT.md §4): full K × D × D, tied D × D, diagonal K × D, spherical K.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
/// <remarks>
/// Statistics (layout <c>gaussian-{type}/1</c>): the shift c (K × D, the means of the pass that took them,
/// as rounded to <typeparamref name="T"/>), the masses N_k = Σ w r, the first moments Σ w r (x − c_k) (K × D)
/// and the second moments about c: full K × D × D (upper triangles), tied D × D pooled over components,
/// diagonal and spherical K × D (squares per feature). Taking moments about the current means keeps
/// variances from being differences of large numbers. The M-step adds <see cref="Regularization"/> to
/// every covariance diagonal (scikit-learn's reg_covar).
/// <para>Data of any finite magnitude: a fit runs in a frame that divides the data by a power of two when
/// their spread (or reg_covar) is beyond about 2^±128 in double or 2^±32 in float
/// (<see cref="FrameScaleExponent"/>), with reg_covar scaled alike, so the fit is exactly the computation of
/// the unscaled one without its overflow. The covariances of double data whose spread is beyond about 10^±154
/// cannot be held in double: they are then kept scaled, <see cref="Covariances"/> being Σ·2^(−2·<see cref="CovarianceScaleExponent"/>).</para>
/// </remarks>
public abstract class GaussianComponents<T> : ComponentFamily<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly T[] _meansT;
    private readonly T[] _shiftT;
    private double[] _reseedCovariance;
    private int _frameExponent;
    private double _largestCondition = 1;
    private GaussianPrior? _prior;
    private double[] _priorMean = [];
    private double[] _priorScale = [];
    private double[]? _priorOffset;
    private int _weightExponent;

    private protected GaussianComponents(CovarianceType type, int components, int features, double regularization, int secondMomentsLength)
        : base(components, features, components * features + CovarianceLength(type, components, features), Layout(type, components, features, secondMomentsLength))
    {
        if (!(regularization >= 0) || double.IsInfinity(regularization))
        {
            throw new ArgumentOutOfRangeException(nameof(regularization), regularization, "reg_covar must be finite and non-negative.");
        }

        CovarianceType = type;
        Regularization = regularization;
        _meansT = new T[components * features];
        _shiftT = new T[components * features];
        _reseedCovariance = NeutralCovariance(type, features);
    }

    /// <summary>The covariance type.</summary>
    public CovarianceType CovarianceType { get; }

    /// <summary>reg_covar: added to every covariance diagonal in every M-step (never to given parameters).</summary>
    public double Regularization { get; }

    /// <summary>Whether the M-step leaves every covariance at its current value (the means still move).</summary>
    public bool HoldCovariances { get; set; }

    /// <summary>
    /// The conjugate prior of MAP estimation (null: maximum likelihood). With a prior the M-step is mclust's with
    /// <c>priorControl()</c> (Fraley and Raftery 2007, Table 2), plus <see cref="Regularization"/> on the diagonal, and
    /// <see cref="ObjectiveCorrection"/> is the log-prior density, so the objective checked is the log-posterior. Set it
    /// outside a fit, in the data's coordinates.
    /// </summary>
    /// <exception cref="ArgumentException">A value does not fit D or the covariance type, or is out of range.</exception>
    public GaussianPrior? Prior
    {
        get => _prior;
        set
        {
            if (value is not null)
            {
                CheckPrior(value);
            }

            _prior = value;
            _priorMean = value?.Mean.ToArray() ?? [];
            _priorScale = value?.Scale.ToArray() ?? [];
            if (_frameExponent != 0 && value is not null)
            {
                ScalePrior(_frameExponent);
            }
        }
    }

    private void CheckPrior(GaussianPrior prior)
    {
        int d = Features;
        bool matrix = CovarianceType is CovarianceType.Full or CovarianceType.Tied;
        if (!(prior.Shrinkage > 0) || double.IsInfinity(prior.Shrinkage))
        {
            throw new ArgumentException($"The prior's shrinkage κ is {prior.Shrinkage}; it must be finite and positive.", "prior");
        }

        if (prior.Mean is null || prior.Mean.Length != d || prior.Mean.Any(v => !double.IsFinite(v)))
        {
            throw new ArgumentException($"The prior's mean must be {d} finite values.", "prior");
        }

        if (!(prior.DegreesOfFreedom > (matrix ? d - 1 : 0)) || double.IsInfinity(prior.DegreesOfFreedom))
        {
            throw new ArgumentException($"The prior's degrees of freedom ν are {prior.DegreesOfFreedom}; they must exceed {(matrix ? d - 1 : 0)}.", "prior");
        }

        if (prior.Scale is null || prior.Scale.Length != (matrix ? d * d : 1) || prior.Scale.Any(v => !double.IsFinite(v)))
        {
            throw new ArgumentException($"The prior's scale must be {(matrix ? $"a {d} × {d} matrix" : "one value")} of finite values.", "prior");
        }

        if (matrix ? !DenseMatrix.IsSymmetric(prior.Scale, d, 1e-12) || !DenseMatrix.TryCholesky(prior.Scale, d, new double[d * d]) : !(prior.Scale[0] > 0))
        {
            throw new ArgumentException("The prior's scale must be positive definite (symmetric, for a matrix).", "prior");
        }
    }

    /// <summary>μ_P × 2^e, Λ_P or ς_P × 2^2e: the prior in the fit's frame.</summary>
    private void ScalePrior(int exponent)
    {
        for (int j = 0; j < _priorMean.Length; j++)
        {
            _priorMean[j] = Math.ScaleB(_priorMean[j], exponent);
        }

        for (int i = 0; i < _priorScale.Length; i++)
        {
            _priorScale[i] = Math.ScaleB(_priorScale[i], 2 * exponent);
        }
    }

    /// <summary>
    /// With a <see cref="Prior"/>: its log density at the current parameters, in the data's coordinates (every
    /// normalizing constant included; the frame's scaling undone by its Jacobian) and times the factor the fit's
    /// weights carry, so that the objective is the log-posterior. 0 without a prior.
    /// </summary>
    /// <returns>log p(θ).</returns>
    /// <exception cref="NotSupportedException">The covariances are beyond double's range (<see cref="CovarianceScaleExponent"/> ≠ 0).</exception>
    public override double ObjectiveCorrection()
    {
        if (_prior is null)
        {
            return 0;
        }

        if (CovarianceScaleExponent != 0)
        {
            throw new NotSupportedException("A prior with covariances beyond double's range is not supported.");
        }

        int d = Features, k = Components;
        double kappa = _prior.Shrinkage, nu = _prior.DegreesOfFreedom, logTwoPi = Math.Log(2 * Math.PI);
        ReadOnlySpan<double> means = Means, covariances = Covariances;
        double total = 0;
        int entries;
        switch (CovarianceType)
        {
            case CovarianceType.Full:
            case CovarianceType.Tied:
            {
                bool tied = CovarianceType == CovarianceType.Tied;
                double[] inverse = new double[d * d], scratch = new double[2 * d * d], lower = new double[d * d];
                if (!DenseMatrix.TryCholesky(_priorScale, d, lower))
                {
                    return double.NaN;
                }

                double logDetScale = 2 * DenseMatrix.LogDiagonalSum(lower, d);
                double logGamma = SpecialFunctions.LogMultivariateGamma(d, nu / 2);
                for (int c = 0; c < (tied ? 1 : k); c++)
                {
                    if (!DenseMatrix.TryInvertPositiveDefinite(covariances.Slice(c * d * d, d * d), d, inverse, scratch, out double logDet))
                    {
                        return double.NegativeInfinity;
                    }

                    // Inverse-Wishart: (ν/2) ln|Λ| − ((ν + D + 1)/2) ln|Σ| − ½ tr(Λ Σ⁻¹) − (ν D/2) ln 2 − ln Γ_D(ν/2).
                    double trace = 0;
                    for (int a = 0; a < d; a++)
                    {
                        for (int b = 0; b < d; b++)
                        {
                            trace += _priorScale[a * d + b] * inverse[b * d + a];
                        }
                    }

                    total += (nu / 2 * logDetScale) - ((nu + d + 1) / 2 * logDet) - (0.5 * trace) - (nu * d / 2 * Math.Log(2)) - logGamma;
                    for (int m = tied ? 0 : c; m < (tied ? k : c + 1); m++)
                    {
                        total += LogNormalMean(means.Slice(m * d, d), inverse, logDet, kappa, logTwoPi);
                    }
                }

                entries = (tied ? 1 : k) * d * (d + 1) / 2;
                break;
            }

            default:
            {
                // Inverse-gamma (ν/2, ς/2) per variance, normal means given the variances.
                bool spherical = CovarianceType == CovarianceType.Spherical;
                double a = nu / 2, b = _priorScale[0] / 2;
                double logIg = (a * Math.Log(b)) - SpecialFunctions.LogGamma(a);
                for (int c = 0; c < k; c++)
                {
                    for (int j = 0; j < d; j++)
                    {
                        double v = spherical ? covariances[c] : covariances[c * d + j];
                        double diff = means[c * d + j] - _priorMean[j];
                        total -= 0.5 * (logTwoPi + Math.Log(v / kappa) + (kappa * diff * diff / v));
                        if (!spherical || j == 0)
                        {
                            total += logIg - ((a + 1) * Math.Log(v)) - (b / v);
                        }
                    }
                }

                entries = spherical ? k : k * d;
                break;
            }
        }

        // In the frame θ' = θ · 2^s (about the centre): ln p(θ) = ln p'(θ') + s ln 2 · (mean coordinates + 2 · covariance entries);
        // weighted as the fit's weights are, so that it stands to Σ w ℓ as to the user's weights.
        return PriorWeight * (total + (_frameExponent * Math.Log(2) * ((k * d) + (2 * entries))));
    }

    /// <summary>ln N(μ | μ_P, Σ/κ) given Σ⁻¹ and ln|Σ|.</summary>
    private double LogNormalMean(ReadOnlySpan<double> mean, ReadOnlySpan<double> inverse, double logDet, double kappa, double logTwoPi)
    {
        int d = Features;
        double quadratic = 0;
        for (int a = 0; a < d; a++)
        {
            double da = mean[a] - _priorMean[a];
            for (int b = 0; b < d; b++)
            {
                quadratic += da * inverse[a * d + b] * (mean[b] - _priorMean[b]);
            }
        }

        return -0.5 * ((d * logTwoPi) + logDet - (d * Math.Log(kappa)) + (kappa * quadratic));
    }

    /// <summary>
    /// The sample weights are multiplied by 2^<paramref name="exponent"/>: the prior's terms are weighted alike
    /// (<see cref="PriorWeight"/>), so that a weight of w counts as w copies of its point against the prior.
    /// </summary>
    /// <param name="exponent">e.</param>
    public override void ScaleWeights(int exponent) => _weightExponent += exponent;

    /// <summary>s = 2^k, the factor the fit's weights carry (1 outside a fit and without sample weights).</summary>
    private protected double PriorWeight => Math.ScaleB(1.0, _weightExponent);

    /// <summary>s κ_P: the prior's shrinkage in the fit's weights (0 without a prior).</summary>
    private protected double PriorShrinkage => PriorWeight * (_prior?.Shrinkage ?? 0);

    /// <summary>s (ν_P + <paramref name="constant"/>): the part of an M-step divisor the prior adds, in the fit's weights.</summary>
    private protected double PriorDivisor(double constant) => PriorWeight * (_prior!.DegreesOfFreedom + constant);

    /// <summary>The prior's scale in the fit's frame (Λ_P, or ς_P as one value).</summary>
    private protected ReadOnlySpan<double> PriorScale => _priorScale;

    /// <summary>m = μ_P − shift_k, in the fit's frame (into scratch made once).</summary>
    private protected ReadOnlySpan<double> PriorOffsetOf(int k, ReadOnlySpan<double> shift)
    {
        int d = Features;
        _priorOffset ??= new double[d];
        for (int j = 0; j < d; j++)
        {
            _priorOffset[j] = _priorMean[j] - shift[k * d + j];
        }

        return _priorOffset;
    }

    /// <summary>K × D means, row-major.</summary>
    public Span<double> Means => Parameters[..(Components * Features)];

    /// <summary>The covariances in the type's layout: Σ·2^(−2·<see cref="CovarianceScaleExponent"/>).</summary>
    public Span<double> Covariances => Parameters[(Components * Features)..];

    /// <summary>
    /// q: <see cref="Covariances"/> holds Σ·2^−2q. 0 unless Σ itself is not representable in double (double data
    /// whose spread is beyond about 10^±154); not part of <see cref="ComponentFamily{T}.Parameters"/>.
    /// </summary>
    public int CovarianceScaleExponent { get; set; }

    /// <summary>
    /// Float data, full and tied covariances: whether the second moments are accumulated in double (the
    /// deviations widened, so every product is exact) rather than in float. Float sums carry rounding of about
    /// 10⁻⁶ of the largest variance, which decides the small eigenvalues of an ill-conditioned covariance (data of
    /// lower rank than D, regularized by reg_covar alone); the M-step turns this on for the rest of the fit when a
    /// covariance from float sums has Cholesky pivots spanning more than 10⁴, or is not positive definite (that
    /// component then keeps its covariance for the step: a generalized M-step). Each fit starts without it.
    /// </summary>
    public bool ExactSecondMoments { get; set; }

    /// <summary>Pivot ratio below which float second moments are not accurate enough (see <see cref="ExactSecondMoments"/>).</summary>
    private protected const double FloatPivotRatio = 1e-4;

    [ThreadStatic]
    private static double[]? t_widened;

    /// <summary>
    /// The scatter kernel on the tile, in <typeparamref name="T"/>, or (float with <see cref="ExactSecondMoments"/>) on
    /// the tile widened to double, so that the sums of exact products are as accurate as a double fit's.
    /// </summary>
    private protected void AccumulateSecondMoments(in DataTile<T> tile, ReadOnlySpan<T> responsibilities, SufficientStatistics statistics, bool tied)
    {
        if (typeof(T) != typeof(float) || !ExactSecondMoments)
        {
            if (tied)
            {
                GaussianKernels.TiedSufficientStatistics<T>(
                    tile.Values, Features, tile.Points, tile.Stride, responsibilities, Components, tile.SampleWeights, KernelShift,
                    statistics.Block(1), statistics.Block(2), statistics.Block(3));
            }
            else
            {
                GaussianKernels.FullSufficientStatistics<T>(
                    tile.Values, Features, tile.Points, tile.Stride, responsibilities, Components, tile.SampleWeights, KernelShift,
                    statistics.Block(1), statistics.Block(2), statistics.Block(3));
            }

            return;
        }

        int n = tile.Points, d = Features, k = Components;
        int length = d * n + k * n + (tile.SampleWeights.IsEmpty ? 0 : n) + k * d;
        double[] buffer = t_widened is { } cached && cached.Length >= length ? cached : (t_widened = new double[Math.Max(length, 4096)]);
        Span<double> x = buffer.AsSpan(0, d * n);
        Span<double> r = buffer.AsSpan(d * n, k * n);
        Span<double> w = buffer.AsSpan(d * n + k * n, tile.SampleWeights.IsEmpty ? 0 : n);
        Span<double> shift = buffer.AsSpan(d * n + k * n + w.Length, k * d);
        for (int j = 0; j < d; j++)
        {
            ReadOnlySpan<T> feature = tile.Feature(j);
            for (int i = 0; i < n; i++)
            {
                x[j * n + i] = double.CreateTruncating(feature[i]);
            }
        }

        for (int i = 0; i < r.Length; i++)
        {
            r[i] = double.CreateTruncating(responsibilities[i]);
        }

        for (int i = 0; i < w.Length; i++)
        {
            w[i] = double.CreateTruncating(tile.SampleWeights[i]);
        }

        for (int i = 0; i < shift.Length; i++)
        {
            shift[i] = double.CreateTruncating(KernelShift[i]);
        }

        if (tied)
        {
            GaussianKernels.TiedSufficientStatistics<double>(x, d, n, n, r, k, w, shift, statistics.Block(1), statistics.Block(2), statistics.Block(3));
        }
        else
        {
            GaussianKernels.FullSufficientStatistics<double>(x, d, n, n, r, k, w, shift, statistics.Block(1), statistics.Block(2), statistics.Block(3));
        }
    }

    /// <summary>The smallest over the largest squared diagonal entry of a Cholesky factor (D × D, row-major).</summary>
    private protected static double PivotRatio(ReadOnlySpan<double> lower, int d)
    {
        double max = 0, min = double.PositiveInfinity;
        for (int j = 0; j < d; j++)
        {
            double pivot = lower[j * d + j] * lower[j * d + j];
            max = Math.Max(max, pivot);
            min = Math.Min(min, pivot);
        }

        return min / max;
    }

    /// <summary>reg_covar in the current frame's units (the user's reg_covar × 2^2e when the frame multiplies the data by 2^e).</summary>
    protected double FrameRegularization => Math.ScaleB(Regularization, 2 * _frameExponent);

    /// <inheritdoc/>
    public override bool SupportsTranslation => true;

    /// <inheritdoc/>
    public override bool AccumulatesMass => true;

    /// <inheritdoc/>
    public override int FreeParameterCount => DensityParameterCount(CovarianceType, Components, Features);

    /// <summary>The covariance a re-seeded component gets: the data's own (in the type's shape) plus reg_covar, floored to be positive definite.</summary>
    protected ReadOnlySpan<double> ReseedCovariance => _reseedCovariance;

    /// <summary>The kernels' copy of the means (rounded to <typeparamref name="T"/>), set by <see cref="Prepare"/>.</summary>
    protected ReadOnlySpan<T> KernelMeans => _meansT;

    /// <summary>The shift the statistics are taken about (rounded to <typeparamref name="T"/>).</summary>
    protected ReadOnlySpan<T> KernelShift => _shiftT;

    /// <summary>Free parameters of K Gaussian densities of a type: the means and the covariances' free entries.</summary>
    /// <param name="type">The covariance type.</param>
    /// <param name="components">K.</param>
    /// <param name="features">D.</param>
    /// <returns>The count.</returns>
    public static int DensityParameterCount(CovarianceType type, int components, int features)
    {
        int covariance = type switch
        {
            CovarianceType.Full => components * features * (features + 1) / 2,
            CovarianceType.Tied => features * (features + 1) / 2,
            CovarianceType.Diagonal => components * features,
            _ => components,
        };
        return components * features + covariance;
    }

    /// <summary>Length of the covariances of a type: full K·D·D, tied D·D, diagonal K·D, spherical K.</summary>
    /// <param name="type">The covariance type.</param>
    /// <param name="components">K.</param>
    /// <param name="features">D.</param>
    /// <returns>The length.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The covariances would not fit one array (full covariance of thousands of features).</exception>
    public static int CovarianceLength(CovarianceType type, int components, int features)
    {
        long length = type switch
        {
            CovarianceType.Full => (long)components * features * features,
            CovarianceType.Tied => (long)features * features,
            CovarianceType.Diagonal => (long)components * features,
            _ => components,
        };

        // The parameters also hold the K × D means; the statistics hold as many values again.
        if (length + (long)components * features > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(
                nameof(features), features,
                $"{type} covariance of {components} components and {features} features has {length:N0} values, more than one array holds; use diagonal or spherical covariance, or fewer features.");
        }

        return (int)length;
    }

    /// <summary>Creates the components of a covariance type.</summary>
    /// <param name="type">The covariance type.</param>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="regularization">reg_covar (≥ 0).</param>
    /// <returns>The family, with means 0 and identity covariances.</returns>
    public static GaussianComponents<T> Create(CovarianceType type, int components, int features, double regularization = 1e-6) => type switch
    {
        CovarianceType.Full => new FullCovarianceComponents<T>(components, features, regularization),
        CovarianceType.Tied => new TiedCovarianceComponents<T>(components, features, regularization),
        CovarianceType.Diagonal => new DiagonalCovarianceComponents<T>(components, features, regularization),
        CovarianceType.Spherical => new SphericalCovarianceComponents<T>(components, features, regularization),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown covariance type."),
    };

    /// <summary>Component <paramref name="component"/>'s covariance as a full D × D matrix, whatever the type.</summary>
    /// <param name="component">0-based component.</param>
    /// <param name="destination">D × D outputs.</param>
    public void WriteFullCovariance(int component, Span<double> destination) =>
        FullCovariance(CovarianceType, Features, Covariances, component, destination);

    /// <summary>
    /// The Cholesky factors of the precisions in the type's layout: full and tied the upper-triangular U
    /// with Σ⁻¹ = U Uᵀ (scikit-learn's <c>precisions_cholesky_</c>), diagonal and spherical 1/σ.
    /// </summary>
    /// <param name="destination">As many values as the covariances.</param>
    /// <exception cref="InvalidOperationException">A covariance is not positive definite.</exception>
    public void WritePrecisionsCholesky(Span<double> destination)
    {
        ReadOnlySpan<double> covariances = Covariances;
        if (CovarianceType is CovarianceType.Diagonal or CovarianceType.Spherical)
        {
            for (int i = 0; i < covariances.Length; i++)
            {
                destination[i] = 1 / Math.Sqrt(covariances[i]);
            }

            return;
        }

        int size = Features * Features;
        for (int m = 0; m < covariances.Length / size; m++)
        {
            if (!GaussianKernels.TryPrecisionCholesky(covariances.Slice(m * size, size), Features, destination.Slice(m * size, size), out _))
            {
                throw new InvalidOperationException($"Covariance {m} is not positive definite.");
            }
        }
    }

    /// <summary>
    /// 0 for data whose spread — or reg_covar, which floors every variance — is within 2^±128 (double) or 2^±32
    /// (float); beyond, the power of two nearest that spread, so the frame's data are of order one. For a fitted
    /// model (<paramref name="summary"/> null), from its own covariances, or its <see cref="CovarianceScaleExponent"/>.
    /// </summary>
    /// <param name="summary">The data's summary, or null.</param>
    /// <returns>s.</returns>
    public override int FrameScaleExponent(EmKernels.Engine.DataSummary? summary)
    {
        if (CovarianceScaleExponent != 0)
        {
            return CovarianceScaleExponent;
        }

        double log2Spread = summary?.Log2Spread ?? 0.5 * Math.Log2(LargestVariance());
        if (Regularization > 0)
        {
            log2Spread = Math.Max(log2Spread, 0.5 * Math.Log2(Regularization));
        }

        return Frames.SecondMomentScaleExponent<T>(log2Spread);
    }

    /// <summary>Means × 2^e; covariances and reg_covar × 2^2e, the covariances kept scaled (<see cref="CovarianceScaleExponent"/>) where Σ itself would not be representable.</summary>
    /// <param name="exponent">e.</param>
    public override void ScaleFrame(int exponent)
    {
        _frameExponent += exponent;
        if (_prior is not null)
        {
            ScalePrior(exponent);
        }

        foreach (ref double mean in Means)
        {
            mean = Math.ScaleB(mean, exponent);
        }

        int q = CovarianceScaleExponent + exponent;
        if (q != 0 && Representable(Covariances, 2 * q))
        {
            foreach (ref double covariance in Covariances)
            {
                covariance = Math.ScaleB(covariance, 2 * q);
            }

            q = 0;
        }

        CovarianceScaleExponent = q;
    }

    /// <summary>The largest variance (diagonal entry) of any component.</summary>
    private double LargestVariance()
    {
        double largest = 0;
        for (int i = 0; i < Covariances.Length; i++)
        {
            if (IsVariance(i))
            {
                largest = Math.Max(largest, Covariances[i]);
            }
        }

        return largest;
    }

    /// <summary>Whether covariance entry i is a variance (a diagonal entry).</summary>
    private bool IsVariance(int i) => CovarianceType switch
    {
        CovarianceType.Full or CovarianceType.Tied => i % (Features * Features) % (Features + 1) == 0,
        _ => true,
    };

    /// <summary>Whether every entry × 2^twice is finite and every variance stays a normal number (no digits lost).</summary>
    private bool Representable(ReadOnlySpan<double> covariances, int twice)
    {
        for (int i = 0; i < covariances.Length; i++)
        {
            double scaled = Math.ScaleB(covariances[i], twice);
            if (!double.IsFinite(scaled) || (IsVariance(i) && covariances[i] > 0 && !double.IsNormal(scaled)))
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc/>
    public override void Translate(ReadOnlySpan<double> offset)
    {
        for (int j = 0; j < _priorMean.Length; j++)
        {
            _priorMean[j] += offset[j];
        }

        Span<double> means = Means;
        for (int k = 0; k < Components; k++)
        {
            for (int d = 0; d < Features; d++)
            {
                means[k * Features + d] += offset[d];
            }
        }
    }

    /// <summary>The data's covariance (in the type's shape) for re-seeds: from the summary's variances, or (full, tied) one pass over the data.</summary>
    /// <param name="context">The data in the fit's frame.</param>
    public override void BeginFit(ModelInitialization<T> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        int d = Features;
        ExactSecondMoments = false;
        if (CovarianceType is CovarianceType.Full or CovarianceType.Tied)
        {
            double[] covariance = new double[d * d];
            DataCovariance(context, covariance);
            double[] variances = new double[d];
            for (int a = 0; a < d; a++)
            {
                variances[a] = covariance[a * d + a];
            }

            _reseedCovariance = ReseedCovarianceOf(CovarianceType, d, FrameRegularization, variances, covariance);

            // Float data whose own covariance (with reg_covar) is ill-conditioned — of lower rank than D — need exact
            // second moments from the first M-step on (see ExactSecondMoments).
            if (typeof(T) == typeof(float))
            {
                for (int a = 0; a < d; a++)
                {
                    covariance[a * d + a] += FrameRegularization;
                }

                double[] lower = new double[d * d];
                ExactSecondMoments = !DenseMatrix.TryCholesky(covariance, d, lower) || PivotRatio(lower, d) < FloatPivotRatio;
            }
        }
        else
        {
            _reseedCovariance = ReseedCovarianceOf(CovarianceType, d, FrameRegularization, context.Summary.Variance, null);
        }

        if (CovarianceScaleExponent != 0)
        {
            // Covariances not representable in the fit's frame (a fresh model's identity, entering the frame of data
            // beyond 10^±154, or a warm start from data of another scale): every component starts at the data's own.
            CovarianceScaleExponent = 0;
            for (int k = 0; k < Components; k++)
            {
                Reseed(k, Means.Slice(k * d, d));
            }

            if (CovarianceType == CovarianceType.Tied)
            {
                _reseedCovariance.CopyTo(Covariances);
            }
        }
    }

    /// <inheritdoc/>
    public override void ResetComponent(int component, DataSummary summary)
    {
        base.ResetComponent(component, summary);
        if (CovarianceType == CovarianceType.Tied)
        {
            _reseedCovariance.CopyTo(Covariances);
        }
    }

    /// <inheritdoc/>
    public override void Reseed(int component, ReadOnlySpan<double> point)
    {
        int d = Features;
        point.CopyTo(Means.Slice(component * d, d));
        switch (CovarianceType)
        {
            case CovarianceType.Full:
                _reseedCovariance.CopyTo(Covariances.Slice(component * d * d, d * d));
                break;
            case CovarianceType.Diagonal:
                _reseedCovariance.CopyTo(Covariances.Slice(component * d, d));
                break;
            case CovarianceType.Spherical:
                Covariances[component] = _reseedCovariance[0];
                break;
            default:
                break; // the shared covariance stays
        }
    }

    /// <inheritdoc/>
    public override void WriteShift(Span<double> shift)
    {
        for (int i = 0; i < _shiftT.Length; i++)
        {
            shift[i] = double.CreateTruncating(_shiftT[i]);
        }
    }

    /// <inheritdoc/>
    public override void ReadShift(ReadOnlySpan<double> shift)
    {
        for (int i = 0; i < _shiftT.Length; i++)
        {
            _shiftT[i] = T.CreateTruncating(shift[i]); // exact: the shift was written from these values
        }
    }

    /// <inheritdoc/>
    protected override void Prepare(bool reshift)
    {
        if (CovarianceScaleExponent != 0)
        {
            throw new InvalidOperationException(
                $"The covariances are held scaled by 2^{-2 * CovarianceScaleExponent} (their own values are beyond double's range); evaluate them in a frame of scale 2^{CovarianceScaleExponent}, as the library's drivers do.");
        }

        ReadOnlySpan<double> means = Means;
        for (int i = 0; i < means.Length; i++)
        {
            _meansT[i] = T.CreateTruncating(means[i]);
        }

        if (reshift)
        {
            _meansT.CopyTo(_shiftT, 0);
        }

        PrepareCovariances();
        _largestCondition = LargestConditionEstimate();
    }

    /// <summary>
    /// ε · max_k tr(Σ_k) tr(Σ_k⁻¹): the Mahalanobis term (x − μ)ᵀ Σ⁻¹ (x − μ) carries rounding of about
    /// ε ‖x − μ‖² ‖Σ⁻¹‖, and E‖x − μ‖² = tr Σ, ‖Σ⁻¹‖ ≤ tr Σ⁻¹ = ‖U‖²_F (U the prepared precision factor). For a
    /// well-conditioned Σ this is ε D²; for one of lower rank than D regularized by reg_covar it is far larger,
    /// as the rounding of its log-likelihood is.
    /// </summary>
    /// <returns>The allowance per point.</returns>
    public override double ObjectiveRoundingError() =>
        (typeof(T) == typeof(float) ? Math.ScaleB(1.0, -23) : Math.ScaleB(1.0, -52)) * _largestCondition;

    /// <summary>max_k tr(Σ_k) · tr(Σ_k⁻¹) of the prepared parameters (see <see cref="ObjectiveRoundingError"/>).</summary>
    private protected abstract double LargestConditionEstimate();

    /// <summary>tr(Σ)·‖U‖²_F for each of <paramref name="matrices"/> D × D covariances and their precision factors U; the largest.</summary>
    private protected double LargestConditionOf(ReadOnlySpan<T> factors, int matrices)
    {
        int d = Features;
        double largest = 0;
        for (int k = 0; k < matrices; k++)
        {
            double trace = 0, inverse = 0;
            for (int a = 0; a < d; a++)
            {
                trace += Covariances[k * d * d + a * d + a];
            }

            foreach (T f in factors.Slice(k * d * d, d * d))
            {
                double value = double.CreateTruncating(f);
                inverse += value * value;
            }

            largest = Math.Max(largest, trace * inverse);
        }

        return largest;
    }

    /// <summary>E[x − c] = μ − c and E[(x − c)(x − c)ᵀ] = Σ + (μ − c)(μ − c)ᵀ per component, times w_k (pooled for tied, diagonal for diagonal and spherical).</summary>
    /// <param name="weights">K weights.</param>
    /// <param name="statistics">Statistics zeroed about the current shift.</param>
    /// <returns>True.</returns>
    public override bool TryWriteImpliedStatistics(ReadOnlySpan<double> weights, SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        int d = Features;
        ReadOnlySpan<double> shift = statistics.Block(0);
        Span<double> first = statistics.Block(2);
        Span<double> second = statistics.Block(3);
        double[] covariance = new double[d * d];
        double[] delta = new double[d];
        for (int k = 0; k < Components; k++)
        {
            double w = weights[k];
            for (int a = 0; a < d; a++)
            {
                delta[a] = Means[k * d + a] - shift[k * d + a];
                first[k * d + a] = w * delta[a];
            }

            WriteFullCovariance(k, covariance);
            for (int a = 0; a < d; a++)
            {
                switch (CovarianceType)
                {
                    case CovarianceType.Full:
                    case CovarianceType.Tied:
                        int offset = CovarianceType == CovarianceType.Full ? k * d * d : 0;
                        for (int b = a; b < d; b++)
                        {
                            second[offset + a * d + b] += w * (covariance[a * d + b] + delta[a] * delta[b]);
                        }

                        break;
                    default:
                        second[k * d + a] = w * (covariance[a * d + a] + delta[a] * delta[a]);
                        break;
                }
            }
        }

        return true;
    }

    /// <summary>Turns the covariances (and the log weights) into the kernels' factors and per-component constants.</summary>
    private protected abstract void PrepareCovariances();

    /// <inheritdoc/>
    public override void Maximize(SufficientStatistics statistics, ReadOnlySpan<bool> held, Span<bool> degenerate)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        int d = Features;
        ReadOnlySpan<double> shift = statistics.Block(0);
        ReadOnlySpan<double> mass = Mass(statistics);
        ReadOnlySpan<double> first = statistics.Block(2);
        ReadOnlySpan<double> second = statistics.Block(3);
        double minimumMass = MinimumMass(mass);
        Span<double> delta = DeltaBuffer;
        for (int k = 0; k < Components; k++)
        {
            if (held[k])
            {
                continue;
            }

            degenerate[k] = !(mass[k] > minimumMass);
            if (degenerate[k])
            {
                continue;
            }

            // δ = S1/N is the move of the mean from the shift (the means the statistics were taken about).
            for (int a = 0; a < d; a++)
            {
                delta[a] = first[k * d + a] / mass[k];
            }

            ReadOnlySpan<double> prior = _prior is null ? default : PriorOffsetOf(k, shift);
            if (!HoldCovariances && !MaximizeCovariance(k, mass[k], delta, second, prior))
            {
                degenerate[k] = true;
                continue;
            }

            // With a prior, the mean shrinks towards μ_P: (n ȳ + κ μ_P) / (n + κ), about the shift.
            Span<double> mean = Means.Slice(k * d, d);
            double kappa = PriorShrinkage, n = mass[k];
            for (int a = 0; a < d; a++)
            {
                mean[a] = shift[k * d + a] + (_prior is null ? delta[a] : ((n * delta[a]) + (kappa * prior[a])) / (n + kappa));
            }
        }
    }

    /// <summary>Scratch for δ (D values), made once.</summary>
    private double[] DeltaBuffer => _delta ??= new double[Features];

    private double[]? _delta;

    /// <summary>
    /// The new covariance of component k from its second moments about the shift (with a prior, <paramref name="priorOffset"/>
    /// is μ_P − shift_k; empty without one); false if unusable (then nothing changes).
    /// </summary>
    private protected virtual bool MaximizeCovariance(int k, double mass, ReadOnlySpan<double> delta, ReadOnlySpan<double> second, ReadOnlySpan<double> priorOffset) => true;

    /// <summary>One pass over the (centred) data for their covariance, through the full-covariance statistics kernel.</summary>
    internal static void DataCovariance(ModelInitialization<T> context, double[] covariance)
    {
        int d = context.Summary.Features;
        int tile = context.TilePoints;
        T[] ones = new T[tile];
        ones.AsSpan().Fill(T.One);
        T[] zero = new T[d];
        double[] sums = new double[1 + d + d * d];
        context.SumValues(sums, (in DataTile<T> t, Span<double> s) =>
            GaussianKernels.FullSufficientStatistics<T>(t.Values, d, t.Points, t.Stride, ones.AsSpan(0, t.Points), 1, t.SampleWeights, zero, s[..1], s.Slice(1, d), s.Slice(1 + d, d * d)));
        double[] mass = sums[..1], first = sums[1..(1 + d)], second = sums[(1 + d)..];
        for (int a = 0; a < d; a++)
        {
            double ma = first[a] / mass[0];
            for (int b = a; b < d; b++)
            {
                covariance[a * d + b] = second[a * d + b] / mass[0] - ma * (first[b] / mass[0]);
            }
        }

        DenseMatrix.MirrorUpperToLower(covariance, d);
    }

    /// <summary>
    /// The covariance a re-seeded component starts from: the data's (in the type's shape) plus reg_covar,
    /// with the diagonal floored so that it is positive definite even for constant features.
    /// </summary>
    private static double[] ReseedCovarianceOf(CovarianceType type, int d, double regularization, ReadOnlySpan<double> variances, double[]? dataCovariance)
    {
        double trace = 0;
        for (int a = 0; a < d; a++)
        {
            trace += variances[a];
        }

        double floor = Math.Max(regularization, 1e-9 * Math.Max(1.0, trace / d));
        switch (type)
        {
            case CovarianceType.Full:
            case CovarianceType.Tied:
            {
                double[] covariance = dataCovariance![..(d * d)];
                for (int a = 0; a < d; a++)
                {
                    covariance[a * d + a] += floor;
                }

                if (!DenseMatrix.TryCholesky(covariance, d, new double[d * d]))
                {
                    // Perfectly collinear data: keep only the diagonal.
                    Array.Clear(covariance);
                    for (int a = 0; a < d; a++)
                    {
                        covariance[a * d + a] = variances[a] + floor;
                    }
                }

                return covariance;
            }

            case CovarianceType.Diagonal:
            {
                double[] result = new double[d];
                for (int a = 0; a < d; a++)
                {
                    result[a] = variances[a] + floor;
                }

                return result;
            }

            default:
                return [trace / d + floor];
        }
    }

    /// <summary>An identity covariance in the type's shape (before any data are seen).</summary>
    private static double[] NeutralCovariance(CovarianceType type, int d)
    {
        if (type is CovarianceType.Diagonal)
        {
            return Enumerable.Repeat(1.0, d).ToArray();
        }

        if (type is CovarianceType.Spherical)
        {
            return [1.0];
        }

        double[] identity = new double[d * d];
        for (int a = 0; a < d; a++)
        {
            identity[a * d + a] = 1;
        }

        return identity;
    }

    /// <summary>Component k's covariance as a full D × D matrix, from covariances in the type's layout.</summary>
    internal static void FullCovariance(CovarianceType type, int d, ReadOnlySpan<double> covariances, int k, Span<double> matrix)
    {
        matrix[..(d * d)].Clear();
        switch (type)
        {
            case CovarianceType.Full:
                covariances.Slice(k * d * d, d * d).CopyTo(matrix);
                break;
            case CovarianceType.Tied:
                covariances[..(d * d)].CopyTo(matrix);
                break;
            case CovarianceType.Diagonal:
                for (int a = 0; a < d; a++)
                {
                    matrix[a * d + a] = covariances[k * d + a];
                }

                break;
            default:
                for (int a = 0; a < d; a++)
                {
                    matrix[a * d + a] = covariances[k];
                }

                break;
        }
    }

    private static StatisticsLayout Layout(CovarianceType type, int components, int features, int secondMomentsLength) => new(
        $"gaussian-{type.ToString().ToLowerInvariant()}/1",
        new StatisticsBlock("shift", components * features, IsShift: true),
        new StatisticsBlock("mass", components),
        new StatisticsBlock("first-moments", components * features),
        new StatisticsBlock("second-moments", secondMomentsLength));

    /// <summary>Sets the covariances to the identity (used by constructors).</summary>
    private protected void SetIdentityCovariances()
    {
        for (int k = 0; k < (CovarianceType == CovarianceType.Tied ? 1 : Components); k++)
        {
            Span<double> target = CovarianceType switch
            {
                CovarianceType.Full => Covariances.Slice(k * Features * Features, Features * Features),
                CovarianceType.Tied => Covariances,
                CovarianceType.Diagonal => Covariances.Slice(k * Features, Features),
                _ => Covariances.Slice(k, 1),
            };
            _reseedCovariance.CopyTo(target);
        }
    }
}

/// <summary>Gaussian components with their own full covariance matrices Σ_k; log-densities through the precision Cholesky factors.</summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class FullCovarianceComponents<T> : GaussianComponents<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly T[] _factors;
    private readonly T[] _offsets;
    private readonly double[] _lower;

    /// <summary>K full-covariance Gaussians with means 0 and identity covariances.</summary>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="regularization">reg_covar (≥ 0).</param>
    public FullCovarianceComponents(int components, int features, double regularization = 1e-6)
        : base(CovarianceType.Full, components, features, regularization, CovarianceLength(CovarianceType.Full, components, features))
    {
        _factors = new T[components * features * features];
        _offsets = new T[components];
        _lower = new double[features * features];
        SetIdentityCovariances();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void LogProbabilities(in DataTile<T> tile, Span<T> destination, Span<T> workspace) =>
        GaussianKernels.FullLogDensity<T>(tile.Values, Features, tile.Points, tile.Stride, Components, KernelMeans, _factors, _offsets, destination);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Accumulate(in DataTile<T> tile, ReadOnlySpan<T> responsibilities, SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        AccumulateSecondMoments(tile, responsibilities, statistics, tied: false);
    }

    private protected override void PrepareCovariances() =>
        GaussianKernels.FullParameters<T>(Covariances, Components, Features, LogWeights, _factors, _offsets);

    private protected override double LargestConditionEstimate() => LargestConditionOf(_factors, Components);

    private protected override bool MaximizeCovariance(int k, double mass, ReadOnlySpan<double> delta, ReadOnlySpan<double> second, ReadOnlySpan<double> priorOffset)
    {
        int d = Features;
        double[] matrix = Candidate;
        if (Prior is not null)
        {
            // (Λ_P + W + B) / (ν_P + n + D + 2): W the scatter about ȳ, B = κn/(n + κ) (ȳ − μ_P)(ȳ − μ_P)ᵀ.
            ReadOnlySpan<double> m = priorOffset, scale = PriorScale;
            double c = PriorShrinkage * mass / (mass + PriorShrinkage), divisor = PriorDivisor(d + 2) + mass, s = PriorWeight;
            for (int a = 0; a < d; a++)
            {
                for (int b = a; b < d; b++)
                {
                    double scatter = second[(k * d + a) * d + b] - (mass * delta[a] * delta[b]);
                    matrix[a * d + b] = ((s * scale[a * d + b]) + scatter + (c * (delta[a] - m[a]) * (delta[b] - m[b]))) / divisor;
                }

                matrix[a * d + a] += FrameRegularization;
            }
        }
        else
        {
            for (int a = 0; a < d; a++)
            {
                for (int b = a; b < d; b++)
                {
                    matrix[a * d + b] = second[(k * d + a) * d + b] / mass - delta[a] * delta[b];
                }

                matrix[a * d + a] += FrameRegularization;
            }
        }

        DenseMatrix.MirrorUpperToLower(matrix, d);
        bool floatSums = typeof(T) == typeof(float) && !ExactSecondMoments;
        bool factored = DenseMatrix.TryCholesky(matrix, d, _lower);
        if (floatSums && (!factored || PivotRatio(_lower, d) < FloatPivotRatio))
        {
            // Float sums cannot tell this covariance's small eigenvalues: the component keeps its covariance for the
            // step (a generalized M-step), and the fit's second moments go to double from the next pass on.
            ExactSecondMoments = true;
            return true;
        }

        if (!factored)
        {
            return false;
        }

        matrix.AsSpan(0, d * d).CopyTo(Covariances.Slice(k * d * d, d * d));
        return true;
    }

    private double[] Candidate => _candidate ??= new double[Features * Features];

    private double[]? _candidate;
}

/// <summary>Gaussian components sharing one covariance matrix Σ (pooled over the components in the M-step).</summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class TiedCovarianceComponents<T> : GaussianComponents<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly T[] _factor;
    private readonly T[] _offsets;
    private readonly double[] _pooled;
    private readonly double[] _lower;

    /// <summary>K tied-covariance Gaussians with means 0 and an identity covariance.</summary>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="regularization">reg_covar (≥ 0).</param>
    public TiedCovarianceComponents(int components, int features, double regularization = 1e-6)
        : base(CovarianceType.Tied, components, features, regularization, CovarianceLength(CovarianceType.Tied, components, features))
    {
        _factor = new T[features * features];
        _offsets = new T[components];
        _pooled = new double[features * features];
        _lower = new double[features * features];
        SetIdentityCovariances();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void LogProbabilities(in DataTile<T> tile, Span<T> destination, Span<T> workspace) =>
        GaussianKernels.TiedLogDensity<T>(tile.Values, Features, tile.Points, tile.Stride, Components, KernelMeans, _factor, _offsets, destination);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Accumulate(in DataTile<T> tile, ReadOnlySpan<T> responsibilities, SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        AccumulateSecondMoments(tile, responsibilities, statistics, tied: true);
    }

    private protected override double LargestConditionEstimate() => LargestConditionOf(_factor, 1);

    private protected override void PrepareCovariances()
    {
        if (!GaussianKernels.TryPrecisionCholesky(Covariances, Features, _factor.AsSpan(), out double halfLogDeterminant))
        {
            throw new InvalidOperationException("The shared covariance is not positive definite.");
        }

        double constant = halfLogDeterminant - 0.5 * Features * Math.Log(2 * Math.PI);
        for (int k = 0; k < Components; k++)
        {
            _offsets[k] = T.CreateTruncating(LogWeights[k] + constant);
        }
    }

    /// <inheritdoc/>
    public override void Maximize(SufficientStatistics statistics, ReadOnlySpan<bool> held, Span<bool> degenerate)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        int d = Features;
        ReadOnlySpan<double> shift = statistics.Block(0);
        ReadOnlySpan<double> mass = Mass(statistics);
        ReadOnlySpan<double> first = statistics.Block(2);
        ReadOnlySpan<double> second = statistics.Block(3);
        double minimumMass = MinimumMass(mass);
        Span<double> pooled = _pooled;
        second.CopyTo(pooled);
        double total = 0;
        for (int k = 0; k < Components; k++)
        {
            degenerate[k] = !(mass[k] > minimumMass);
            total += mass[k];
            if (degenerate[k])
            {
                continue;
            }

            // Σ_k N_k δ_k δ_kᵀ turns the scatter about the shifts into the scatter about the new means.
            for (int a = 0; a < d; a++)
            {
                double da = first[k * d + a];
                for (int b = a; b < d; b++)
                {
                    pooled[a * d + b] -= da * first[k * d + b] / mass[k];
                }
            }

            double kappa = PriorShrinkage, n = mass[k];
            ReadOnlySpan<double> m = Prior is null ? default : PriorOffsetOf(k, shift);
            if (Prior is not null)
            {
                // + B_k = κn/(n + κ) (ȳ_k − μ_P)(ȳ_k − μ_P)ᵀ.
                double c = kappa * n / (n + kappa);
                for (int a = 0; a < d; a++)
                {
                    double da = first[k * d + a] / n - m[a];
                    for (int b = a; b < d; b++)
                    {
                        pooled[a * d + b] += c * da * (first[k * d + b] / n - m[b]);
                    }
                }
            }

            if (!held[k])
            {
                for (int a = 0; a < d; a++)
                {
                    double moved = first[k * d + a] / n;
                    Means[k * d + a] = shift[k * d + a] + (Prior is null ? moved : ((n * moved) + (kappa * m[a])) / (n + kappa));
                }
            }
        }

        // The shared covariance is a parameter of every component: holding any of them, or the covariances, holds it.
        if (HoldCovariances || held.Contains(true))
        {
            return;
        }

        // With a prior: (Λ_P + Σ_k (W_k + B_k)) / (ν_P + N + D + K + 1).
        double divisor = Prior is null ? total : PriorDivisor(d + Components + 1) + total;
        for (int a = 0; a < d; a++)
        {
            for (int b = a; b < d; b++)
            {
                pooled[a * d + b] = ((Prior is null ? 0 : PriorWeight * PriorScale[a * d + b]) + pooled[a * d + b]) / divisor;
            }

            pooled[a * d + a] += FrameRegularization;
        }

        DenseMatrix.MirrorUpperToLower(pooled, d);
        bool floatSums = typeof(T) == typeof(float) && !ExactSecondMoments;
        bool factored = DenseMatrix.TryCholesky(pooled, d, _lower);
        if (floatSums && (!factored || PivotRatio(_lower, d) < FloatPivotRatio))
        {
            ExactSecondMoments = true; // as for full covariances: the shared covariance stays for the step
        }
        else if (factored)
        {
            pooled.CopyTo(Covariances);
        }
        else
        {
            // The pooled estimate is unusable: fall back to the data's spread and re-seed every component.
            ReseedCovariance.CopyTo(Covariances);
            degenerate.Fill(true);
        }
    }
}

/// <summary>Gaussian components with diagonal covariances diag(σ²_k): independent features.</summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class DiagonalCovarianceComponents<T> : GaussianComponents<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly T[] _precisions;
    private readonly T[] _offsets;
    private readonly double[] _candidate;

    /// <summary>K diagonal-covariance Gaussians with means 0 and unit variances.</summary>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="regularization">reg_covar (≥ 0).</param>
    public DiagonalCovarianceComponents(int components, int features, double regularization = 1e-6)
        : base(CovarianceType.Diagonal, components, features, regularization, components * features)
    {
        _precisions = new T[components * features];
        _offsets = new T[components];
        _candidate = new double[features];
        SetIdentityCovariances();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void LogProbabilities(in DataTile<T> tile, Span<T> destination, Span<T> workspace) =>
        GaussianKernels.DiagonalLogDensity<T>(tile.Values, Features, tile.Points, tile.Stride, Components, KernelMeans, _precisions, _offsets, destination);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Accumulate(in DataTile<T> tile, ReadOnlySpan<T> responsibilities, SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        GaussianKernels.DiagonalSufficientStatistics<T>(
            tile.Values, Features, tile.Points, tile.Stride, responsibilities, Components, tile.SampleWeights, KernelShift,
            statistics.Block(1), statistics.Block(2), statistics.Block(3));
    }

    private protected override void PrepareCovariances() =>
        GaussianKernels.DiagonalParameters<T>(Covariances, Components, Features, LogWeights, _precisions, _offsets);

    private protected override double LargestConditionEstimate()
    {
        int d = Features;
        double largest = 0;
        for (int k = 0; k < Components; k++)
        {
            double trace = 0, inverse = 0;
            for (int j = 0; j < d; j++)
            {
                trace += Covariances[k * d + j];
                double precision = double.CreateTruncating(_precisions[k * d + j]);
                inverse += precision * precision;
            }

            largest = Math.Max(largest, trace * inverse);
        }

        return largest;
    }

    private protected override bool MaximizeCovariance(int k, double mass, ReadOnlySpan<double> delta, ReadOnlySpan<double> second, ReadOnlySpan<double> priorOffset)
    {
        int d = Features;
        ReadOnlySpan<double> m = priorOffset;
        double c = PriorShrinkage * mass / (mass + PriorShrinkage), divisor = Prior is null ? 0 : PriorDivisor(3) + mass;
        for (int a = 0; a < d; a++)
        {
            // With a prior: (ς_P + W_jj + B_jj) / (ν_P + n + 3).
            double variance = Prior is null
                ? second[k * d + a] / mass - delta[a] * delta[a] + FrameRegularization
                : (((PriorWeight * PriorScale[0]) + second[k * d + a] - (mass * delta[a] * delta[a]) + (c * (delta[a] - m[a]) * (delta[a] - m[a]))) / divisor) + FrameRegularization;
            if (!(variance > 0) || !double.IsFinite(variance))
            {
                return false;
            }

            _candidate[a] = variance;
        }

        _candidate.CopyTo(Covariances.Slice(k * d, d));
        return true;
    }
}

/// <summary>Gaussian components with spherical covariances σ²_k I.</summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class SphericalCovarianceComponents<T> : GaussianComponents<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly T[] _precisions;
    private readonly T[] _offsets;

    /// <summary>K spherical Gaussians with means 0 and unit variances.</summary>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="regularization">reg_covar (≥ 0).</param>
    public SphericalCovarianceComponents(int components, int features, double regularization = 1e-6)
        : base(CovarianceType.Spherical, components, features, regularization, components * features)
    {
        _precisions = new T[components];
        _offsets = new T[components];
        SetIdentityCovariances();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void LogProbabilities(in DataTile<T> tile, Span<T> destination, Span<T> workspace) =>
        GaussianKernels.SphericalLogDensity<T>(tile.Values, Features, tile.Points, tile.Stride, Components, KernelMeans, _precisions, _offsets, destination);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Accumulate(in DataTile<T> tile, ReadOnlySpan<T> responsibilities, SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        GaussianKernels.DiagonalSufficientStatistics<T>(
            tile.Values, Features, tile.Points, tile.Stride, responsibilities, Components, tile.SampleWeights, KernelShift,
            statistics.Block(1), statistics.Block(2), statistics.Block(3));
    }

    private protected override void PrepareCovariances() =>
        GaussianKernels.SphericalParameters<T>(Covariances, Features, LogWeights, _precisions, _offsets);

    /// <summary>tr Σ · tr Σ⁻¹ = D² for a multiple of the identity.</summary>
    private protected override double LargestConditionEstimate() => (double)Features * Features;

    private protected override bool MaximizeCovariance(int k, double mass, ReadOnlySpan<double> delta, ReadOnlySpan<double> second, ReadOnlySpan<double> priorOffset)
    {
        int d = Features;
        double sum = 0;
        double variance;
        if (Prior is not null)
        {
            // (ς_P + tr W + tr B) / (ν_P + (n + 1) D + 2).
            ReadOnlySpan<double> m = priorOffset;
            double c = PriorShrinkage * mass / (mass + PriorShrinkage);
            for (int a = 0; a < d; a++)
            {
                sum += second[k * d + a] - (mass * delta[a] * delta[a]) + (c * (delta[a] - m[a]) * (delta[a] - m[a]));
            }

            variance = (((PriorWeight * PriorScale[0]) + sum) / (PriorDivisor(d + 2) + (mass * d))) + FrameRegularization;
        }
        else
        {
            for (int a = 0; a < d; a++)
            {
                sum += second[k * d + a] / mass - delta[a] * delta[a];
            }

            variance = sum / d + FrameRegularization;
        }

        if (!(variance > 0) || !double.IsFinite(variance))
        {
            return false;
        }

        Covariances[k] = variance;
        return true;
    }
}
