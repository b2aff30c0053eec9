using System.Numerics;
using EmKernels.Engine;

namespace EmKernels.Mixtures;

/// <summary>
/// K components of one family of densities (Gaussian of a covariance structure, Bernoulli, Poisson, or
/// your own), for <see cref="FiniteMixture{T}"/>: log-densities of a tile, the tile's weighted sufficient
/// statistics, the M-step and a re-seed. The mixture owns the weights, the responsibilities and the
/// policy for degenerate components; a family owns its parameters (one flat array, <see cref="Parameters"/>)
/// and statistics.
/// </summary>
/// <typeparam name="T">float or double: the type the data are computed in. Parameters and statistics are double.</typeparam>
/// <remarks>
/// A family only has to say what its density and its statistics are. A mixture of exponential
/// distributions, p(x | λ) = λ e^(−λx), with one statistic per component (Σ w r x):
/// <code>
/// sealed class Exponentials(int k) : ComponentFamily&lt;double&gt;(k, features: 1, parameterLength: k, momentsPerComponent: 1)
/// {
///     public override int FreeParameterCount =&gt; Components;
///     public override void LogProbabilities(in DataTile&lt;double&gt; x, Span&lt;double&gt; logRho, Span&lt;double&gt; workspace)
///     {
///         for (int k = 0; k &lt; Components; k++)
///             for (int i = 0; i &lt; x.Points; i++)
///                 logRho[k * x.Points + i] = LogWeights[k] + Math.Log(Parameters[k]) - Parameters[k] * x[i, 0];
///     }
///     public override void Accumulate(in DataTile&lt;double&gt; x, ReadOnlySpan&lt;double&gt; r, SufficientStatistics s)
///     {
///         Span&lt;double&gt; moments = Moments(s);
///         for (int k = 0; k &lt; Components; k++)
///             for (int i = 0; i &lt; x.Points; i++)
///                 moments[k] += x.Weight(i) * r[k * x.Points + i] * x[i, 0];
///     }
///     protected override bool MaximizeComponent(int k, double mass, ReadOnlySpan&lt;double&gt; moments) { Parameters[k] = mass / moments[0]; return true; }
///     public override void Reseed(int k, ReadOnlySpan&lt;double&gt; point) =&gt; Parameters[k] = 1 / Math.Max(point[0], 1e-300);
/// }
/// </code>
/// The statistics of the default layout are the mixture's masses N_k = Σ w r (added by the base class
/// unless <see cref="AccumulatesMass"/>) and K × m moments; families with a shift or other blocks pass
/// their own layout.
/// </remarks>
public abstract class ComponentFamily<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly double[] _parameters;
    private readonly double[] _logWeights;
    private readonly int _massBlock;
    private readonly int _momentsBlock;

    /// <summary>A family with the default statistics layout: masses (K) then moments (K × <paramref name="momentsPerComponent"/>).</summary>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="parameterLength">Length of the flat parameter array (≥ 0).</param>
    /// <param name="momentsPerComponent">m, statistics per component besides its mass (≥ 0).</param>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range.</exception>
    protected ComponentFamily(int components, int features, int parameterLength, int momentsPerComponent)
        : this(components, features, parameterLength, new StatisticsLayout(
            "custom/1", new StatisticsBlock("mass", CheckedComponents(components)), new StatisticsBlock("moments", checked(components * Math.Max(momentsPerComponent, 0)))))
    {
        ArgumentOutOfRangeException.ThrowIfNegative(momentsPerComponent);
    }

    /// <summary>A family with its own statistics layout: shift blocks (if any), then the masses (K values), then anything else.</summary>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="parameterLength">Length of the flat parameter array (≥ 0).</param>
    /// <param name="layout">The layout; its first block that is not a shift must be the K masses.</param>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range.</exception>
    /// <exception cref="ArgumentException">The layout has no block of K masses after its shift.</exception>
    protected ComponentFamily(int components, int features, int parameterLength, StatisticsLayout layout)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(components, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(parameterLength);
        ArgumentNullException.ThrowIfNull(layout);
        Components = components;
        Features = features;
        StatisticsLayout = layout;
        _massBlock = -1;
        for (int b = 0; b < layout.Blocks.Count; b++)
        {
            if (!layout.Blocks[b].IsShift)
            {
                _massBlock = b;
                break;
            }
        }

        if (_massBlock < 0 || layout.Blocks[_massBlock].Length != components)
        {
            throw new ArgumentException($"The first block after the shift must hold the {components} masses; the layout is {layout}.", nameof(layout));
        }

        _momentsBlock = _massBlock + 1 < layout.Blocks.Count ? _massBlock + 1 : -1;
        _parameters = new double[parameterLength];
        _logWeights = new double[components];
    }

    /// <summary>K.</summary>
    public int Components { get; }

    /// <summary>D.</summary>
    public int Features { get; }

    /// <summary>Free parameters of the K densities (without the K − 1 weights), for BIC and AIC.</summary>
    public abstract int FreeParameterCount { get; }

    /// <summary>The layout of the statistics: shift blocks, the K masses, then the family's moments.</summary>
    public StatisticsLayout StatisticsLayout { get; }

    /// <summary>Every parameter of the K densities, in the family's documented layout (the flat vector the mixture saves and restores).</summary>
    public Span<double> Parameters => _parameters;

    /// <summary>Whether the family is translation-equivariant (see <see cref="IExpectationMaximizationModel{T}.SupportsTranslation"/>).</summary>
    public virtual bool SupportsTranslation => false;

    /// <summary>
    /// Whether <see cref="Accumulate"/> adds the masses Σ w r itself (the built-in kernels do, fused with
    /// the moments); otherwise the mixture adds them before calling it.
    /// </summary>
    public virtual bool AccumulatesMass => false;

    /// <summary>
    /// True while the mixture takes an M-step from an initialization's responsibilities rather than from an E-step (a family
    /// with latent variables of its own, such as the t's scales, then takes them at their prior values).
    /// </summary>
    internal bool FromInitialResponsibilities { get; set; }

    /// <summary>
    /// Whether the family's last component is a noise component (mclust's: a constant density over the data's region, no
    /// parameters of its own): a mixture's initialization then clusters the other points into the other components and starts
    /// the noise component from its initial noise points (<see cref="FiniteMixture{T}.InitialNoise"/>). False by default.
    /// </summary>
    public virtual bool HasNoiseComponent => false;

    /// <summary>Whether the family marginalises missing values (NaN entries); false by default (<see cref="IExpectationMaximizationModel{T}.AllowsMissingValues"/>).</summary>
    public virtual bool AllowsMissingValues => false;

    /// <summary>
    /// How many passes over the initial responsibilities (k-means labels, random responsibilities) an initialization
    /// makes, each an accumulation of <see cref="Accumulate"/> under the parameters the previous one left and an M-step:
    /// 1 for families whose M-step from one pass is their start; more for a family whose start is itself iterative
    /// (the mixture of factor analyzers finds each component's principal subspace by subspace iteration, one pass per
    /// step). The same responsibilities every pass.
    /// </summary>
    public virtual int InitializationPasses => 1;

    /// <summary>log w_k of the current pass, set by <see cref="PrepareExpectation"/>: <see cref="LogProbabilities"/> adds them.</summary>
    protected ReadOnlySpan<double> LogWeights => _logWeights;

    /// <summary>Moves every component by <paramref name="offset"/> (translation-equivariant families only).</summary>
    /// <param name="offset">D values.</param>
    /// <exception cref="NotSupportedException">The family is not translation-equivariant.</exception>
    public virtual void Translate(ReadOnlySpan<double> offset) =>
        throw new NotSupportedException($"{GetType().Name} is not translation-equivariant.");

    /// <summary>The rounding the objective may carry beyond a plain sum's, from the parameters' conditioning (see <see cref="IExpectationMaximizationModel{T}.ObjectiveRoundingError"/>); 0 by default.</summary>
    /// <returns>The allowance per unit weight.</returns>
    public virtual double ObjectiveRoundingError() => 0;

    /// <summary>The power of two the fit's frame divides the data by (see <see cref="IExpectationMaximizationModel{T}.FrameScaleExponent"/>); 0 by default.</summary>
    /// <param name="summary">The data's summary for a fit, or null to choose from the parameters.</param>
    /// <returns>s.</returns>
    public virtual int FrameScaleExponent(EmKernels.Engine.DataSummary? summary) => 0;

    /// <summary>Re-expresses the components for data multiplied by 2^<paramref name="exponent"/> (see <see cref="IExpectationMaximizationModel{T}.ScaleFrame"/>).</summary>
    /// <param name="exponent">e.</param>
    /// <exception cref="NotSupportedException">The family does not scale (it never asks for a scaled frame).</exception>
    public virtual void ScaleFrame(int exponent)
    {
        if (exponent != 0)
        {
            throw new NotSupportedException($"{GetType().Name} does not scale with the data.");
        }
    }

    /// <summary>The sample weights are multiplied by 2^<paramref name="exponent"/> (see <see cref="IExpectationMaximizationModel{T}.ScaleWeights"/>); nothing to do by default.</summary>
    /// <param name="exponent">e.</param>
    public virtual void ScaleWeights(int exponent)
    {
    }

    /// <summary>Elements of per-thread scratch <see cref="LogProbabilities"/> needs for a tile of B points (beyond the K × B block).</summary>
    /// <param name="tilePoints">B.</param>
    /// <returns>The length.</returns>
    public virtual int WorkspaceLength(int tilePoints) => 0;

    /// <summary>Throws an <see cref="ArgumentException"/> (parameter "data") naming the first invalid value of the tile; by default every value must be finite.</summary>
    /// <param name="tile">The tile, in the user's coordinates.</param>
    public virtual void Validate(in DataTile<T> tile)
    {
        TileChecks.RequireFinite(tile);
    }

    /// <summary>Once per fit, before the first initialization: compute what depends only on the data (a re-seed spread, frequencies).</summary>
    /// <param name="context">The data in the fit's frame.</param>
    public virtual void BeginFit(ModelInitialization<T> context)
    {
    }

    /// <summary>
    /// Puts component <paramref name="component"/> at a neutral start that every initialization refines:
    /// by default a re-seed at the data's mean (in the fit's frame).
    /// </summary>
    /// <param name="component">0-based component.</param>
    /// <param name="summary">The data's summary.</param>
    public virtual void ResetComponent(int component, DataSummary summary)
    {
        ArgumentNullException.ThrowIfNull(summary);
        double[] mean = new double[Features];
        for (int d = 0; d < Features; d++)
        {
            mean[d] = summary.Mean[d] - summary.Centre[d];
        }

        Reseed(component, mean);
    }

    /// <summary>
    /// Once per pass: keeps log w_k for <see cref="LogProbabilities"/>, then lets the family turn its
    /// parameters into the kernels' form (<see cref="Prepare"/>).
    /// </summary>
    /// <param name="logWeights">K log mixing weights (zeros for plain log-densities).</param>
    /// <param name="reshift">Whether the statistics' shift moves to the current parameters (see <see cref="IExpectationMaximizationModel{T}.PrepareExpectation"/>).</param>
    public void PrepareExpectation(ReadOnlySpan<double> logWeights, bool reshift)
    {
        logWeights.CopyTo(_logWeights);
        Prepare(reshift);
    }

    /// <summary>Turns the parameters into the form <see cref="LogProbabilities"/> and <see cref="Accumulate"/> use (once per pass).</summary>
    /// <param name="reshift">Whether the statistics' shift moves to the current parameters.</param>
    protected virtual void Prepare(bool reshift)
    {
    }

    /// <summary>Writes the shift the statistics are taken about into <paramref name="shift"/> (the layout's shift blocks); families without a shift write nothing.</summary>
    /// <param name="shift">The statistics' shift values.</param>
    public virtual void WriteShift(Span<double> shift)
    {
    }

    /// <summary>Takes <paramref name="shift"/> (the layout's shift blocks, as <see cref="WriteShift"/> wrote them) as the shift of the following statistics; families without a shift ignore it.</summary>
    /// <param name="shift">The statistics' shift values.</param>
    public virtual void ReadShift(ReadOnlySpan<double> shift)
    {
    }

    /// <summary>log ρ_kn = log w_k + log p(x_n | θ_k) for the tile's points, K × B component-major. Must not change the family.</summary>
    /// <param name="tile">The points, in the fit's frame.</param>
    /// <param name="destination">K × B outputs.</param>
    /// <param name="workspace"><see cref="WorkspaceLength"/> elements of scratch.</param>
    public abstract void LogProbabilities(in DataTile<T> tile, Span<T> destination, Span<T> workspace);

    /// <summary>
    /// Adds the tile's weighted statistics (with weights w_n r_kn, about the shift) into
    /// <paramref name="statistics"/>. Must not change the family. When <see cref="AccumulatesMass"/> is false
    /// the masses are already added.
    /// </summary>
    /// <param name="tile">The points, in the fit's frame.</param>
    /// <param name="responsibilities">K × B responsibilities, component-major.</param>
    /// <param name="statistics">Statistics of the family's layout.</param>
    public abstract void Accumulate(in DataTile<T> tile, ReadOnlySpan<T> responsibilities, SufficientStatistics statistics);

    /// <summary>
    /// The M-step for the component densities from the statistics of all points. Sets
    /// <paramref name="degenerate"/>[k] for a component whose new parameters are unusable (no mass, a
    /// covariance that is not positive definite even with regularization); such components keep their
    /// previous parameters until the mixture re-seeds them. Components marked in <paramref name="held"/>
    /// keep their parameters and are never degenerate. By default: <see cref="MaximizeComponent"/> for every
    /// component that is neither held nor without mass.
    /// </summary>
    /// <param name="statistics">The merged statistics.</param>
    /// <param name="held">K flags: components whose parameters stay.</param>
    /// <param name="degenerate">K outputs (cleared by the caller).</param>
    public virtual void Maximize(SufficientStatistics statistics, ReadOnlySpan<bool> held, Span<bool> degenerate)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        ReadOnlySpan<double> mass = Mass(statistics);
        double minimumMass = MinimumMass(mass);
        ReadOnlySpan<double> moments = Moments(statistics);
        int m = moments.Length / Components;
        for (int k = 0; k < Components; k++)
        {
            if (held[k])
            {
                continue;
            }

            degenerate[k] = !(mass[k] > minimumMass) || !MaximizeComponent(k, mass[k], moments.Slice(k * m, m));
        }
    }

    /// <summary>The M-step of one component from its mass N_k and its m moments; returns false if the result is unusable.</summary>
    /// <param name="component">0-based component.</param>
    /// <param name="mass">N_k &gt; 0.</param>
    /// <param name="moments">The component's moments.</param>
    /// <returns>Whether the new parameters are usable.</returns>
    protected virtual bool MaximizeComponent(int component, double mass, ReadOnlySpan<double> moments) =>
        throw new NotSupportedException($"{GetType().Name} overrides neither Maximize nor MaximizeComponent.");

    /// <summary>Moves component <paramref name="component"/> to the data point <paramref name="point"/> (in the fit's frame), with the data's own spread.</summary>
    /// <param name="component">0-based component.</param>
    /// <param name="point">D values.</param>
    public abstract void Reseed(int component, ReadOnlySpan<double> point);

    /// <summary>
    /// Adds to <paramref name="statistics"/> (zeroed about the current shift by the caller, which writes the
    /// masses itself) the statistics that weight w_k of data distributed exactly as component k would give,
    /// for every k: E[statistics of a point | θ_k] · w_k. Returns false (the default) if the family cannot.
    /// </summary>
    /// <param name="weights">K weights w_k.</param>
    /// <param name="statistics">Statistics of the family's layout.</param>
    /// <returns>Whether they were written.</returns>
    public virtual bool TryWriteImpliedStatistics(ReadOnlySpan<double> weights, SufficientStatistics statistics) => false;

    /// <summary>The part of the objective that is not a sum over points (a log-prior for MAP families); 0 by default.</summary>
    /// <returns>The correction.</returns>
    public virtual double ObjectiveCorrection() => 0;

    /// <summary>
    /// The masses Σ w r (unless <see cref="AccumulatesMass"/>: the family's kernels add them) and the family's
    /// statistics of a tile under the given responsibilities: what a model over this family accumulates per tile.
    /// </summary>
    /// <param name="tile">The points.</param>
    /// <param name="responsibilities">K × B, component-major.</param>
    /// <param name="statistics">Added to.</param>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public void AccumulateWithMasses(in DataTile<T> tile, ReadOnlySpan<T> responsibilities, SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        if (!AccumulatesMass)
        {
            Span<double> mass = Mass(statistics);
            int points = tile.Points;
            for (int j = 0; j < Components; j++)
            {
                double sum = 0;
                ReadOnlySpan<T> row = responsibilities.Slice(j * points, points);
                for (int i = 0; i < points; i++)
                {
                    sum += double.CreateTruncating(tile.Weight(i) * row[i]);
                }

                mass[j] += sum;
            }
        }

        Accumulate(tile, responsibilities, statistics);
    }

    /// <summary>The K masses of statistics of this family's layout.</summary>
    /// <param name="statistics">The statistics.</param>
    /// <returns>The masses.</returns>
    public Span<double> Mass(SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        return statistics.Block(_massBlock);
    }

    /// <summary>The block after the masses (the moments of the default layout); empty if there is none.</summary>
    /// <param name="statistics">The statistics.</param>
    /// <returns>The moments.</returns>
    public Span<double> Moments(SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        return _momentsBlock < 0 ? default : statistics.Block(_momentsBlock);
    }

    /// <summary>The mass below which a component counts as empty: 1e-12 of the total, at least 1e-300.</summary>
    /// <param name="mass">The K masses.</param>
    /// <returns>The threshold.</returns>
    protected static double MinimumMass(ReadOnlySpan<double> mass)
    {
        double total = 0;
        foreach (double value in mass)
        {
            total += value;
        }

        return Math.Max(1e-12 * total, 1e-300);
    }

    private static int CheckedComponents(int components)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(components, 1);
        return components;
    }
}

/// <summary>A family with latent variables of its own that a Monte-Carlo E-step draws (the t's scales u).</summary>
internal interface IMonteCarloFamily
{
    /// <summary>S draws per point and component from the next pass on, keyed by <paramref name="seed"/>; 0 for exact expectations.</summary>
    void SetMonteCarlo(int samples, ulong seed);
}
