using System.Numerics;
using System.Numerics.Tensors;
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
    private readonly double[] _scatter;
    private readonly double[] _u;
    private readonly double[] _su;
    private readonly double[] _ut;
    private readonly double[] _sb;
    private readonly double[] _newLoadings;
    private readonly double[] _m;
    private readonly double[] _g;
    private readonly double[] _b;
    private readonly double[] _bInverse;
    private readonly double[] _smallScratch;
    private double[]? _startLoadings;
    private double[]? _startNoise;
    private int _frameExponent;
    private bool _prepared;
    private SufficientStatistics? _expectationsOf;
    private double _expectationsWeight;
    private double _logDeterminantM;

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
        _scatter = new double[d * d];
        _u = new double[d * q];
        _su = new double[d * q];
        _ut = new double[q * d];
        _sb = new double[d * q];
        _newLoadings = new double[d * q];
        _m = new double[q * q];
        _g = new double[q * q];
        _b = new double[q * q];
        _bInverse = new double[q * q];
        _smallScratch = new double[Math.Max(2 * q * q, 1)];
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
        PosteriorFactors();
        return (double[])_g.Clone();
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
        PosteriorFactors();

        // βᵀ = U G (D × q), U = Ψ⁻¹ W.
        double[] betaT = new double[d * q];
        Multiply(_u, _g, betaT, d, q, q);
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

        int limit = typeof(T) == typeof(float) ? 32 : 128;
        return double.IsFinite(log2Spread) && Math.Abs(log2Spread) > limit ? (int)Math.Round(log2Spread) : 0;
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
        double[] covariance = _scatter; // scratch: the expectations kept in it for Maximize are given up
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
        int d = Features, q = LatentDimensions;
        double weight = statistics.Sums[0];
        if (!(weight > 0))
        {
            return false;
        }

        // The batch driver has just asked for the objective of these statistics under these parameters: S, U, G and
        // S U are still in the scratch.
        if (!ReferenceEquals(_expectationsOf, statistics) || _expectationsWeight != weight)
        {
            ScatterAboutMean(statistics);
            if (!ExpectationsFromScatter())
            {
                return false;
            }
        }

        statistics.Sums.Slice(1, d).CopyTo(_mean);
        for (int j = 0; j < d; j++)
        {
            _mean[j] /= weight;
        }

        // SB = S βᵀ = (S U) G; B = G + β S βᵀ = G + (U G)ᵀ S U G = G + G (Uᵀ S U) G.
        Multiply(_su, _g, _sb, d, q, q);
        double[] ustu = _bInverse; // scratch until B is inverted
        MultiplyTransposed(_u, _sb, ustu, d, q, q); // Uᵀ S U G
        Multiply(_g, ustu, _b, q, q, q);            // G Uᵀ S U G
        for (int i = 0; i < q * q; i++)
        {
            _b[i] += _g[i];
        }

        Symmetrize(_b, q);
        if (!DenseMatrix.TryInvertPositiveDefinite(_b, q, _bInverse, _smallScratch, out _))
        {
            return false;
        }

        Multiply(_sb, _bInverse, _newLoadings, d, q, q);

        double trace = 0, cross = 0;
        for (int j = 0; j < d; j++)
        {
            trace += _scatter[j * d + j];
        }

        double floor = Math.Max(NoiseFloor * trace / d, double.Epsilon);
        if (Noise == FactorNoise.Diagonal)
        {
            for (int j = 0; j < d; j++)
            {
                double explained = 0;
                for (int l = 0; l < q; l++)
                {
                    explained += _newLoadings[j * q + l] * _sb[j * q + l];
                }

                double psi = _scatter[j * d + j] - explained;
                _noise[j] = psi > floor ? psi : floor;
            }
        }
        else
        {
            for (int i = 0; i < d * q; i++)
            {
                cross += _newLoadings[i] * _sb[i];
            }

            // tr(B W'ᵀ W') = Σ_{l,l'} B[l, l'] (W'ᵀ W')[l', l].
            double quadratic = 0;
            for (int l = 0; l < q; l++)
            {
                for (int m = 0; m < q; m++)
                {
                    double wtw = 0;
                    for (int j = 0; j < d; j++)
                    {
                        wtw += _newLoadings[j * q + m] * _newLoadings[j * q + l];
                    }

                    quadratic += _b[l * q + m] * wtw;
                }
            }

            double sigma2 = (trace - 2 * cross + quadratic) / d;
            Array.Fill(_noise, sigma2 > floor ? sigma2 : floor);
        }

        _newLoadings.CopyTo(_loadings, 0);
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
        int d = Features, q = LatentDimensions;
        double weight = ScatterAboutMean(statistics);
        _expectationsOf = null;
        if (!(weight > 0) || !ExpectationsFromScatter())
        {
            return double.NaN;
        }

        _expectationsOf = statistics;
        _expectationsWeight = weight;

        // log det C = Σ log ψ + log det M; tr(C⁻¹ S) = Σ S_jj / ψ_j − tr(G Uᵀ S U).
        double logDeterminant = _logDeterminantM, trace = 0;
        for (int j = 0; j < d; j++)
        {
            logDeterminant += Math.Log(_noise[j]);
            trace += _scatter[j * d + j] / _noise[j];
        }

        for (int l = 0; l < q; l++)
        {
            for (int m = 0; m < q; m++)
            {
                double ustu = 0;
                for (int j = 0; j < d; j++)
                {
                    ustu += _u[j * q + m] * _su[j * q + l];
                }

                trace -= _g[l * q + m] * ustu;
            }
        }

        return -0.5 * weight * (d * Math.Log(2 * Math.PI) + logDeterminant + trace);
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
        int d = Features, q = LatentDimensions;
        double weight = ScatterAboutMean(statistics);
        double trace = 0;
        for (int j = 0; j < d; j++)
        {
            trace += _scatter[j * d + j];
        }

        double floor = Math.Max(NoiseFloor * trace / d, double.Epsilon);
        if (!(weight > 0) || !double.IsFinite(trace))
        {
            Array.Clear(_loadings);
            Array.Fill(_noise, Math.Max(floor, 1));
            ParametersChanged();
            return;
        }

        if (q == 0)
        {
            for (int j = 0; j < d; j++)
            {
                double v = Noise == FactorNoise.Diagonal ? _scatter[j * d + j] : trace / d;
                _noise[j] = v > floor ? v : floor;
            }

            ParametersChanged();
            return;
        }

        double[] values = new double[q];
        double[] vectors = new double[q * d];
        DenseMatrix.LeadingEigenvectors(_scatter, d, q, values, vectors);
        double sigma2 = q < d ? (trace - values.Sum()) / (d - q) : 1e-3 * trace / d;
        sigma2 = sigma2 > floor ? sigma2 : floor;
        for (int l = 0; l < q; l++)
        {
            double length = Math.Sqrt(Math.Max(values[l] - sigma2, 0));
            for (int j = 0; j < d; j++)
            {
                _loadings[j * q + l] = vectors[l * d + j] * length;
            }
        }

        Array.Fill(_noise, sigma2);
        ParametersChanged();
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
                _scatter[a * d + b] = value;
                _scatter[b * d + a] = value;
            }
        }

        return weight;
    }

    /// <summary>U = Ψ⁻¹ W, M = I + Wᵀ U, G = M⁻¹ and log det M; and S U from the scatter scratch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool ExpectationsFromScatter()
    {
        if (!PosteriorFactors())
        {
            return false;
        }

        // S U, the one O(D² q) product of an iteration: as dot products of S's rows with U's columns (rows of Uᵀ).
        int d = Features, q = LatentDimensions;
        for (int l = 0; l < q; l++)
        {
            for (int j = 0; j < d; j++)
            {
                _ut[l * d + j] = _u[j * q + l];
            }
        }

        ReadOnlySpan<double> scatter = _scatter, ut = _ut;
        for (int i = 0; i < d; i++)
        {
            ReadOnlySpan<double> row = scatter.Slice(i * d, d);
            for (int l = 0; l < q; l++)
            {
                _su[i * q + l] = TensorPrimitives.Dot(row, ut.Slice(l * d, d));
            }
        }

        return true;
    }

    /// <summary>U = Ψ⁻¹ W, M = I + Wᵀ U, G = M⁻¹ and log det M.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool PosteriorFactors()
    {
        int d = Features, q = LatentDimensions;
        for (int j = 0; j < d; j++)
        {
            for (int l = 0; l < q; l++)
            {
                _u[j * q + l] = _loadings[j * q + l] / _noise[j];
            }
        }

        MultiplyTransposed(_loadings, _u, _m, d, q, q);
        for (int l = 0; l < q; l++)
        {
            _m[l * q + l] += 1;
        }

        Symmetrize(_m, q);
        return DenseMatrix.TryInvertPositiveDefinite(_m, q, _g, _smallScratch, out _logDeterminantM);
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

    /// <summary>C (r × c) = A (r × k) B (k × c), row-major: each row of C a sum of rows of B.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Multiply(ReadOnlySpan<double> a, ReadOnlySpan<double> b, Span<double> c, int rows, int inner, int columns)
    {
        c[..(rows * columns)].Clear();
        for (int i = 0; i < rows; i++)
        {
            Span<double> row = c.Slice(i * columns, columns);
            for (int k = 0; k < inner; k++)
            {
                double aik = a[i * inner + k];
                if (aik != 0)
                {
                    ReadOnlySpan<double> bk = b.Slice(k * columns, columns);
                    for (int j = 0; j < columns; j++)
                    {
                        row[j] += aik * bk[j];
                    }
                }
            }
        }
    }

    /// <summary>C (r × c) = Aᵀ B for A (k × r) and B (k × c), row-major.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MultiplyTransposed(ReadOnlySpan<double> a, ReadOnlySpan<double> b, Span<double> c, int inner, int rows, int columns)
    {
        c[..(rows * columns)].Clear();
        for (int k = 0; k < inner; k++)
        {
            ReadOnlySpan<double> ak = a.Slice(k * rows, rows);
            ReadOnlySpan<double> bk = b.Slice(k * columns, columns);
            for (int i = 0; i < rows; i++)
            {
                double aki = ak[i];
                Span<double> row = c.Slice(i * columns, columns);
                for (int j = 0; j < columns; j++)
                {
                    row[j] += aki * bk[j];
                }
            }
        }
    }

    /// <summary>Replaces a nearly symmetric matrix by its symmetric part (rounding of products such as G (Uᵀ S U) G).</summary>
    private static void Symmetrize(Span<double> a, int n)
    {
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < i; j++)
            {
                double mean = 0.5 * (a[i * n + j] + a[j * n + i]);
                a[i * n + j] = mean;
                a[j * n + i] = mean;
            }
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
