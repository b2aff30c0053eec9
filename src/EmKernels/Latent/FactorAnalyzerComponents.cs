using System.Numerics;
using EmKernels.Engine;
using EmKernels.Kernels;
using EmKernels.Mixtures;

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
/// responsibilities, and per component the weighted mass, sum and scatter with the full-covariance kernels, about the
/// current means. M-step per component (an ECM step, so EM stays monotone): μ_k the weighted mean, S_k the weighted
/// scatter about it (+ reg_covar on its diagonal), and one factor-analysis EM iteration of W_k, Ψ_k from S_k; a
/// component without factors (W_k = 0, a fixed point of that iteration: just re-seeded or initialized) starts instead
/// from the probabilistic PCA solution of its S_k.</para>
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
    private readonly double[] _projection;
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
        : base(components, features, checked(components * features * (2 + latentDimensions)), Layout(components, features))
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
        _algebra = new FactorAlgebra(d, q);
        _meansT = new T[k * d];
        _shiftT = new T[k * d];
        _shift = new double[k * d];
        _precisionsT = new T[k * d];
        _projectionsT = new T[k * q * d];
        _offsetsT = new T[k];
        _projection = new double[q * d];
        _componentLoadings = new double[d * q];
        _componentNoise = new double[d];
        _reseedNoise = Enumerable.Repeat(1.0, d).ToArray();
        NoiseVariances.Fill(1);
    }

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

            _offsetsT[c] = T.CreateTruncating(LogWeights[c] - 0.5 * (d * Math.Log(2 * Math.PI) + logDeterminant));
        }

        _largestCondition = largest;
    }

    /// <inheritdoc/>
    public override void LogProbabilities(in DataTile<T> tile, Span<T> destination, Span<T> workspace) =>
        GaussianKernels.FactorLogDensity<T>(
            tile.Values, Features, tile.Points, tile.Stride, Components, _q, _meansT, _precisionsT, _projectionsT, _offsetsT, destination[..(Components * tile.Points)]);

    /// <summary>Per component the weighted mass, sum and upper-triangular scatter about the shift (the full-covariance kernels).</summary>
    /// <param name="tile">The points.</param>
    /// <param name="responsibilities">K × B.</param>
    /// <param name="statistics">Added to.</param>
    public override void Accumulate(in DataTile<T> tile, ReadOnlySpan<T> responsibilities, SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        int k = Components, d = Features;
        GaussianKernels.FullSufficientStatistics<T>(
            tile.Values, d, tile.Points, tile.Stride, responsibilities[..(k * tile.Points)], k, tile.SampleWeights, _shiftT,
            Mass(statistics), statistics.Block(2), statistics.Block(3));
    }

    /// <summary>Per component: μ_k, S_k (+ reg_covar), then one factor-analysis iteration (or the PPCA start of a fresh component).</summary>
    /// <param name="statistics">The merged statistics.</param>
    /// <param name="held">Components that keep their parameters.</param>
    /// <param name="degenerate">Set for components without mass or with unusable results.</param>
    public override void Maximize(SufficientStatistics statistics, ReadOnlySpan<bool> held, Span<bool> degenerate)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        int d = Features, q = _q;
        ReadOnlySpan<double> mass = Mass(statistics);
        ReadOnlySpan<double> first = statistics.Block(2);
        ReadOnlySpan<double> scatter = statistics.Block(3);
        double minimumMass = MinimumMass(mass);
        double regularization = FrameRegularization;
        double[] s = _algebra.Scatter;
        double[] loadings = _componentLoadings;
        double[] noise = _componentNoise;
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

            double trace = 0;
            for (int a = 0; a < d; a++)
            {
                double da = first[c * d + a] / n;
                for (int b = a; b < d; b++)
                {
                    double value = scatter[(c * d + a) * d + b] / n - da * (first[c * d + b] / n);
                    s[a * d + b] = value;
                    s[b * d + a] = value;
                }

                s[a * d + a] += regularization;
                trace += s[a * d + a];
            }

            double floor = Math.Max(FactorAnalyzer<T>.NoiseFloor * trace / d, double.Epsilon);
            Loadings.Slice(c * d * q, d * q).CopyTo(loadings);
            NoiseVariances.Slice(c * d, d).CopyTo(noise);
            bool isotropic = Noise == FactorNoise.Isotropic;
            // W = 0 is a fixed point of the iteration (nothing to project on): a component without factors — just
            // re-seeded or initialized — starts from the PPCA solution of its S_k instead.
            if (!loadings.AsSpan().ContainsAnyExcept(0.0))
            {
                _algebra.PrincipalStart(loadings, noise, isotropic, floor);
            }
            else if (!_algebra.Expect(loadings, noise) || !_algebra.Iterate(loadings, noise, isotropic, floor))
            {
                degenerate[c] = true;
                continue;
            }

            if (!AllFinite(loadings) || !AllFinite(noise) || !double.IsFinite(trace))
            {
                degenerate[c] = true;
                continue;
            }

            for (int j = 0; j < d; j++)
            {
                Means[c * d + j] = _shift[c * d + j] + first[c * d + j] / n;
            }

            loadings.CopyTo(Loadings.Slice(c * d * q, d * q));
            noise.CopyTo(NoiseVariances.Slice(c * d, d));
        }
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

    /// <summary>w_k times component k's mass 1, sum μ_k − shift_k and scatter C_k + δ δᵀ.</summary>
    /// <param name="weights">K weights.</param>
    /// <param name="statistics">Zeroed about the current shift by the caller (which writes the masses).</param>
    /// <returns>True.</returns>
    public override bool TryWriteImpliedStatistics(ReadOnlySpan<double> weights, SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        int d = Features, q = _q;
        Span<double> first = statistics.Block(2);
        Span<double> scatter = statistics.Block(3);
        ReadOnlySpan<double> means = Means, loadings = Loadings, noise = NoiseVariances;
        for (int c = 0; c < Components; c++)
        {
            for (int a = 0; a < d; a++)
            {
                double da = means[c * d + a] - _shift[c * d + a];
                first[c * d + a] += weights[c] * da;
                for (int b = 0; b < d; b++)
                {
                    double covariance = a == b ? noise[c * d + a] : 0;
                    for (int l = 0; l < q; l++)
                    {
                        covariance += loadings[(c * d + a) * q + l] * loadings[(c * d + b) * q + l];
                    }

                    double db = means[c * d + b] - _shift[c * d + b];
                    scatter[(c * d + a) * d + b] += weights[c] * (covariance + da * db);
                }
            }
        }

        return true;
    }

    private static bool AllFinite(ReadOnlySpan<double> values) => System.Numerics.Tensors.TensorPrimitives.IsFiniteAll(values);

    private static StatisticsLayout Layout(int components, int features) => new(
        "factor-analyzers/1",
        new StatisticsBlock("shift", components * features, IsShift: true),
        new StatisticsBlock("mass", components),
        new StatisticsBlock("first-moments", components * features),
        new StatisticsBlock("scatter", checked(components * features * features)));
}
