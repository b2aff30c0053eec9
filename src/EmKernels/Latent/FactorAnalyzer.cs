using System.Numerics;
using System.Runtime.CompilerServices;
using EmKernels.Engine;
using EmKernels.Kernels;
using EmKernels.Numerics;

namespace EmKernels.Latent;

/// <summary>The noise model of a factor analyzer: what the covariance of ε in x = W z + μ + ε is.</summary>
public enum FactorNoise
{
    /// <summary>Ψ diagonal, one variance per feature: factor analysis.</summary>
    Diagonal,

    /// <summary>Ψ = σ² I, one variance for all features: probabilistic PCA.</summary>
    Isotropic,
}

/// <summary>
/// The linear-Gaussian latent factor model x = W z + μ + ε, z ~ N(0, I_q), ε ~ N(0, Ψ), as a model of the engine:
/// factor analysis (Ψ diagonal) or probabilistic PCA (Ψ = σ² I), fitted by EM (Bishop, PRML §12.2.4; Tipping and
/// Bishop 1999; Ghahramani and Hinton 1996). The marginal of x is N(μ, C) with C = W Wᵀ + Ψ.
/// </summary>
/// <typeparam name="T">float or double: the type the data are held in (the algebra is in double).</typeparam>
/// <remarks>
/// <para>The data enter only through their count, mean and scatter matrix S (divisor N), which its E-step over a
/// tile accumulates with the full-covariance kernels: the statistics do not depend on the parameters
/// (<see cref="StatisticsIndependentOfParameters"/>), so the batch driver passes over the data once per fit and
/// each iteration costs O(D² q), independent of N. With β = Wᵀ C⁻¹ = G Wᵀ Ψ⁻¹ and G = (I + Wᵀ Ψ⁻¹ W)⁻¹ (through
/// the Woodbury identity: only q × q matrices are inverted), an iteration is
/// <code>
/// W' = S βᵀ (G + β S βᵀ)⁻¹
/// Ψ' = diag(S − W' β S)                                     (factor analysis)
/// σ²' = [tr S − 2 tr(W'ᵀ S βᵀ) + tr((G + β S βᵀ) W'ᵀ W')] / D (probabilistic PCA)
/// </code>
/// and μ is the sample mean. The objective is the mean log-likelihood −½ [D log 2π + log det C + tr(C⁻¹ S)].</para>
/// <para>Policy for degenerate noise: a noise variance is kept at least 10⁻¹² times the mean variance of the data
/// (a Heywood case, a feature the factors explain entirely, would otherwise make C singular); with that floor never
/// reached the iteration is exactly the one above. W is not rotated, ordered or orthogonalized: it is identified
/// only up to a rotation of the latent space.</para>
/// </remarks>
public sealed class FactorAnalyzer<T> : IExpectationMaximizationModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>The smallest noise variance, relative to the mean variance of the data (see the remarks).</summary>
    public const double NoiseFloor = 1e-12;

    private readonly double[] _mean;
    private readonly double[] _loadings;
    private readonly double[] _noise;
    private readonly T[] _meanT;
    private readonly T[] _zeroShift;
    private readonly T[] _factorT;
    private readonly T[] _offsetT = new T[1];
    private readonly FactorAlgebra _algebra;
    private double[]? _startLoadings;
    private double[]? _startNoise;
    private int _frameExponent;
    private bool _prepared;
    private SufficientStatistics? _expectationsOf;
    private double _expectationsWeight;

    /// <summary>Creates a factor analyzer of D features and q latent dimensions, with W = 0, Ψ = I and μ = 0 until it is fitted or given parameters.</summary>
    /// <param name="features">D ≥ 1.</param>
    /// <param name="latentDimensions">q, 0 ≤ q ≤ D (q = 0 is the Gaussian with covariance Ψ).</param>
    /// <param name="noise">Diagonal (factor analysis) or isotropic (probabilistic PCA).</param>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range, or the noise model is unknown.</exception>
    public FactorAnalyzer(int features, int latentDimensions, FactorNoise noise = FactorNoise.Diagonal)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(latentDimensions);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(latentDimensions, features);
        if (noise is not (FactorNoise.Diagonal or FactorNoise.Isotropic))
        {
            throw new ArgumentOutOfRangeException(nameof(noise), noise, "Unknown noise model.");
        }

        if ((long)features * features > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(features), features, "The D × D scatter matrix would not fit in an array.");
        }

        int d = features, q = latentDimensions;
        Features = d;
        LatentDimensions = q;
        Noise = noise;
        _mean = new double[d];
        _loadings = new double[d * q];
        _noise = new double[d];
        _noise.AsSpan().Fill(1);
        _meanT = new T[d];
        _zeroShift = new T[d];
        _factorT = new T[d * d];
        _algebra = new FactorAlgebra(d, q);
        StatisticsLayout = new StatisticsLayout(
            "factor-analysis/1", new StatisticsBlock("weight", 1), new StatisticsBlock("first-moments", d), new StatisticsBlock("scatter", d * d));
    }

    /// <inheritdoc/>
    public int Features { get; }

    /// <summary>q, the dimension of the latent variable z.</summary>
    public int LatentDimensions { get; }

    /// <summary>Diagonal (factor analysis) or isotropic (probabilistic PCA) noise.</summary>
    public FactorNoise Noise { get; }

    /// <summary>μ, D values.</summary>
    public ReadOnlySpan<double> Mean => _mean;

    /// <summary>W, the loadings: D × q, row-major (W[j, l] at <c>j·q + l</c>).</summary>
    public ReadOnlySpan<double> Loadings => _loadings;

    /// <summary>The diagonal of Ψ, D values (all equal to σ² for probabilistic PCA).</summary>
    public ReadOnlySpan<double> NoiseVariances => _noise;

    /// <summary>
    /// Free parameters: D q − q(q − 1)/2 for W (identified up to a rotation), D or 1 for the noise, and D for μ.
    /// </summary>
    public int FreeParameterCount =>
        Features * LatentDimensions - LatentDimensions * (LatentDimensions - 1) / 2 + (Noise == FactorNoise.Diagonal ? Features : 1) + Features;

    /// <inheritdoc/>
    public StatisticsLayout StatisticsLayout { get; }

    /// <inheritdoc/>
    public int ParameterLength => Features * (2 + LatentDimensions);

    /// <summary>True: the model moves with the data (μ is the only location parameter).</summary>
    public bool SupportsTranslation => true;

    /// <summary>True: the statistics are the data's count, sum and scatter; every iteration works on them alone.</summary>
    public bool StatisticsIndependentOfParameters => true;

    /// <summary>Sets μ, W and Ψ.</summary>
    /// <param name="mean">D finite values.</param>
    /// <param name="loadings">D × q finite values, row-major.</param>
    /// <param name="noiseVariances">D positive finite values (all equal for probabilistic PCA).</param>
    /// <exception cref="ArgumentException">A length or value is invalid; the message names it.</exception>
    public void SetParameters(ReadOnlySpan<double> mean, ReadOnlySpan<double> loadings, ReadOnlySpan<double> noiseVariances)
    {
        CheckFinite(mean, Features, nameof(mean));
        CheckLoadingsAndNoise(loadings, noiseVariances);
        mean.CopyTo(_mean);
        loadings.CopyTo(_loadings);
        noiseVariances.CopyTo(_noise);
        ParametersChanged();
    }

    /// <summary>
    /// The start EM runs from (W₀, Ψ₀, in the data's units) instead of the random one <see cref="Initialize"/> would
    /// draw; with a start the fit runs once. Passing empty spans clears it.
    /// </summary>
    /// <param name="loadings">D × q finite values, row-major, or empty.</param>
    /// <param name="noiseVariances">D positive finite values (all equal for probabilistic PCA), or empty.</param>
    /// <exception cref="ArgumentException">A length or value is invalid.</exception>
    public void SetStart(ReadOnlySpan<double> loadings, ReadOnlySpan<double> noiseVariances)
    {
        if (loadings.IsEmpty && noiseVariances.IsEmpty)
        {
            _startLoadings = null;
            _startNoise = null;
            return;
        }

        CheckLoadingsAndNoise(loadings, noiseVariances);
        _startLoadings = loadings.ToArray();
        _startNoise = noiseVariances.ToArray();
    }

    /// <summary>C = W Wᵀ + Ψ, the covariance of x: D × D, row-major.</summary>
    /// <returns>A new array.</returns>
    public double[] Covariance()
    {
        double[] c = new double[Features * Features];
        ImpliedCovariance(c);
        return c;
    }

    /// <summary>G = Cov[z | x] = (I + Wᵀ Ψ⁻¹ W)⁻¹, the posterior covariance of the latent variable (the same for every x): q × q.</summary>
    /// <returns>A new array.</returns>
    public double[] PosteriorCovariance()
    {
        _algebra.PosteriorFactors(_loadings, _noise);
        return _algebra.PosteriorCovariance.ToArray();
    }

    /// <summary>E[z | x] = β (x − μ) with β = G Wᵀ Ψ⁻¹ for each point: N × q, row-major.</summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>The posterior means.</returns>
    /// <exception cref="ArgumentException">The length does not match N × D.</exception>
    public double[] Transform(ReadOnlySpan<T> data, int points)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(points);
        if ((long)points * Features != data.Length)
        {
            throw new ArgumentException($"Expected {points} × {Features} values, got {data.Length}.", nameof(data));
        }

        int d = Features, q = LatentDimensions;
        _algebra.PosteriorFactors(_loadings, _noise);

        // βᵀ = U G (D × q), U = Ψ⁻¹ W.
        double[] betaT = new double[d * q];
        FactorAlgebra.Multiply(_algebra.ScaledLoadings, _algebra.PosteriorCovariance, betaT, d, q, q);
        double[] z = new double[(long)points * q];
        double[] centred = new double[d];
        for (int n = 0; n < points; n++)
        {
            for (int j = 0; j < d; j++)
            {
                centred[j] = double.CreateTruncating(data[n * d + j]) - _mean[j];
            }

            for (int l = 0; l < q; l++)
            {
                double sum = 0;
                for (int j = 0; j < d; j++)
                {
                    sum += betaT[j * q + l] * centred[j];
                }

                z[(long)n * q + l] = sum;
            }
        }

        return z;
    }

    /// <inheritdoc/>
    public void Translate(ReadOnlySpan<double> offset)
    {
        for (int j = 0; j < Features; j++)
        {
            _mean[j] += offset[j];
        }

        ParametersChanged();
    }

    /// <summary>A power of two when the spread of the data (or of C) is beyond 2^±128 in double or 2^±32 in float, so that the scatter and C stay representable.</summary>
    /// <param name="summary">The data's summary, or null to choose from the parameters.</param>
    /// <returns>s.</returns>
    public int FrameScaleExponent(DataSummary? summary)
    {
        double log2Spread;
        if (summary is not null)
        {
            log2Spread = summary.Log2Spread;
        }
        else
        {
            double largest = 0;
            for (int j = 0; j < Features; j++)
            {
                double v = _noise[j];
                for (int l = 0; l < LatentDimensions; l++)
                {
                    v += _loadings[j * LatentDimensions + l] * _loadings[j * LatentDimensions + l];
                }

                largest = Math.Max(largest, v);
            }

            log2Spread = 0.5 * Math.Log2(largest);
        }

        return Frames.SecondMomentScaleExponent<T>(log2Spread);
    }

    /// <summary>μ and W × 2^e, Ψ × 2^2e.</summary>
    /// <param name="exponent">e.</param>
    public void ScaleFrame(int exponent)
    {
        _frameExponent += exponent;
        for (int j = 0; j < Features; j++)
        {
            _mean[j] = Math.ScaleB(_mean[j], exponent);
            _noise[j] = Math.ScaleB(_noise[j], 2 * exponent);
        }

        for (int i = 0; i < _loadings.Length; i++)
        {
            _loadings[i] = Math.ScaleB(_loadings[i], exponent);
        }

        ParametersChanged();
    }

    /// <summary>Writes [μ (D), W (D × q, row-major), Ψ (D)].</summary>
    /// <param name="destination"><see cref="ParameterLength"/> values.</param>
    public void WriteParameters(Span<double> destination)
    {
        _mean.CopyTo(destination);
        _loadings.CopyTo(destination[Features..]);
        _noise.CopyTo(destination[(Features + _loadings.Length)..]);
    }

    /// <summary>Reads what <see cref="WriteParameters"/> wrote.</summary>
    /// <param name="source"><see cref="ParameterLength"/> values.</param>
    public void ReadParameters(ReadOnlySpan<double> source)
    {
        source[..Features].CopyTo(_mean);
        source.Slice(Features, _loadings.Length).CopyTo(_loadings);
        source.Slice(Features + _loadings.Length, Features).CopyTo(_noise);
        ParametersChanged();
    }

    /// <inheritdoc/>
    public int WorkspaceLength(int tilePoints) => 2 * tilePoints;

    /// <summary>Every value must be finite.</summary>
    /// <param name="tile">A tile in the user's coordinates.</param>
    public void Validate(in DataTile<T> tile)
    {
        TileChecks.RequireFinite(tile);
    }

    /// <summary>
    /// The start given by <see cref="SetStart"/> (then true: the fit runs once); else, given the data's statistics (the
    /// batch driver), the probabilistic PCA solution of their principal subspace (deterministic: true); else W₀ with
    /// independent N(0, v̄/q) entries and Ψ₀ = the data's variances (probabilistic PCA: σ²₀ = their mean v̄).
    /// </summary>
    /// <param name="context">The data's summary in the fit's frame and the restart's random source.</param>
    /// <returns>Whether the start is deterministic.</returns>
    public bool Initialize(ModelInitialization<T> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        int d = Features, q = LatentDimensions;
        Array.Clear(_mean);
        if (_startNoise is not null)
        {
            for (int j = 0; j < d; j++)
            {
                _noise[j] = Math.ScaleB(_startNoise[j], 2 * _frameExponent);
            }

            for (int i = 0; i < _loadings.Length; i++)
            {
                _loadings[i] = Math.ScaleB(_startLoadings![i], _frameExponent);
            }

            ParametersChanged();
            return true;
        }

        if (context.DataStatistics is { } statistics)
        {
            StartFromPrincipalSubspace(statistics);
            return true;
        }

        double[] variance = context.Summary.Variance;
        double meanVariance = variance.Average();
        double floor = NoiseFloor * meanVariance;
        double scale = q > 0 ? Math.Sqrt(meanVariance / q) : 0;
        for (int i = 0; i < _loadings.Length; i++)
        {
            _loadings[i] = StandardNormal.Next(context.Random) * scale;
        }

        for (int j = 0; j < d; j++)
        {
            double v = Noise == FactorNoise.Diagonal ? variance[j] : meanVariance;
            _noise[j] = v > floor ? v : Math.Max(floor, double.Epsilon);
        }

        ParametersChanged();
        return q == 0;
    }

    /// <summary>Prepares the log-density of the marginal N(μ, C) for the per-point objectives.</summary>
    /// <param name="reshift">Unused: the statistics are taken about the origin of the fit's frame (the data's mean).</param>
    public void PrepareExpectation(bool reshift)
    {
        int d = Features;
        double[] covariance = _algebra.Scatter; // scratch: the expectations kept in it for Maximize are given up
        _expectationsOf = null;
        ImpliedCovariance(covariance);
        _prepared = GaussianKernels.TryPrecisionCholesky(covariance, d, _factorT.AsSpan(), out double halfLogDeterminant);
        _offsetT[0] = T.CreateTruncating(-0.5 * d * Math.Log(2 * Math.PI) + halfLogDeterminant);
        for (int j = 0; j < d; j++)
        {
            _meanT[j] = T.CreateTruncating(_mean[j]);
        }
    }

    /// <inheritdoc/>
    public void AdoptShift(SufficientStatistics statistics)
    {
    }

    /// <inheritdoc/>
    public void ResetStatistics(SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        statistics.Clear();
    }

    /// <summary>Unit weight, first moments μ and scatter C + μ μᵀ: what the current parameters would have given.</summary>
    /// <param name="statistics">Overwritten.</param>
    /// <returns>True.</returns>
    public bool TryWriteImpliedStatistics(SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        int d = Features;
        statistics.Clear();
        Span<double> sums = statistics.Sums;
        sums[0] = 1;
        _mean.CopyTo(sums[1..]);
        Span<double> scatter = sums.Slice(1 + d, d * d);
        ImpliedCovariance(scatter);
        for (int a = 0; a < d; a++)
        {
            for (int b = 0; b < d; b++)
            {
                scatter[a * d + b] += _mean[a] * _mean[b];
            }
        }

        return true;
    }

    /// <summary>
    /// With statistics, adds the tile's weight, Σ w x and the upper triangle of Σ w x xᵀ (the full-covariance kernels,
    /// one component of responsibility 1) and nothing else (the drivers take the objective from the statistics);
    /// without, writes each point's log N(x; μ, C).
    /// </summary>
    /// <param name="tile">The points in the fit's frame.</param>
    /// <param name="statistics">Added to, or null.</param>
    /// <param name="workspace">2 B elements.</param>
    /// <param name="pointObjectives">B log-densities.</param>
    /// <returns>Σ w log N(x; μ, C) (0 with statistics).</returns>
    public double Expectation(in DataTile<T> tile, SufficientStatistics? statistics, Span<T> workspace, Span<T> pointObjectives)
    {
        int b = tile.Points, d = Features;
        if (b == 0)
        {
            return 0;
        }

        Span<T> ones = workspace[..b];
        Span<T> logDensities = workspace.Slice(b, b);
        if (statistics is not null)
        {
            // The drivers take the objective of these statistics from ObjectiveOfStatistics: no densities here.
            ones.Fill(T.One);
            Span<double> sums = statistics.Sums;
            GaussianKernels.FullSufficientStatistics<T>(
                tile.Values, d, b, tile.Stride, ones, 1, tile.SampleWeights, _zeroShift, sums[..1], sums.Slice(1, d), sums.Slice(1 + d, d * d));
            pointObjectives[..b].Clear();
            return 0;
        }

        if (!_prepared)
        {
            pointObjectives[..b].Fill(T.NaN);
            return double.NaN;
        }

        GaussianKernels.FullLogDensity<T>(tile.Values, d, b, tile.Stride, 1, _meanT, _factorT, _offsetT, logDensities);
        logDensities.CopyTo(pointObjectives);
        double sum = 0;
        for (int i = 0; i < b; i++)
        {
            sum += double.CreateTruncating(tile.Weight(i)) * double.CreateTruncating(logDensities[i]);
        }

        return sum;
    }

    /// <summary>
    /// One EM iteration from the statistics: μ = their mean, S = their scatter about it (divisor Σ w), the E-step's
    /// expectations from S under the current W and Ψ, then W', Ψ' (or σ²'), as in the remarks.
    /// </summary>
    /// <param name="statistics">The merged statistics of all points.</param>
    /// <param name="context">Unused.</param>
    /// <returns>False: the step is never discontinuous.</returns>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Maximize(SufficientStatistics statistics, MaximizationContext context)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        int d = Features;
        double weight = statistics.Sums[0];
        if (!(weight > 0))
        {
            return false;
        }

        // The batch driver has just asked for the objective of these statistics under these parameters: the E-step's
        // expectations are still in the algebra's scratch.
        if (!ReferenceEquals(_expectationsOf, statistics) || _expectationsWeight != weight)
        {
            ScatterAboutMean(statistics);
            if (!_algebra.Expect(_loadings, _noise))
            {
                return false;
            }
        }

        statistics.Sums.Slice(1, d).CopyTo(_mean);
        for (int j = 0; j < d; j++)
        {
            _mean[j] /= weight;
        }

        _algebra.Iterate(_loadings, _noise, Noise == FactorNoise.Isotropic, Floor());
        ParametersChanged();
        return false;
    }

    /// <summary>Σ w ℓ = −½ W [D log 2π + log det C + tr(C⁻¹ S)] for the statistics' weight W and scatter S about their mean.</summary>
    /// <param name="statistics">The merged statistics.</param>
    /// <returns>The total log-likelihood under the current W and Ψ, with μ the statistics' mean.</returns>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public double ObjectiveOfStatistics(SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        double weight = ScatterAboutMean(statistics);
        _expectationsOf = null;
        if (!(weight > 0) || !_algebra.Expect(_loadings, _noise))
        {
            return double.NaN;
        }

        _expectationsOf = statistics;
        _expectationsWeight = weight;
        return weight * _algebra.MeanLogLikelihood(_noise);
    }

    /// <inheritdoc/>
    public double ObjectiveCorrection() => 0;

    /// <summary>
    /// ε · D · κ(C) with κ(C) ≤ tr C / min ψ_j (the smallest eigenvalue of W Wᵀ + Ψ is at least the smallest noise
    /// variance): the rounding of log det C and tr(C⁻¹ S) when the factors explain a feature almost entirely.
    /// </summary>
    /// <returns>The allowance per unit weight.</returns>
    public double ObjectiveRoundingError()
    {
        double trace = 0, smallest = double.PositiveInfinity;
        for (int j = 0; j < Features; j++)
        {
            double v = _noise[j];
            for (int l = 0; l < LatentDimensions; l++)
            {
                v += _loadings[j * LatentDimensions + l] * _loadings[j * LatentDimensions + l];
            }

            trace += v;
            smallest = Math.Min(smallest, _noise[j]);
        }

        return Math.ScaleB(1.0, -52) * Features * trace / smallest;
    }

    /// <summary>
    /// The start from the data's statistics (Tipping and Bishop 1999): the probabilistic PCA solution of the scatter
    /// matrix's leading q eigenpairs, σ² = (tr S − Σ λ_l)/(D − q) and W = U_q (Λ_q − σ² I)^½, for both noise models
    /// (factor analysis then refines Ψ from σ² I); with q = 0, Ψ = diag S (the optimum). A fixed start vector makes it
    /// deterministic.
    /// </summary>
    private void StartFromPrincipalSubspace(SufficientStatistics statistics)
    {
        double weight = ScatterAboutMean(statistics);
        double floor = Floor();
        if (!(weight > 0) || !double.IsFinite(floor))
        {
            Array.Clear(_loadings);
            Array.Fill(_noise, 1.0);
        }
        else
        {
            _algebra.PrincipalStart(_loadings, _noise, Noise == FactorNoise.Isotropic, floor);
        }

        ParametersChanged();
    }

    /// <summary>The smallest noise variance for the scatter in the algebra's scratch: <see cref="NoiseFloor"/> × its mean variance.</summary>
    private double Floor()
    {
        int d = Features;
        double trace = 0;
        for (int j = 0; j < d; j++)
        {
            trace += _algebra.Scatter[j * d + j];
        }

        return Math.Max(NoiseFloor * trace / d, double.Epsilon);
    }

    /// <summary>After any change of the parameters: the prepared density and the kept expectations are stale.</summary>
    private void ParametersChanged()
    {
        _prepared = false;
        _expectationsOf = null;
    }

    /// <summary>S into the scatter scratch (full, symmetric) from the statistics; returns their weight.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private double ScatterAboutMean(SufficientStatistics statistics)
    {
        int d = Features;
        ReadOnlySpan<double> sums = statistics.Sums;
        double weight = sums[0];
        ReadOnlySpan<double> first = sums.Slice(1, d);
        ReadOnlySpan<double> scatter = sums.Slice(1 + d, d * d);
        for (int a = 0; a < d; a++)
        {
            double ma = first[a] / weight;
            for (int b = a; b < d; b++)
            {
                double value = scatter[a * d + b] / weight - ma * (first[b] / weight);
                _algebra.Scatter[a * d + b] = value;
                _algebra.Scatter[b * d + a] = value;
            }
        }

        return weight;
    }

    /// <summary>C = W Wᵀ + Ψ into <paramref name="covariance"/> (D × D).</summary>
    private void ImpliedCovariance(Span<double> covariance)
    {
        int d = Features, q = LatentDimensions;
        for (int a = 0; a < d; a++)
        {
            for (int b = 0; b <= a; b++)
            {
                double sum = 0;
                for (int l = 0; l < q; l++)
                {
                    sum += _loadings[a * q + l] * _loadings[b * q + l];
                }

                covariance[a * d + b] = sum;
                covariance[b * d + a] = sum;
            }

            covariance[a * d + a] += _noise[a];
        }
    }

    private void CheckLoadingsAndNoise(ReadOnlySpan<double> loadings, ReadOnlySpan<double> noiseVariances)
    {
        CheckFinite(loadings, Features * LatentDimensions, nameof(loadings));
        CheckFinite(noiseVariances, Features, nameof(noiseVariances));
        for (int j = 0; j < Features; j++)
        {
            if (!(noiseVariances[j] > 0))
            {
                throw new ArgumentException($"Noise variance {j} is {noiseVariances[j]}; it must be positive.", nameof(noiseVariances));
            }

            if (Noise == FactorNoise.Isotropic && noiseVariances[j] != noiseVariances[0])
            {
                throw new ArgumentException($"Noise variance {j} is {noiseVariances[j]} but variance 0 is {noiseVariances[0]}; probabilistic PCA has one σ².", nameof(noiseVariances));
            }
        }
    }

    private static void CheckFinite(ReadOnlySpan<double> values, int length, string name)
    {
        if (values.Length != length)
        {
            throw new ArgumentException($"Expected {length} values, got {values.Length}.", name);
        }

        for (int i = 0; i < values.Length; i++)
        {
            if (!double.IsFinite(values[i]))
            {
                throw new ArgumentException($"Value {i} is {values[i]}; every value must be finite.", name);
            }
        }
    }

}
