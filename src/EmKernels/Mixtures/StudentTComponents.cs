using System.Numerics;
using EmKernels.Engine;
using EmKernels.Numerics;

namespace EmKernels.Mixtures;

/// <summary>How the degrees of freedom ν_k of a mixture of t distributions are estimated.</summary>
public enum DegreesOfFreedomEstimate
{
    /// <summary>Each component's ν_k by its own conditional maximization.</summary>
    PerComponent,

    /// <summary>One ν for every component.</summary>
    Shared,

    /// <summary>ν_k stay at their starting values.</summary>
    Fixed,
}

/// <summary>
/// K multivariate Student t densities St(x | μ_k, Σ_k, ν_k) with scale matrices of a covariance structure, fitted by ECM
/// (McLachlan and Peel 2000, ch. 7): log St = ln Γ((ν + D)/2) − ln Γ(ν/2) − (D/2) ln(νπ) − ½ ln |Σ| − ((ν + D)/2) ln(1 + Q/ν),
/// the Mahalanobis term Q = (x − μ)ᵀ Σ⁻¹ (x − μ) taken from the Gaussian kernels of the same Σ_k. The E-step adds the latent
/// scale u_nk = (ν_k + D) / (ν_k + Q_nk) of each point; the first CM-step is the Gaussian M-step with the responsibilities
/// weighted by u (μ_k = Σ r u x / Σ r u, Σ_k = Σ r u (x − μ_k)(x − μ_k)ᵀ / Σ r), the second solves for ν_k
/// −ψ(ν/2) + ln(ν/2) + 1 + Σ r (ln u − u) / Σ r + ψ((ν_old + D)/2) − ln((ν_old + D)/2) = 0 (a 1-D root, by bisection on ln ν),
/// or its pooled form for a shared ν. Each CM-step increases the expected complete log-likelihood, so the log-likelihood never
/// decreases (checked by the driver as for any model). With ν large the family is the Gaussian family of the same structure.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
/// <remarks>
/// <see cref="ComponentFamily{T}.Parameters"/> holds the Gaussian family's parameters (means, then scale matrices in the
/// covariance type's layout) followed by the K degrees of freedom. The initialization's M-step (from k-means labels or
/// other responsibilities) takes u = 1, the Gaussian estimate, and starts ν over; a warm start keeps the ν given.
/// </remarks>
public sealed class StudentTComponents<T> : ComponentFamily<T>, IMonteCarloFamily
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private int _monteCarloSamples;
    private ulong _monteCarloSeed;

    private readonly GaussianComponents<T> _gaussian;
    private readonly int _gaussianLength;
    private readonly double[] _zeros;
    private readonly T[] _gaussianOffsets;
    private readonly T[] _constants;
    private readonly T[] _exponents;
    private readonly T[] _inverseNu;
    private readonly SufficientStatistics _gaussianStatistics;
    private readonly double[] _initialDegreesOfFreedom;

    [ThreadStatic]
    private static TileScratch? t_scratch;

    /// <summary>K t components to fit, with scale matrices of <paramref name="type"/> and ν_k starting at <paramref name="degreesOfFreedom"/>.</summary>
    /// <param name="type">The structure of the scale matrices.</param>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="degreesOfFreedom">The starting ν (&gt; 0, finite); 10 by default.</param>
    /// <param name="estimate">How ν is estimated.</param>
    /// <param name="regularization">Added to the diagonal of the scale matrices (reg_covar, ≥ 0).</param>
    /// <exception cref="ArgumentOutOfRangeException">A count or ν is out of range.</exception>
    public StudentTComponents(CovarianceType type, int components, int features, double degreesOfFreedom = 10, DegreesOfFreedomEstimate estimate = DegreesOfFreedomEstimate.PerComponent, double regularization = 1e-6)
        : this(GaussianComponents<T>.Create(type, components, features, regularization), Enumerable.Repeat(CheckedDegreesOfFreedom(degreesOfFreedom), components).ToArray(), CheckedEstimate(estimate))
    {
    }

    /// <summary>K t densities with the given location, scale matrices (in the covariance type's layout) and degrees of freedom, for evaluation.</summary>
    internal StudentTComponents(CovarianceType type, int features, double[] locations, double[] scales, double[] degreesOfFreedom, int scaleExponent = 0)
        : this(GaussianComponents<T>.Create(type, degreesOfFreedom.Length, features, 0), degreesOfFreedom, DegreesOfFreedomEstimate.Fixed)
    {
        locations.CopyTo(_gaussian.Means);
        scales.CopyTo(_gaussian.Covariances);
        _gaussian.CovarianceScaleExponent = scaleExponent;
        _gaussian.Parameters.CopyTo(Parameters);
    }

    private StudentTComponents(GaussianComponents<T> gaussian, double[] degreesOfFreedom, DegreesOfFreedomEstimate estimate)
        : base(gaussian.Components, gaussian.Features, gaussian.Parameters.Length + gaussian.Components, Layout(gaussian))
    {
        int k = gaussian.Components;
        _gaussian = gaussian;
        _gaussianLength = gaussian.Parameters.Length;
        Estimate = estimate;
        _initialDegreesOfFreedom = (double[])degreesOfFreedom.Clone();
        degreesOfFreedom.CopyTo(DegreesOfFreedom);
        gaussian.Parameters.CopyTo(Parameters);
        _zeros = new double[k];
        _gaussianOffsets = new T[k];
        _constants = new T[k];
        _exponents = new T[k];
        _inverseNu = new T[k];
        _gaussianStatistics = new SufficientStatistics(gaussian.StatisticsLayout);
    }

    /// <summary>The structure of the scale matrices.</summary>
    public CovarianceType CovarianceType => _gaussian.CovarianceType;

    /// <summary>How ν is estimated.</summary>
    public DegreesOfFreedomEstimate Estimate { get; }

    /// <summary>The locations μ_k (K × D).</summary>
    public Span<double> Means => Parameters[..(Components * Features)];

    /// <summary>The scale matrices Σ_k in the covariance type's layout (the covariance of component k is ν_k / (ν_k − 2) Σ_k for ν_k &gt; 2).</summary>
    public Span<double> Scales => Parameters[(Components * Features).._gaussianLength];

    /// <summary>The degrees of freedom ν_k (K).</summary>
    public Span<double> DegreesOfFreedom => Parameters[_gaussianLength..];

    /// <summary>Largest ν the second CM-step returns (beyond it the t is a Gaussian for every practical purpose).</summary>
    public const double MaximumDegreesOfFreedom = 1e6;

    /// <summary>Smallest ν the second CM-step returns.</summary>
    public const double MinimumDegreesOfFreedom = 1e-3;

    /// <inheritdoc/>
    public override int FreeParameterCount => _gaussian.FreeParameterCount + Estimate switch
    {
        DegreesOfFreedomEstimate.PerComponent => Components,
        DegreesOfFreedomEstimate.Shared => 1,
        _ => 0,
    };

    /// <inheritdoc/>
    public override bool SupportsTranslation => true;

    /// <inheritdoc/>
    public override bool AccumulatesMass => true;

    /// <inheritdoc/>
    public override void Translate(ReadOnlySpan<double> offset)
    {
        Parameters[.._gaussianLength].CopyTo(_gaussian.Parameters);
        _gaussian.Translate(offset);
        _gaussian.Parameters.CopyTo(Parameters);
    }

    /// <inheritdoc/>
    public override int FrameScaleExponent(DataSummary? summary) => _gaussian.FrameScaleExponent(summary);

    /// <inheritdoc/>
    public override void ScaleFrame(int exponent) => WithGaussian(g => g.ScaleFrame(exponent));

    /// <inheritdoc/>
    public override int WorkspaceLength(int tilePoints) => _gaussian.WorkspaceLength(tilePoints);

    /// <inheritdoc/>
    public override void Validate(in DataTile<T> tile) => _gaussian.Validate(tile);

    /// <inheritdoc/>
    public override void BeginFit(ModelInitialization<T> context)
    {
        WithGaussian(g => g.BeginFit(context));
    }

    /// <inheritdoc/>
    public override void ResetComponent(int component, DataSummary summary)
    {
        WithGaussian(g => g.ResetComponent(component, summary));
        DegreesOfFreedom[component] = _initialDegreesOfFreedom[component];
    }

    /// <inheritdoc/>
    public override void Reseed(int component, ReadOnlySpan<double> point)
    {
        Parameters[.._gaussianLength].CopyTo(_gaussian.Parameters);
        _gaussian.Reseed(component, point);
        _gaussian.Parameters.CopyTo(Parameters);
        DegreesOfFreedom[component] = _initialDegreesOfFreedom[component];
    }

    /// <inheritdoc/>
    public override void WriteShift(Span<double> shift) => _gaussian.WriteShift(shift);

    /// <inheritdoc/>
    public override void ReadShift(ReadOnlySpan<double> shift) => _gaussian.ReadShift(shift);

    /// <inheritdoc/>
    public override double ObjectiveRoundingError() => _gaussian.ObjectiveRoundingError();

    /// <inheritdoc/>
    protected override void Prepare(bool reshift)
    {
        Parameters[.._gaussianLength].CopyTo(_gaussian.Parameters);
        _gaussian.PrepareExpectation(_zeros, reshift);
        int d = Features;
        double[] full = new double[d * d];
        double[] lower = new double[d * d];
        ReadOnlySpan<double> nus = DegreesOfFreedom;
        for (int k = 0; k < Components; k++)
        {
            _gaussian.WriteFullCovariance(k, full);
            DenseMatrix.TryCholesky(full, d, lower);
            double halfLogDet = DenseMatrix.LogDiagonalSum(lower, d);
            double nu = nus[k];
            _gaussianOffsets[k] = T.CreateTruncating(-halfLogDet - (0.5 * d * Math.Log(2 * Math.PI)));
            // ln Γ((ν + D)/2) − ln Γ(ν/2) − (D/2) ln(νπ), without the cancellation of two large ln Γ for large ν.
            double tail = SpecialFunctions.LogGammaRatio(0.5 * nu, 0.5 * d) - (0.5 * d * Math.Log(nu * Math.PI));
            _constants[k] = T.CreateTruncating(LogWeights[k] + (tail - halfLogDet));
            _exponents[k] = T.CreateTruncating(0.5 * (nu + d));
            _inverseNu[k] = T.CreateTruncating(1 / nu);
        }
    }

    /// <inheritdoc/>
    public override void LogProbabilities(in DataTile<T> tile, Span<T> destination, Span<T> workspace)
    {
        // The Gaussian kernel gives −½ D ln 2π − ½ ln |Σ| − ½ Q; Q follows exactly enough for the t transform.
        _gaussian.LogProbabilities(tile, destination, workspace);
        int points = tile.Points;
        T two = T.CreateTruncating(2);
        for (int k = 0; k < Components; k++)
        {
            Span<T> row = destination.Slice(k * points, points);
            T offset = _gaussianOffsets[k], constant = _constants[k], exponent = _exponents[k], inverseNu = _inverseNu[k];
            for (int i = 0; i < points; i++)
            {
                T q = T.Max(two * (offset - row[i]), T.Zero);
                row[i] = constant - (exponent * SpecialFunctions.LogOnePlus(q * inverseNu));
            }
        }
    }

    /// <inheritdoc/>
    void IMonteCarloFamily.SetMonteCarlo(int samples, ulong seed)
    {
        _monteCarloSamples = samples;
        _monteCarloSeed = seed;
    }

    /// <inheritdoc/>
    public override void Accumulate(in DataTile<T> tile, ReadOnlySpan<T> responsibilities, SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        int points = tile.Points, k = Components, d = Features;
        TileScratch scratch = TileScratch.For(ref t_scratch, k * points, _gaussian.WorkspaceLength(points), _gaussian.StatisticsLayout);
        Span<T> q = scratch.Mahalanobis.AsSpan(0, k * points);
        Span<T> weighted = scratch.Weighted.AsSpan(0, k * points);
        _gaussian.LogProbabilities(tile, q, scratch.Workspace);
        Span<double> mass = statistics.Block(1);
        Span<double> logScale = statistics.Block(5);
        T two = T.CreateTruncating(2);
        ReadOnlySpan<double> nus = DegreesOfFreedom;
        for (int j = 0; j < k; j++)
        {
            T offset = _gaussianOffsets[j];
            double nu = nus[j];
            double sum = 0, logSum = 0;
            for (int i = 0; i < points; i++)
            {
                T r = responsibilities[j * points + i];
                double w = double.CreateTruncating(tile.Weight(i) * r);
                double u = 1, logMinusU = -1;
                if (!FromInitialResponsibilities)
                {
                    double mahalanobis = Math.Max(double.CreateTruncating(two * (offset - q[j * points + i])), 0);
                    u = (nu + d) / (nu + mahalanobis);
                    logMinusU = Math.Log(u) - u;
                    int draws = _monteCarloSamples > 0 && r > T.Zero ? Math.Max(1, (int)Math.Round(double.CreateTruncating(r) * _monteCarloSamples)) : 0;
                    if (draws > 0)
                    {
                        // u | z = k ~ Gamma((ν + D)/2, rate (ν + Q)/2), drawn as many times as z = k was.
                        var random = new CounterRandom(_monteCarloSeed, tile.Start + i, 1 + (ulong)j);
                        double shape = 0.5 * (nu + d), rate = 0.5 * (nu + mahalanobis), total = 0, logTotal = 0;
                        for (int s = 0; s < draws; s++)
                        {
                            double draw = random.NextGamma(shape) / rate;
                            total += draw;
                            logTotal += Math.Log(draw) - draw;
                        }

                        u = total / draws;
                        logMinusU = logTotal / draws;
                    }
                }

                weighted[j * points + i] = r * T.CreateTruncating(u);
                sum += w;
                logSum += w * logMinusU;
            }

            mass[j] += sum;
            logScale[j] += logSum;
        }

        // The Gaussian statistics of the u-weighted responsibilities (their masses Σ r u), about the same shift.
        SufficientStatistics gaussian = scratch.Statistics;
        statistics.Block(0).CopyTo(gaussian.Block(0));
        gaussian.Clear();
        _gaussian.Accumulate(tile, weighted, gaussian);
        AddTo(gaussian.Block(1), statistics.Block(2));
        AddTo(gaussian.Block(2), statistics.Block(3));
        AddTo(gaussian.Block(3), statistics.Block(4));
    }

    /// <inheritdoc/>
    public override void Maximize(SufficientStatistics statistics, ReadOnlySpan<bool> held, Span<bool> degenerate)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        ReadOnlySpan<double> mass = statistics.Block(1), scaleMass = statistics.Block(2), logScale = statistics.Block(5);
        SufficientStatistics gaussian = _gaussianStatistics;
        statistics.Block(0).CopyTo(gaussian.Block(0));
        scaleMass.CopyTo(gaussian.Block(1));
        statistics.Block(3).CopyTo(gaussian.Block(2));
        statistics.Block(4).CopyTo(gaussian.Block(3));

        // First CM-step: the Gaussian M-step with masses Σ r u gives μ_k and Σ r u (x − μ)(x − μ)ᵀ / Σ r u; the t scale divides by Σ r.
        Parameters[.._gaussianLength].CopyTo(_gaussian.Parameters);
        _gaussian.Maximize(gaussian, held, degenerate);
        int d = Features;
        Span<double> scales = _gaussian.Covariances;
        double pooledScale = 0, pooledMass = 0;
        for (int k = 0; k < Components; k++)
        {
            pooledScale += scaleMass[k];
            pooledMass += mass[k];
        }

        for (int k = 0; k < Components; k++)
        {
            if (held[k] || degenerate[k] || !(mass[k] > 0))
            {
                continue;
            }

            double factor = scaleMass[k] / mass[k];
            Span<double> scale = CovarianceType switch
            {
                CovarianceType.Full => scales.Slice(k * d * d, d * d),
                CovarianceType.Diagonal => scales.Slice(k * d, d),
                CovarianceType.Spherical => scales.Slice(k, 1),
                _ => default,
            };
            foreach (ref double value in scale)
            {
                value *= factor;
            }
        }

        if (CovarianceType == CovarianceType.Tied && pooledMass > 0)
        {
            foreach (ref double value in scales)
            {
                value *= pooledScale / pooledMass;
            }
        }

        _gaussian.Parameters.CopyTo(Parameters);

        // Second CM-step: ν (not in the initialization's M-step, whose u = 1 carry no information on it: ν starts over).
        if (FromInitialResponsibilities)
        {
            _initialDegreesOfFreedom.CopyTo(DegreesOfFreedom);
            return;
        }

        if (Estimate == DegreesOfFreedomEstimate.Fixed)
        {
            return;
        }

        Span<double> nus = DegreesOfFreedom;
        if (Estimate == DegreesOfFreedomEstimate.Shared)
        {
            double n = 0, s = 0, old = 0;
            for (int k = 0; k < Components; k++)
            {
                n += mass[k];
                s += logScale[k];
                old += _monteCarloSamples > 0 ? 0 : mass[k] * (SpecialFunctions.Digamma(0.5 * (nus[k] + d)) - Math.Log(0.5 * (nus[k] + d)));
            }

            if (n > 0)
            {
                double nu = SolveDegreesOfFreedom(1 + (s / n) + (old / n));
                nus.Fill(nu);
            }

            return;
        }

        for (int k = 0; k < Components; k++)
        {
            if (held[k] || degenerate[k] || !(mass[k] > 0))
            {
                continue;
            }

            // Exact: Σ r (ln ū − ū) / Σ r plus ψ((ν_old + D)/2) − ln((ν_old + D)/2) makes E[ln u − u]; Monte Carlo draws it directly.
            double constant = 1 + (logScale[k] / mass[k]) + (_monteCarloSamples > 0 ? 0 : SpecialFunctions.Digamma(0.5 * (nus[k] + d)) - Math.Log(0.5 * (nus[k] + d)));
            nus[k] = SolveDegreesOfFreedom(constant);
        }
    }

    /// <summary>
    /// The root ν of −ψ(ν/2) + ln(ν/2) + c = 0: the left side falls from +∞ to c as ν grows, so a root exists for c &lt; 0
    /// (otherwise the largest ν); bisection on ln ν to the last bit.
    /// </summary>
    internal static double SolveDegreesOfFreedom(double constant)
    {
        static double F(double nu, double c) => -SpecialFunctions.Digamma(0.5 * nu) + Math.Log(0.5 * nu) + c;
        if (!double.IsFinite(constant) || F(MaximumDegreesOfFreedom, constant) >= 0)
        {
            return MaximumDegreesOfFreedom;
        }

        if (F(MinimumDegreesOfFreedom, constant) <= 0)
        {
            return MinimumDegreesOfFreedom;
        }

        double lo = Math.Log(MinimumDegreesOfFreedom), hi = Math.Log(MaximumDegreesOfFreedom);
        for (int i = 0; i < 200 && hi - lo > 1e-15 * Math.Max(1, Math.Abs(lo)); i++)
        {
            double mid = 0.5 * (lo + hi);
            if (F(Math.Exp(mid), constant) > 0)
            {
                lo = mid;
            }
            else
            {
                hi = mid;
            }
        }

        return Math.Exp(0.5 * (lo + hi));
    }

    /// <summary>Runs <paramref name="action"/> on the Gaussian family holding this family's means and scales, and takes them back.</summary>
    private void WithGaussian(Action<GaussianComponents<T>> action)
    {
        Parameters[.._gaussianLength].CopyTo(_gaussian.Parameters);
        action(_gaussian);
        _gaussian.Parameters.CopyTo(Parameters);
    }

    private static void AddTo(ReadOnlySpan<double> source, Span<double> destination)
    {
        for (int i = 0; i < source.Length; i++)
        {
            destination[i] += source[i];
        }
    }

    private static DegreesOfFreedomEstimate CheckedEstimate(DegreesOfFreedomEstimate estimate) =>
        Enum.IsDefined(estimate) ? estimate : throw new ArgumentOutOfRangeException(nameof(estimate), estimate, "Unknown estimate of the degrees of freedom.");

    private static double CheckedDegreesOfFreedom(double degreesOfFreedom) =>
        degreesOfFreedom > 0 && double.IsFinite(degreesOfFreedom)
            ? degreesOfFreedom
            : throw new ArgumentOutOfRangeException(nameof(degreesOfFreedom), degreesOfFreedom, "The degrees of freedom must be positive and finite.");

    /// <summary>The Gaussian family's shift, Σ r, Σ r u, its first and second moments of the u-weighted responsibilities, Σ r (ln u − u).</summary>
    private static StatisticsLayout Layout(GaussianComponents<T> gaussian)
    {
        IReadOnlyList<StatisticsBlock> blocks = gaussian.StatisticsLayout.Blocks;
        int k = gaussian.Components;
        return new StatisticsLayout(
            $"student-t-{gaussian.CovarianceType.ToString().ToLowerInvariant()}/1",
            blocks[0],
            new StatisticsBlock("mass", k),
            new StatisticsBlock("scale-mass", k),
            blocks[2],
            blocks[3],
            new StatisticsBlock("log-scale-minus-scale", k));
    }

    /// <summary>Per-thread scratch of <see cref="Accumulate"/>.</summary>
    private sealed class TileScratch(int length, int workspace, StatisticsLayout layout)
    {
        public T[] Mahalanobis { get; } = new T[length];

        public T[] Weighted { get; } = new T[length];

        public T[] Workspace { get; } = new T[Math.Max(workspace, 1)];

        public SufficientStatistics Statistics { get; } = new(layout);

        public static TileScratch For(ref TileScratch? cached, int length, int workspace, StatisticsLayout layout) =>
            cached is { } c && c.Mahalanobis.Length >= length && c.Workspace.Length >= workspace && c.Statistics.Layout.Equals(layout)
                ? c
                : cached = new TileScratch(Math.Max(length, 4096), workspace, layout);
    }
}
