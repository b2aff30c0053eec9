using System.Numerics;
using EmKernels.Engine;
using EmKernels.Kernels;
using EmKernels.Mixtures;
using EmKernels.Numerics;

namespace EmKernels.Latent;

/// <summary>
/// Components of a mixture of factor analyzers (Ghahramani and Hinton 1996; mixtures of probabilistic PCA, Tipping and
/// Bishop 1999): Gaussians with covariance C_k = W_k W_kᵀ + Ψ_k, W_k of D × q — K·D·q parameters where full covariance
/// has K·D²/2, so high-dimensional data get full-covariance-like clusters that full covariance cannot estimate. A
/// family of <see cref="FiniteMixture{T}"/>, so it gets the weights, the initializations, restarts, re-seeding and
/// every driver of the engine.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
/// <remarks>
/// <para>E-step: the log-density through the Woodbury identity (<see cref="GaussianKernels.FactorLogDensity{T}"/>: a
/// q × q Cholesky factor per component per pass, O(D(q + 1)) per point and component, never a D × D inverse), the
/// responsibilities, and per component the expected complete-data statistics (Ghahramani and Hinton 1996) in O(D q)
/// per point (<see cref="GaussianKernels.FactorSufficientStatistics{T}"/>, no D × D scatter): with y = x − c (the
/// shift) and E[z | x] = B_k (x − μ_k), B_k = G_k W_kᵀ Ψ_k⁻¹, G_k = (I + W_kᵀ Ψ_k⁻¹ W_k)⁻¹, the sums of h, h y, h y²
/// (diagonal), h y E[z]ᵀ, h E[z] and h E[z zᵀ] = h (G_k + E[z] E[z]ᵀ). M-step per component, AECM (so EM stays
/// monotone): μ_k the weighted mean, then the statistics moved by exact algebra to an E-step about it, and one EM step of
/// W_k, Ψ_k from them (+ reg_covar on Ψ_k; their mean for probabilistic PCA; floored against Heywood cases) — the
/// factor-analysis iteration on the component's scatter, without forming the scatter. A component without
/// factors (W_k = 0, a fixed point of EM: just initialized or re-seeded) is probed instead (G_k = 0): first with a
/// random Gaussian B_k = Ω (q × D), so that its statistics hold S Ωᵀ and Ω S Ωᵀ of its scatter S, whose Nyström
/// approximation S Ωᵀ (Ω S Ωᵀ)⁻¹ Ω S gives q leading directions V (meanwhile it is the diagonal Gaussian of its weighted
/// mean and variances); then with B_k = Vᵀ, one step of subspace iteration, whose Nyström approximation's leading
/// eigenpairs give the probabilistic PCA start. An initialization makes both passes before the fit
/// (<see cref="InitializationPasses"/>).</para>
/// <para>Parameters, flat: the means (K × D), the loadings (K × D × q, W_k[j, l] at <c>(k·D + j)·q + l</c>), the noise
/// variances (K × D).</para>
/// </remarks>
public sealed class FactorAnalyzerComponents<T> : ComponentFamily<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly int _q;
    private readonly FactorAlgebra _algebra;
    private readonly T[] _meansT;
    private readonly T[] _shiftT;
    private readonly double[] _shift;
    private readonly T[] _precisionsT;
    private readonly T[] _projectionsT;
    private readonly T[] _offsetsT;
    private readonly T[] _posteriorT;
    private readonly double[] _posterior;
    private readonly double[] _posteriorCovariance;
    private readonly Probe[] _probes;
    private readonly double[] _basis;
    private readonly double[] _projection;
    private readonly double[] _factorSquares;
    private readonly double[] _factorLower;
    private readonly double[] _solution;
    private Random _probeSource = new(ProbeSeed);
    private readonly double[] _componentLoadings;
    private readonly double[] _componentNoise;
    private double[] _reseedNoise;
    private int _frameExponent;
    private double _largestCondition = 1;

    /// <summary>Creates K components of D features with q factors each, at the origin with W = 0 and Ψ = I until initialized.</summary>
    /// <param name="components">K ≥ 1.</param>
    /// <param name="features">D ≥ 1.</param>
    /// <param name="latentDimensions">q, 0 ≤ q ≤ D.</param>
    /// <param name="noise">Diagonal Ψ_k (factor analyzers) or σ²_k I (probabilistic PCA).</param>
    /// <param name="regularization">reg_covar, added to the diagonal of every S_k in every M-step (≥ 0).</param>
    /// <exception cref="ArgumentOutOfRangeException">A count or the regularization is out of range.</exception>
    public FactorAnalyzerComponents(int components, int features, int latentDimensions, FactorNoise noise = FactorNoise.Diagonal, double regularization = 1e-6)
        : base(components, features, checked(components * features * (2 + latentDimensions)), Layout(components, features, Math.Max(latentDimensions, 0)))
    {
        ArgumentOutOfRangeException.ThrowIfNegative(latentDimensions);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(latentDimensions, features);
        if (!(regularization >= 0) || double.IsInfinity(regularization))
        {
            throw new ArgumentOutOfRangeException(nameof(regularization), regularization, "reg_covar must be finite and non-negative.");
        }

        if (noise is not (FactorNoise.Diagonal or FactorNoise.Isotropic))
        {
            throw new ArgumentOutOfRangeException(nameof(noise), noise, "Unknown noise model.");
        }

        int k = components, d = features, q = latentDimensions;
        _q = q;
        Noise = noise;
        Regularization = regularization;
        _algebra = new FactorAlgebra(d, q, withScatter: false);
        _meansT = new T[k * d];
        _shiftT = new T[k * d];
        _shift = new double[k * d];
        _precisionsT = new T[k * d];
        _projectionsT = new T[k * q * d];
        _offsetsT = new T[k];
        _posteriorT = new T[k * q * d];
        _posterior = new double[k * q * d];
        _posteriorCovariance = new double[k * q * q];
        _probes = new Probe[k];
        _basis = new double[k * q * d];
        _projection = new double[q * d];
        _factorSquares = new double[q * q];
        _factorLower = new double[q * q];
        _solution = new double[d];
        _componentLoadings = new double[d * q];
        _componentNoise = new double[d];
        _reseedNoise = Enumerable.Repeat(1.0, d).ToArray();
        NoiseVariances.Fill(1);
    }

    /// <summary>The seed of the random probes of components without factors, until a fit's start draws one.</summary>
    private const int ProbeSeed = 20261201;

    /// <summary>q, the factors of each component.</summary>
    public int LatentDimensions => _q;

    /// <summary>Diagonal or isotropic noise.</summary>
    public FactorNoise Noise { get; }

    /// <summary>reg_covar.</summary>
    public double Regularization { get; }

    /// <summary>The means, K × D.</summary>
    public Span<double> Means => Parameters[..(Components * Features)];

    /// <summary>The loadings, K × D × q (W_k[j, l] at <c>(k·D + j)·q + l</c>).</summary>
    public Span<double> Loadings => Parameters.Slice(Components * Features, Components * Features * _q);

    /// <summary>The noise variances, K × D.</summary>
    public Span<double> NoiseVariances => Parameters.Slice(Components * Features * (1 + _q), Components * Features);

    /// <summary>Per component D q − q(q − 1)/2 loadings, D or 1 noise variances and D means.</summary>
    public override int FreeParameterCount =>
        Components * (Features * _q - _q * (_q - 1) / 2 + (Noise == FactorNoise.Diagonal ? Features : 1) + Features);

    /// <inheritdoc/>
    public override bool SupportsTranslation => true;

    /// <inheritdoc/>
    public override bool AccumulatesMass => true;

    /// <summary>Two with factors: a random probe of each component's scatter, then one step of subspace iteration from it, so the fit starts from each component's principal subspace.</summary>
    public override int InitializationPasses => _q > 0 ? 2 : 1;

    /// <summary>reg_covar in the fit's frame (scaled with the data).</summary>
    private double FrameRegularization => Math.ScaleB(Regularization, 2 * _frameExponent);

    /// <inheritdoc/>
    public override void Translate(ReadOnlySpan<double> offset)
    {
        int d = Features;
        Span<double> means = Means;
        for (int k = 0; k < Components; k++)
        {
            for (int j = 0; j < d; j++)
            {
                means[k * d + j] += offset[j];
                _shift[k * d + j] += offset[j];
            }
        }
    }

    /// <summary>A power of two when the data's spread (or reg_covar's) is beyond 2^±128 in double or 2^±32 in float.</summary>
    /// <param name="summary">The data's summary, or null to choose from the parameters.</param>
    /// <returns>s.</returns>
    public override int FrameScaleExponent(DataSummary? summary)
    {
        double log2Spread = summary?.Log2Spread ?? 0.5 * Math.Log2(System.Numerics.Tensors.TensorPrimitives.Max<double>(NoiseVariances));
        if (Regularization > 0)
        {
            log2Spread = Math.Max(log2Spread, 0.5 * Math.Log2(Regularization));
        }

        return Frames.SecondMomentScaleExponent<T>(log2Spread);
    }

    /// <summary>Means and loadings × 2^e, noise variances × 2^2e.</summary>
    /// <param name="exponent">e.</param>
    public override void ScaleFrame(int exponent)
    {
        _frameExponent += exponent;
        foreach (ref double value in Means)
        {
            value = Math.ScaleB(value, exponent);
        }

        foreach (ref double value in Loadings)
        {
            value = Math.ScaleB(value, exponent);
        }

        foreach (ref double value in NoiseVariances)
        {
            value = Math.ScaleB(value, 2 * exponent);
        }

        for (int i = 0; i < _shift.Length; i++)
        {
            _shift[i] = Math.ScaleB(_shift[i], exponent);
        }

        for (int j = 0; j < _reseedNoise.Length; j++)
        {
            _reseedNoise[j] = Math.ScaleB(_reseedNoise[j], 2 * exponent);
        }
    }

    /// <summary>ε · D · max_k tr C_k / min_j ψ_kj, the conditioning of the covariances (see <see cref="FactorAnalyzer{T}.ObjectiveRoundingError"/>).</summary>
    /// <returns>The allowance.</returns>
    public override double ObjectiveRoundingError() => Math.ScaleB(1.0, typeof(T) == typeof(float) ? -23 : -52) * Features * _largestCondition;

    /// <summary>Keeps the data's variances (+ reg_covar) as the noise a re-seeded component starts with.</summary>
    /// <param name="context">The data in the fit's frame.</param>
    public override void BeginFit(ModelInitialization<T> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        double regularization = FrameRegularization;
        double[] variance = context.Summary.Variance;
        double mean = Math.Max(variance.Average(), double.Epsilon);
        _reseedNoise = variance.Select(v => (v > 0 ? v : mean) + regularization).ToArray();
        _probeSource = new Random(context.Random.Next());
    }

    /// <inheritdoc/>
    public override void WriteShift(Span<double> shift) => _shift.CopyTo(shift);

    /// <inheritdoc/>
    public override void ReadShift(ReadOnlySpan<double> shift)
    {
        shift.CopyTo(_shift);
        for (int i = 0; i < _shift.Length; i++)
        {
            _shiftT[i] = T.CreateTruncating(_shift[i]);
        }
    }

    /// <summary>The kernel's form of every component: noise precisions, Woodbury projections, log w_k − ½ (D log 2π + log det C_k).</summary>
    /// <param name="reshift">Whether the statistics move to the current means.</param>
    protected override void Prepare(bool reshift)
    {
        int k = Components, d = Features, q = _q;
        if (reshift)
        {
            ReadShift(Means);
        }

        ReadOnlySpan<double> means = Means, loadings = Loadings, noise = NoiseVariances;
        double largest = 1;
        for (int c = 0; c < k; c++)
        {
            ReadOnlySpan<double> psi = noise.Slice(c * d, d);
            if (!_algebra.Projections(loadings.Slice(c * d * q, d * q), psi, _projection, out double logDeterminant))
            {
                throw new InvalidOperationException($"Component {c}'s I + Wᵀ Ψ⁻¹ W is not positive definite.");
            }

            double trace = 0, smallest = double.PositiveInfinity;
            for (int j = 0; j < d; j++)
            {
                _meansT[c * d + j] = T.CreateTruncating(means[c * d + j]);
                _precisionsT[c * d + j] = T.CreateTruncating(1 / psi[j]);
                smallest = Math.Min(smallest, psi[j]);
                trace += psi[j];
                for (int l = 0; l < q; l++)
                {
                    trace += loadings[(c * d + j) * q + l] * loadings[(c * d + j) * q + l];
                }
            }

            largest = Math.Max(largest, trace / smallest);
            for (int i = 0; i < q * d; i++)
            {
                _projectionsT[c * q * d + i] = T.CreateTruncating(_projection[i]);
            }

            // The statistics' B_k = G_k Uᵀ (U = Ψ⁻¹ W) and G_k; a component without factors is probed instead (no G): with a
            // random Ω, then with the basis that probe found.
            Span<double> g = _posteriorCovariance.AsSpan(c * q * q, q * q);
            bool withoutFactors = q > 0 && !loadings.Slice(c * d * q, d * q).ContainsAnyExcept(0.0);
            _probes[c] = !withoutFactors ? Probe.None : _probes[c] == Probe.Basis ? Probe.Basis : Probe.Random;
            if (_probes[c] != Probe.None)
            {
                g.Clear();
                for (int i = 0; i < q * d; i++)
                {
                    double value = _probes[c] == Probe.Basis ? _basis[c * q * d + i] : StandardNormal.Next(_probeSource);
                    _posterior[c * q * d + i] = value;
                    _posteriorT[c * q * d + i] = T.CreateTruncating(value);
                }
            }
            else
            {
                ReadOnlySpan<double> posterior = _algebra.PosteriorCovariance, scaled = _algebra.ScaledLoadings;
                posterior.CopyTo(g);
                for (int l = 0; l < q; l++)
                {
                    for (int j = 0; j < d; j++)
                    {
                        double sum = 0;
                        for (int m = 0; m < q; m++)
                        {
                            sum += posterior[l * q + m] * scaled[j * q + m];
                        }

                        _posterior[(c * q + l) * d + j] = sum;
                        _posteriorT[(c * q + l) * d + j] = T.CreateTruncating(sum);
                    }
                }
            }

            _offsetsT[c] = T.CreateTruncating(LogWeights[c] - 0.5 * (d * Math.Log(2 * Math.PI) + logDeterminant));
        }

        _largestCondition = largest;
    }

    /// <inheritdoc/>
    public override void LogProbabilities(in DataTile<T> tile, Span<T> destination, Span<T> workspace) =>
        GaussianKernels.FactorLogDensity<T>(
            tile.Values, Features, tile.Points, tile.Stride, Components, _q, _meansT, _precisionsT, _projectionsT, _offsetsT, destination[..(Components * tile.Points)]);

    /// <summary>
    /// Per component the mass and the diagonal moments about the shift, then the factor statistics (Σ h y E[z]ᵀ, Σ h E[z],
    /// Σ h E[z] E[z]ᵀ) with this tile's mass times G_k added to the last, so that statistics of different passes (stepwise
    /// EM) each carry their own posterior covariance.
    /// </summary>
    /// <param name="tile">The points.</param>
    /// <param name="responsibilities">K × B.</param>
    /// <param name="statistics">Added to.</param>
    public override void Accumulate(in DataTile<T> tile, ReadOnlySpan<T> responsibilities, SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        int k = Components, d = Features, q = _q;
        Span<double> mass = Mass(statistics);
        Span<double> before = stackalloc double[k];
        mass.CopyTo(before);
        ReadOnlySpan<T> r = responsibilities[..(k * tile.Points)];
        GaussianKernels.DiagonalSufficientStatistics<T>(
            tile.Values, d, tile.Points, tile.Stride, r, k, tile.SampleWeights, _shiftT, mass, statistics.Block(2), statistics.Block(3));
        if (q == 0)
        {
            return;
        }

        Span<double> squares = statistics.Block(6);
        GaussianKernels.FactorSufficientStatistics<T>(
            tile.Values, d, tile.Points, tile.Stride, r, k, q, tile.SampleWeights, _shiftT, _meansT, _posteriorT, statistics.Block(4), statistics.Block(5), squares);
        for (int c = 0; c < k; c++)
        {
            double added = mass[c] - before[c];
            ReadOnlySpan<double> g = _posteriorCovariance.AsSpan(c * q * q, q * q);
            Span<double> square = squares.Slice(c * q * q, q * q);
            for (int i = 0; i < q * q; i++)
            {
                square[i] += added * g[i];
            }
        }
    }

    /// <summary>
    /// Per component the exact EM step of [W_k m_k] and Ψ_k from the expected statistics, or, for a component that was
    /// probed (no factors), the probabilistic PCA start from its Nyström approximation of the scatter.
    /// </summary>
    /// <param name="statistics">The merged statistics.</param>
    /// <param name="held">Components that keep their parameters.</param>
    /// <param name="degenerate">Set for components without mass or with unusable results.</param>
    public override void Maximize(SufficientStatistics statistics, ReadOnlySpan<bool> held, Span<bool> degenerate)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        int d = Features, q = _q;
        ReadOnlySpan<double> mass = Mass(statistics);
        double minimumMass = MinimumMass(mass);
        double regularization = FrameRegularization;
        for (int c = 0; c < Components; c++)
        {
            if (held[c])
            {
                continue;
            }

            double n = mass[c];
            if (!(n > minimumMass))
            {
                degenerate[c] = true;
                continue;
            }

            ReadOnlySpan<double> first = statistics.Block(2).Slice(c * d, d);
            ReadOnlySpan<double> second = statistics.Block(3).Slice(c * d, d);
            ReadOnlySpan<double> cross = statistics.Block(4).Slice(c * d * q, d * q);
            ReadOnlySpan<double> sums = statistics.Block(5).Slice(c * q, q);
            ReadOnlySpan<double> squares = statistics.Block(6).Slice(c * q * q, q * q);
            double trace = 0;
            for (int j = 0; j < d; j++)
            {
                double m = first[j] / n;
                trace += second[j] / n - m * m;
            }

            double floor = Math.Max(FactorAnalyzer<T>.NoiseFloor * trace / d, double.Epsilon);
            Span<double> loadings = _componentLoadings, noise = _componentNoise;
            Span<double> offset = _solution.AsSpan(0, d);
            bool ok = _probes[c] == Probe.None
                ? ConditionalStep(c, n, first, second, cross, sums, squares, floor, loadings, noise, offset)
                : NystromStart(c, n, first, second, cross, sums, squares, trace, floor, loadings, noise, offset);
            if (!ok || !AllFinite(loadings) || !AllFinite(noise) || !AllFinite(offset))
            {
                degenerate[c] = true;
                continue;
            }

            for (int j = 0; j < d; j++)
            {
                Means[c * d + j] = _shift[c * d + j] + offset[j];
                noise[j] += regularization;
            }

            loadings.CopyTo(Loadings.Slice(c * d * q, d * q));
            noise.CopyTo(NoiseVariances.Slice(c * d, d));
        }
    }

    /// <summary>
    /// The two cycles of the step (AECM, as Ghahramani and Hinton's EM for the loadings with McLachlan and Peel's
    /// conditional step for the mean): μ' = the weighted mean; then the statistics moved to an E-step about μ'
    /// (e' = e − B Δ with Δ = μ' − μ, the same B: exact algebra on the sums, no second pass), and W' = (Σ h y' e'ᵀ)
    /// (Σ h E[z' z'ᵀ])⁻¹, ψ'_j = (Σ h y'_j² − W'_j · Σ h y'_j e')/Σ h, floored (their mean first, for probabilistic PCA).
    /// Estimating [W m] jointly instead is also EM, but its mean converges as slowly as its loadings.
    /// </summary>
    private bool ConditionalStep(
        int component, double n, ReadOnlySpan<double> first, ReadOnlySpan<double> second, ReadOnlySpan<double> cross, ReadOnlySpan<double> sums,
        ReadOnlySpan<double> squares, double floor, Span<double> loadings, Span<double> noise, Span<double> offset)
    {
        int d = Features, q = _q;
        ReadOnlySpan<double> b = _posterior.AsSpan(component * q * d, q * d);
        ReadOnlySpan<double> means = Means.Slice(component * d, d);
        Span<double> shifted = stackalloc double[q]; // B Δ
        for (int j = 0; j < d; j++)
        {
            offset[j] = first[j] / n;
        }

        for (int l = 0; l < q; l++)
        {
            double sum = 0;
            for (int j = 0; j < d; j++)
            {
                sum += b[l * d + j] * (_shift[component * d + j] + offset[j] - means[j]);
            }

            shifted[l] = sum;
        }

        // Σ h E[z' z'ᵀ] = Σ h e eᵀ + n G − (Σ h e)(B Δ)ᵀ − (B Δ)(Σ h e)ᵀ + n (B Δ)(B Δ)ᵀ, symmetrized.
        double[] a = _factorSquares;
        for (int l = 0; l < q; l++)
        {
            for (int m = 0; m < q; m++)
            {
                a[l * q + m] = 0.5 * (squares[l * q + m] + squares[m * q + l]) - sums[l] * shifted[m] - shifted[l] * sums[m] + n * shifted[l] * shifted[m];
            }
        }

        if (!DenseMatrix.TryCholesky(a, q, _factorLower))
        {
            return false;
        }

        // Row j of W' solves A w = Σ h y'_j e' = cross_j − m'_j Σ h e (A symmetric): forward then back substitution.
        Span<double> row = stackalloc double[q];
        Span<double> rhs = stackalloc double[q];
        double[] lower = _factorLower;
        double total = 0;
        for (int j = 0; j < d; j++)
        {
            for (int l = 0; l < q; l++)
            {
                rhs[l] = cross[j * q + l] - offset[j] * sums[l];
            }

            for (int i = 0; i < q; i++)
            {
                double sum = rhs[i];
                for (int m = 0; m < i; m++)
                {
                    sum -= lower[i * q + m] * row[m];
                }

                row[i] = sum / lower[i * q + i];
            }

            for (int i = q - 1; i >= 0; i--)
            {
                double sum = row[i];
                for (int m = i + 1; m < q; m++)
                {
                    sum -= lower[m * q + i] * row[m];
                }

                row[i] = sum / lower[i * q + i];
            }

            double explained = 0;
            for (int l = 0; l < q; l++)
            {
                explained += row[l] * rhs[l];
            }

            row.CopyTo(loadings.Slice(j * q, q));
            noise[j] = (second[j] - n * offset[j] * offset[j] - explained) / n;
            total += noise[j];
        }

        for (int j = 0; j < d; j++)
        {
            double value = Noise == FactorNoise.Isotropic ? total / d : noise[j];
            noise[j] = value > floor ? value : floor;
        }

        return true;
    }

    /// <summary>
    /// A probed component's M-step: with its probe B, Y = S Bᵀ and Z = B S Bᵀ from its statistics (centred at its
    /// weighted mean), S ≈ Y Z⁻¹ Yᵀ = Q (R Z⁻¹ Rᵀ) Qᵀ with Y = Q R (Nyström), whose leading eigenpairs (λ_l, v_l) are
    /// kept as the next probe after a random one, and after that give the probabilistic PCA start
    /// σ² = (tr S − Σ λ_l)/(D − q), W = [v_l (λ_l − σ²)^½], Ψ = σ² I; the mean is the weighted mean.
    /// </summary>
    private bool NystromStart(
        int component, double n, ReadOnlySpan<double> first, ReadOnlySpan<double> second, ReadOnlySpan<double> cross, ReadOnlySpan<double> sums,
        ReadOnlySpan<double> squares, double trace, double floor, Span<double> loadings, Span<double> noise, Span<double> offset)
    {
        int d = Features, q = _q;
        for (int j = 0; j < d; j++)
        {
            offset[j] = first[j] / n;
        }

        // Y (D × q, into the loadings' buffer) and Z (q × q).
        Span<double> y = loadings;
        for (int j = 0; j < d; j++)
        {
            for (int l = 0; l < q; l++)
            {
                y[j * q + l] = (cross[j * q + l] - first[j] * sums[l] / n) / n;
            }
        }

        double[] z = new double[q * q];
        double zTrace = 0;
        for (int l = 0; l < q; l++)
        {
            for (int m = 0; m < q; m++)
            {
                z[l * q + m] = 0.5 * (squares[l * q + m] + squares[m * q + l] - 2 * sums[l] * sums[m] / n) / n;
            }

            zTrace += z[l * q + l];
        }

        // Y = Q R by modified Gram–Schmidt (Q into y in place); a column without new directions stays zero.
        double[] r = new double[q * q];
        for (int l = 0; l < q; l++)
        {
            for (int m = 0; m < l; m++)
            {
                double dot = 0;
                for (int j = 0; j < d; j++)
                {
                    dot += y[j * q + m] * y[j * q + l];
                }

                r[m * q + l] = dot;
                for (int j = 0; j < d; j++)
                {
                    y[j * q + l] -= dot * y[j * q + m];
                }
            }

            double norm = 0;
            for (int j = 0; j < d; j++)
            {
                norm += y[j * q + l] * y[j * q + l];
            }

            norm = Math.Sqrt(norm);
            r[l * q + l] = norm;
            for (int j = 0; j < d; j++)
            {
                y[j * q + l] = norm > 0 ? y[j * q + l] / norm : 0;
            }
        }

        // B = R Z⁻¹ Rᵀ, with Z nudged by 1e-12 of its trace if it is singular.
        double[] inverse = new double[q * q];
        double[] scratch = new double[2 * q * q];
        if (!DenseMatrix.TryInvertPositiveDefinite(z, q, inverse, scratch, out _))
        {
            for (int l = 0; l < q; l++)
            {
                z[l * q + l] += 1e-12 * zTrace + double.Epsilon;
            }

            if (!DenseMatrix.TryInvertPositiveDefinite(z, q, inverse, scratch, out _))
            {
                return false;
            }
        }

        double[] b = new double[q * q];
        for (int l = 0; l < q; l++)
        {
            for (int m = 0; m < q; m++)
            {
                double sum = 0;
                for (int i = 0; i < q; i++)
                {
                    for (int t = 0; t < q; t++)
                    {
                        sum += r[l * q + i] * inverse[i * q + t] * r[m * q + t];
                    }
                }

                b[l * q + m] = sum;
            }
        }

        double[] values = new double[q];
        double[] vectors = new double[q * q];
        DenseMatrix.SymmetricEigen(b, q, values, vectors);
        int[] order = Enumerable.Range(0, q).OrderByDescending(i => values[i]).ToArray();
        double explained = 0;
        foreach (int i in order)
        {
            explained += Math.Max(values[i], 0);
        }

        double sigma2 = q < d ? (trace - explained) / (d - q) : 1e-3 * trace / d;
        sigma2 = sigma2 > floor ? sigma2 : floor;

        // The eigenvectors Q U, written over Q row by row; after the random probe they are the next probe's rows (and the
        // component stays without factors, a diagonal Gaussian at its weighted mean and variances); after that probe,
        // W = Q U (Λ − σ²)^½.
        bool last = _probes[component] == Probe.Basis;
        Span<double> basis = _basis.AsSpan(component * q * d, q * d);
        Span<double> qRow = stackalloc double[q];
        for (int j = 0; j < d; j++)
        {
            y.Slice(j * q, q).CopyTo(qRow);
            for (int l = 0; l < q; l++)
            {
                int i = order[l];
                double sum = 0;
                for (int m = 0; m < q; m++)
                {
                    sum += qRow[m] * vectors[m * q + i];
                }

                loadings[j * q + l] = last ? sum * Math.Sqrt(Math.Max(values[i] - sigma2, 0)) : 0;
                basis[l * d + j] = sum;
            }
        }

        if (last)
        {
            noise[..d].Fill(sigma2);
            _probes[component] = Probe.None;
            return true;
        }

        double total = 0;
        for (int j = 0; j < d; j++)
        {
            noise[j] = second[j] / n - offset[j] * offset[j];
            total += noise[j];
        }

        for (int j = 0; j < d; j++)
        {
            double value = Noise == FactorNoise.Isotropic ? total / d : noise[j];
            noise[j] = value > floor ? value : floor;
        }

        _probes[component] = Probe.Basis;
        return true;
    }

    /// <summary>What a component's statistics hold: the posterior projections (it has factors), or a probe of its scatter.</summary>
    private enum Probe
    {
        /// <summary>B_k = G_k W_kᵀ Ψ_k⁻¹: the EM statistics.</summary>
        None,

        /// <summary>A random Gaussian Ω: a first look at the scatter's range.</summary>
        Random,

        /// <summary>The leading directions the random probe found: one step of subspace iteration from them.</summary>
        Basis,
    }

    /// <summary>Component <paramref name="component"/> at <paramref name="point"/>, without factors (W = 0) and with the data's own variances: its next M-step starts it afresh.</summary>
    /// <param name="component">0-based component.</param>
    /// <param name="point">D values in the fit's frame.</param>
    public override void Reseed(int component, ReadOnlySpan<double> point)
    {
        int d = Features, q = _q;
        point[..d].CopyTo(Means.Slice(component * d, d));
        Loadings.Slice(component * d * q, d * q).Clear();
        _reseedNoise.CopyTo(NoiseVariances.Slice(component * d, d));
        if (Noise == FactorNoise.Isotropic)
        {
            NoiseVariances.Slice(component * d, d).Fill(_reseedNoise.Average());
        }

    }

    /// <summary>
    /// w_k times what one point of component k implies under the current E-step (B_k, G_k): mass 1, y = μ_k − shift_k + ε
    /// with E[y] = δ, E[y²] = diag C_k + δ², E[y eᵀ] = C_k B_kᵀ, E[e] = 0, E[e eᵀ] + G_k = B_k C_k B_kᵀ + G_k (I when B_k is
    /// the posterior projection).
    /// </summary>
    /// <param name="weights">K weights.</param>
    /// <param name="statistics">Zeroed about the current shift by the caller (which writes the masses).</param>
    /// <returns>True.</returns>
    public override bool TryWriteImpliedStatistics(ReadOnlySpan<double> weights, SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        int d = Features, q = _q;
        Span<double> first = statistics.Block(2), second = statistics.Block(3), cross = statistics.Block(4), squares = statistics.Block(6);
        ReadOnlySpan<double> means = Means, loadings = Loadings, noise = NoiseVariances;
        double[] cb = new double[d * q]; // C_k B_kᵀ
        double[] wb = new double[q * q]; // W_kᵀ B_kᵀ
        for (int c = 0; c < Components; c++)
        {
            ReadOnlySpan<double> w = loadings.Slice(c * d * q, d * q);
            ReadOnlySpan<double> projection = _posterior.AsSpan(c * q * d, q * d);
            Array.Clear(wb);
            for (int l = 0; l < q; l++)
            {
                for (int m = 0; m < q; m++)
                {
                    for (int j = 0; j < d; j++)
                    {
                        wb[l * q + m] += w[j * q + l] * projection[m * d + j];
                    }
                }
            }

            for (int j = 0; j < d; j++)
            {
                double delta = means[c * d + j] - _shift[c * d + j];
                double variance = noise[c * d + j];
                for (int l = 0; l < q; l++)
                {
                    variance += w[j * q + l] * w[j * q + l];
                }

                first[c * d + j] += weights[c] * delta;
                second[c * d + j] += weights[c] * (variance + delta * delta);
                for (int m = 0; m < q; m++)
                {
                    double sum = noise[c * d + j] * projection[m * d + j];
                    for (int l = 0; l < q; l++)
                    {
                        sum += w[j * q + l] * wb[l * q + m];
                    }

                    cb[j * q + m] = sum;
                    cross[(c * d + j) * q + m] += weights[c] * sum;
                }
            }

            for (int l = 0; l < q; l++)
            {
                for (int m = 0; m < q; m++)
                {
                    double sum = _posteriorCovariance[(c * q + l) * q + m];
                    for (int j = 0; j < d; j++)
                    {
                        sum += projection[l * d + j] * cb[j * q + m];
                    }

                    squares[(c * q + l) * q + m] += weights[c] * sum;
                }
            }
        }

        return true;
    }

    private static bool AllFinite(ReadOnlySpan<double> values) => System.Numerics.Tensors.TensorPrimitives.IsFiniteAll(values);

    private static StatisticsLayout Layout(int components, int features, int latentDimensions) => new(
        "factor-analyzers/2",
        new StatisticsBlock("shift", components * features, IsShift: true),
        new StatisticsBlock("mass", components),
        new StatisticsBlock("first-moments", components * features),
        new StatisticsBlock("second-moments", components * features),
        new StatisticsBlock("cross-moments", checked(components * features * latentDimensions)),
        new StatisticsBlock("factor-sums", components * latentDimensions),
        new StatisticsBlock("factor-squares", checked(components * latentDimensions * latentDimensions)));
}
