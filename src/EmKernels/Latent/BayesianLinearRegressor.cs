using System.Numerics;
using EmKernels.Engine;
using EmKernels.Kernels;
using EmKernels.Numerics;

namespace EmKernels.Latent;

/// <summary>
/// Bayesian linear regression y = Φ w + ε, w ~ N(0, α⁻¹ I_M), ε ~ N(0, β⁻¹ I_N), as a model of the engine: EM with the
/// weights w as the latent variable learns the prior precision α and the noise precision β by maximizing the evidence
/// p(y | α, β) (Bishop, PRML §9.3.4 with §3.5).
/// </summary>
/// <typeparam name="T">float or double: the type the data are held in (the algebra is in double).</typeparam>
/// <remarks>
/// <para>Each point of the data is a row of regressors followed by its target, [x_1 … x_P, y]; Φ is [1, x] with an
/// intercept (its weight has the same prior as the others, so it is penalized, and y is not centred) or x without.
/// The data enter only through Σ w, Σ x, Σ y, Σ x xᵀ, Σ x y and Σ y² — ΦᵀΦ, Φᵀy and yᵀy — which the E-step over a tile
/// accumulates with the full-covariance kernels (<see cref="StatisticsIndependentOfParameters"/>): one pass over the
/// data, then iterations of O(M³). With A = α I + β ΦᵀΦ, S = A⁻¹ and m = β S Φᵀ y (the posterior of w), an iteration is
/// α' = M / (mᵀm + tr S) and β' = N / (‖y − Φ m‖² + tr(ΦᵀΦ S)) — the EM update, not MacKay's fixed point, though both
/// have the same fixed points. The objective is the log evidence per point,
/// (1/N) [(M/2) log α + (N/2) log β − (β/2) ‖y − Φ m‖² − (α/2) mᵀm − ½ log det A − (N/2) log 2π].</para>
/// <para>The evidence is not a sum over points (the targets are dependent through w): <see cref="Expectation"/> writes 0
/// for each point's share and the drivers take the objective from the statistics.</para>
/// </remarks>
public sealed class BayesianLinearRegressor<T> : IExpectationMaximizationModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly int _m;
    private readonly T[] _zeroShift;
    private readonly double[] _gram;
    private readonly double[] _projection;
    private readonly double[] _a;
    private readonly double[] _covariance;
    private readonly double[] _mean;
    private readonly double[] _scratch;
    private double _weight;
    private double _targetSquares;
    private double _logDeterminantA;
    private bool _hasStatistics;
    private double? _startAlpha;
    private double? _startBeta;
    private double _weightScale = 1;

    /// <summary>Creates the model for P regressors (and one target) per point, with α = β = 1 until fitted.</summary>
    /// <param name="regressors">P ≥ 0 (with an intercept) or ≥ 1 (without).</param>
    /// <param name="intercept">Whether Φ has a leading column of ones.</param>
    /// <exception cref="ArgumentOutOfRangeException">P is out of range.</exception>
    public BayesianLinearRegressor(int regressors, bool intercept)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(regressors, intercept ? 0 : 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(regressors, 46_000);
        Regressors = regressors;
        Intercept = intercept;
        _m = regressors + (intercept ? 1 : 0);
        int f = regressors + 1;
        _zeroShift = new T[f];
        _gram = new double[_m * _m];
        _projection = new double[_m];
        _a = new double[_m * _m];
        _covariance = new double[_m * _m];
        _mean = new double[_m];
        _scratch = new double[2 * _m * _m];
        StatisticsLayout = new StatisticsLayout(
            "bayesian-linear-regression/1", new StatisticsBlock("weight", 1), new StatisticsBlock("first-moments", f), new StatisticsBlock("second-moments", f * f));
    }

    /// <summary>P, the regressors of each point (the data have P + 1 features, the target last).</summary>
    public int Regressors { get; }

    /// <summary>Whether Φ has a leading column of ones (a penalized intercept).</summary>
    public bool Intercept { get; }

    /// <summary>M, the number of weights: P, plus one with an intercept.</summary>
    public int Weights => _m;

    /// <summary>α, the precision of the prior on the weights.</summary>
    public double Alpha { get; private set; } = 1;

    /// <summary>β, the precision of the noise.</summary>
    public double Beta { get; private set; } = 1;

    /// <inheritdoc/>
    public int Features => Regressors + 1;

    /// <summary>2: α and β.</summary>
    public int FreeParameterCount => 2;

    /// <inheritdoc/>
    public StatisticsLayout StatisticsLayout { get; }

    /// <summary>2: [α, β].</summary>
    public int ParameterLength => 2;

    /// <summary>False: the prior on the weights is not invariant under moving the data.</summary>
    public bool SupportsTranslation => false;

    /// <summary>True: the statistics are ΦᵀΦ, Φᵀy and yᵀy.</summary>
    public bool StatisticsIndependentOfParameters => true;

    /// <summary>Sets α and β.</summary>
    /// <param name="alpha">α, positive and finite.</param>
    /// <param name="beta">β, positive and finite.</param>
    /// <exception cref="ArgumentOutOfRangeException">A precision is not positive and finite.</exception>
    public void SetPrecisions(double alpha, double beta)
    {
        CheckPrecision(alpha, nameof(alpha));
        CheckPrecision(beta, nameof(beta));
        Alpha = alpha;
        Beta = beta;
    }

    /// <summary>The start EM runs from instead of α₀ = 1, β₀ = 1 / Var(y); null for the default.</summary>
    /// <param name="alpha">α₀, or null.</param>
    /// <param name="beta">β₀, or null.</param>
    /// <exception cref="ArgumentOutOfRangeException">A precision is not positive and finite.</exception>
    public void SetStart(double? alpha, double? beta)
    {
        if (alpha is { } a)
        {
            CheckPrecision(a, nameof(alpha));
        }

        if (beta is { } b)
        {
            CheckPrecision(b, nameof(beta));
        }

        _startAlpha = alpha;
        _startBeta = beta;
    }

    /// <summary>
    /// The posterior of the weights under the current α and β, from the statistics of the last fit: its mean m (M
    /// values) and covariance S (M × M, row-major).
    /// </summary>
    /// <returns>m and S, new arrays.</returns>
    /// <exception cref="InvalidOperationException">The model has not seen data yet.</exception>
    public (double[] Mean, double[] Covariance) Posterior()
    {
        if (!_hasStatistics)
        {
            throw new InvalidOperationException("The model has not been fitted: the posterior needs the data's statistics.");
        }

        if (!TryPosterior())
        {
            throw new InvalidOperationException("α I + β ΦᵀΦ is not positive definite.");
        }

        return ((double[])_mean.Clone(), (double[])_covariance.Clone());
    }

    /// <inheritdoc/>
    public void Translate(ReadOnlySpan<double> offset)
    {
    }

    /// <summary>Writes [α, β].</summary>
    /// <param name="destination">2 values.</param>
    public void WriteParameters(Span<double> destination)
    {
        destination[0] = Alpha;
        destination[1] = Beta;
    }

    /// <summary>Reads [α, β].</summary>
    /// <param name="source">2 values.</param>
    public void ReadParameters(ReadOnlySpan<double> source)
    {
        Alpha = source[0];
        Beta = source[1];
    }

    /// <inheritdoc/>
    public int WorkspaceLength(int tilePoints) => tilePoints;

    /// <summary>Every value must be finite.</summary>
    /// <param name="tile">A tile of [x, y] rows.</param>
    public void Validate(in DataTile<T> tile)
    {
        TileChecks.RequireFinite(tile);
    }

    /// <summary>α₀ and β₀ as given (<see cref="SetStart"/>), else α₀ = 1 and β₀ = 1 / Var(y) (1 for a constant y).</summary>
    /// <param name="context">The data's summary.</param>
    /// <returns>True: the start is deterministic.</returns>
    public bool Initialize(ModelInitialization<T> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        // The summary's second moments are about its centre (the origin for a model that does not translate).
        DataSummary summary = context.Summary;

        // The frame divides the sample weights by 2^k; the evidence counts a point of weight w as w copies, so the
        // statistics are multiplied back by 2^k (exactly) and the objective divided by it for the driver's mean.
        _weightScale = Math.ScaleB(1.0, summary.WeightScaleExponent);
        double offset = summary.Mean[Regressors] - summary.Centre[Regressors];
        double variance = summary.Variance[Regressors] - offset * offset;
        Alpha = _startAlpha ?? 1;
        Beta = _startBeta ?? (variance > 0 && double.IsFinite(1 / variance) ? 1 / variance : 1);
        return true;
    }

    /// <inheritdoc/>
    public void PrepareExpectation(bool reshift)
    {
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

    /// <summary>False: the statistics of the data cannot be implied from α and β alone.</summary>
    /// <param name="statistics">Unused.</param>
    /// <returns>False.</returns>
    public bool TryWriteImpliedStatistics(SufficientStatistics statistics) => false;

    /// <summary>Adds the tile's Σ w, Σ w [x, y] and the upper triangle of Σ w [x, y][x, y]ᵀ; each point's share of the objective is 0 (see the remarks).</summary>
    /// <param name="tile">Rows [x, y].</param>
    /// <param name="statistics">Added to, or null.</param>
    /// <param name="workspace">B elements.</param>
    /// <param name="pointObjectives">B zeros.</param>
    /// <returns>0.</returns>
    public double Expectation(in DataTile<T> tile, SufficientStatistics? statistics, Span<T> workspace, Span<T> pointObjectives)
    {
        int b = tile.Points, f = Features;
        pointObjectives[..b].Clear();
        if (statistics is null || b == 0)
        {
            return 0;
        }

        Span<T> ones = workspace[..b];
        ones.Fill(T.One);
        Span<double> sums = statistics.Sums;
        GaussianKernels.FullSufficientStatistics<T>(
            tile.Values, f, b, tile.Stride, ones, 1, tile.SampleWeights, _zeroShift, sums[..1], sums.Slice(1, f), sums.Slice(1 + f, f * f));
        return 0;
    }

    /// <summary>α' = M / (mᵀm + tr S), β' = N / (‖y − Φ m‖² + tr(ΦᵀΦ S)), with m and S under the current α and β.</summary>
    /// <param name="statistics">The merged statistics of all points.</param>
    /// <param name="context">Unused.</param>
    /// <returns>False.</returns>
    public bool Maximize(SufficientStatistics statistics, MaximizationContext context)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        ReadStatistics(statistics);
        if (!(_weight > 0) || !TryPosterior())
        {
            return false;
        }

        int m = _m;
        double meanSquares = 0, traceS = 0, traceGramS = 0;
        for (int i = 0; i < m; i++)
        {
            meanSquares += _mean[i] * _mean[i];
            traceS += _covariance[i * m + i];
            for (int j = 0; j < m; j++)
            {
                traceGramS += _gram[i * m + j] * _covariance[j * m + i];
            }
        }

        double alpha = m / (meanSquares + traceS);
        double beta = _weight / (ResidualSquares() + traceGramS);
        if (alpha > 0 && double.IsFinite(alpha))
        {
            Alpha = alpha;
        }

        if (beta > 0 && double.IsFinite(beta))
        {
            Beta = beta;
        }

        return false;
    }

    /// <summary>N times the log evidence per point under the current α and β (see the remarks).</summary>
    /// <param name="statistics">The merged statistics.</param>
    /// <returns>log p(y | α, β).</returns>
    public double ObjectiveOfStatistics(SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        ReadStatistics(statistics);
        if (!(_weight > 0) || !TryPosterior())
        {
            return double.NaN;
        }

        double meanSquares = 0;
        for (int i = 0; i < _m; i++)
        {
            meanSquares += _mean[i] * _mean[i];
        }

        double evidence = 0.5 * _m * Math.Log(Alpha) + 0.5 * _weight * Math.Log(Beta) - 0.5 * Beta * ResidualSquares() - 0.5 * Alpha * meanSquares
            - 0.5 * _logDeterminantA - 0.5 * _weight * Math.Log(2 * Math.PI);
        return evidence / _weightScale;
    }

    /// <inheritdoc/>
    public double ObjectiveCorrection() => 0;

    /// <summary>
    /// The prediction of the target at new regressors: the predictive mean φᵀm and standard deviation
    /// √(1/β + φᵀ S φ) (PRML 3.58–3.59), under the current α and β and the statistics of the last fit.
    /// </summary>
    /// <param name="regressors">N × P values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>N means and N standard deviations.</returns>
    /// <exception cref="ArgumentException">The length does not match N × P.</exception>
    public (double[] Mean, double[] StandardDeviation) Predict(ReadOnlySpan<T> regressors, int points)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(points);
        int p = Regressors, m = _m;
        if ((long)points * p != regressors.Length)
        {
            throw new ArgumentException($"Expected {points} × {p} values, got {regressors.Length}.", nameof(regressors));
        }

        (double[] mean, double[] covariance) = Posterior();
        double[] predicted = new double[points];
        double[] deviation = new double[points];
        double[] phi = new double[m];
        int offset = Intercept ? 1 : 0;
        for (int n = 0; n < points; n++)
        {
            if (Intercept)
            {
                phi[0] = 1;
            }

            for (int j = 0; j < p; j++)
            {
                phi[offset + j] = double.CreateTruncating(regressors[n * p + j]);
            }

            double value = 0, variance = 1 / Beta;
            for (int i = 0; i < m; i++)
            {
                value += phi[i] * mean[i];
                for (int j = 0; j < m; j++)
                {
                    variance += phi[i] * covariance[i * m + j] * phi[j];
                }
            }

            predicted[n] = value;
            deviation[n] = Math.Sqrt(variance);
        }

        return (predicted, deviation);
    }

    /// <summary>ΦᵀΦ, Φᵀy, yᵀy and Σ w from the statistics of [x, y] (with a column of ones first when there is an intercept).</summary>
    private void ReadStatistics(SufficientStatistics statistics)
    {
        int f = Features, p = Regressors, m = _m, offset = Intercept ? 1 : 0;
        ReadOnlySpan<double> sums = statistics.Sums;
        double scale = _weightScale;
        _weight = sums[0] * scale;
        ReadOnlySpan<double> first = sums.Slice(1, f);
        ReadOnlySpan<double> second = sums.Slice(1 + f, f * f);

        // Only the upper triangle (a ≤ b) of the second moments is accumulated.
        for (int a = 0; a < p; a++)
        {
            for (int b = a; b < p; b++)
            {
                _gram[(offset + a) * m + offset + b] = second[a * f + b] * scale;
                _gram[(offset + b) * m + offset + a] = second[a * f + b] * scale;
            }

            _projection[offset + a] = second[a * f + p] * scale;
        }

        if (Intercept)
        {
            _gram[0] = _weight;
            for (int a = 0; a < p; a++)
            {
                _gram[1 + a] = first[a] * scale;
                _gram[(1 + a) * m] = first[a] * scale;
            }

            _projection[0] = first[p] * scale;
        }

        _targetSquares = second[p * f + p] * scale;
        _hasStatistics = true;

        // α and β are precisions of the data's own units: data whose squares leave double's range have a β (or
        // weights) that double cannot hold either, so they are refused with the way out rather than fitted to NaN.
        if (!double.IsFinite(_targetSquares) || !AllFinite(_gram) || !AllFinite(_projection))
        {
            throw new ArgumentException("The squares of the regressors or the target overflow double (|values| beyond about 1e154, or 1e19 in float): rescale them; the noise precision β of such data is not representable.", "data");
        }

        if (!(_targetSquares > 0))
        {
            throw new ArgumentException("The target is 0 everywhere, or so small (below about 1e-154) that its squares underflow: rescale it; the noise precision β of such data is not representable.", "data");
        }
    }

    /// <summary>A = α I + β ΦᵀΦ, S = A⁻¹, log det A and m = β S Φᵀy.</summary>
    private bool TryPosterior()
    {
        int m = _m;
        for (int i = 0; i < m * m; i++)
        {
            _a[i] = Beta * _gram[i];
        }

        for (int i = 0; i < m; i++)
        {
            _a[i * m + i] += Alpha;
        }

        if (!DenseMatrix.TryInvertPositiveDefinite(_a, m, _covariance, _scratch, out _logDeterminantA))
        {
            return false;
        }

        for (int i = 0; i < m; i++)
        {
            double sum = 0;
            for (int j = 0; j < m; j++)
            {
                sum += _covariance[i * m + j] * _projection[j];
            }

            _mean[i] = Beta * sum;
        }

        return true;
    }

    /// <summary>‖y − Φ m‖² = yᵀy − 2 mᵀΦᵀy + mᵀΦᵀΦ m, never below 0.</summary>
    private double ResidualSquares()
    {
        int m = _m;
        double cross = 0, quadratic = 0;
        for (int i = 0; i < m; i++)
        {
            cross += _mean[i] * _projection[i];
            double row = 0;
            for (int j = 0; j < m; j++)
            {
                row += _gram[i * m + j] * _mean[j];
            }

            quadratic += _mean[i] * row;
        }

        return Math.Max(0, _targetSquares - 2 * cross + quadratic);
    }

    private static bool AllFinite(ReadOnlySpan<double> values) => System.Numerics.Tensors.TensorPrimitives.IsFiniteAll(values);

    private static void CheckPrecision(double value, string name)
    {
        if (!(value > 0) || !double.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(name, value, "A precision must be positive and finite.");
        }
    }
}
