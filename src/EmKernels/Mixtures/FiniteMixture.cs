using System.Numerics;
using System.Runtime.CompilerServices;
using EmKernels.Engine;
using EmKernels.Kernels;
using EmKernels.Numerics;

namespace EmKernels.Mixtures;

/// <summary>How a <see cref="FiniteMixture{T}"/> chooses its starting parameters for each run.</summary>
public enum MixtureInitialization
{
    /// <summary>k-means++ seeding refined by k-means on the data (in the fit's frame); the clusters give the starting responsibilities.</summary>
    KMeans,

    /// <summary>Random responsibilities (uniform, normalised per point), then an M-step.</summary>
    RandomResponsibilities,

    /// <summary>Each component re-seeded at one of K distinct random points (of positive weight), equal weights.</summary>
    RandomPoints,

    /// <summary>The parameters the mixture holds (given, or a warm start): deterministic, so a fit runs once.</summary>
    Current,

    /// <summary>
    /// mclust's start: the partition into K clusters of the model-based hierarchical agglomeration of the data
    /// (<see cref="HierarchicalAgglomeration.Vvv(ReadOnlySpan{double}, int, int, bool)"/>, mclust's stored factors), then an M-step. Deterministic, so a fit runs
    /// once: beyond 2,000 points the agglomeration runs on 2,000 of them drawn with a fixed seed (as mclust's <c>subset</c>) and
    /// the M-step is of those points. Data with a constant column start from k-means instead.
    /// </summary>
    Hierarchical,
}

/// <summary>
/// A finite mixture p(x) = Σ_k w_k p(x | θ_k) of the components of one <see cref="ComponentFamily{T}"/>, as
/// a model of the EM engine: the mixing weights, the responsibilities (log-sum-exp in the log domain, so a
/// point impossible under every component gets ℓ = −∞ and responsibilities 0, never NaN), the
/// initializations, held parameters, known components (semi-supervised) and the policy for degenerate
/// components.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
/// <remarks>
/// Degenerate components — no mass, or parameters the family cannot use — are re-seeded: the component
/// moves to one of the points the current model explains worst (each segment of the data offers its
/// worst, worst first), with the data's spread and one point's share of the weight, and the weights are
/// renormalised; the M-step reports it and the drivers do not stop on the next iteration.
/// The flat parameter vector (<see cref="IExpectationMaximizationModel{T}.WriteParameters"/>) is the K
/// weights followed by the family's <see cref="ComponentFamily{T}.Parameters"/>.
/// </remarks>
public sealed class FiniteMixture<T> : IMixtureModel<T>, IMonteCarloModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly double[] _weights;
    private int _monteCarloSamples;
    private ulong _monteCarloSeed;
    private StatisticsLayout? _monteCarloLayout;
    private readonly double[] _logWeights;
    private readonly bool[] _held;
    private readonly bool[] _degenerate;
    private bool[]? _given;
    private double[]? _givenValues;
    private double _weightConcentration = 1;
    private int _weightExponent;

    /// <summary>A mixture of the family's components with equal weights.</summary>
    /// <param name="family">The components.</param>
    /// <param name="initialization">How each run starts.</param>
    /// <exception cref="ArgumentNullException"><paramref name="family"/> is null.</exception>
    public FiniteMixture(ComponentFamily<T> family, MixtureInitialization initialization = MixtureInitialization.KMeans)
    {
        ArgumentNullException.ThrowIfNull(family);
        if (!Enum.IsDefined(initialization))
        {
            throw new ArgumentOutOfRangeException(nameof(initialization), initialization, "Unknown initialization.");
        }

        Family = family;
        Initialization = initialization;
        int k = family.Components;
        _weights = new double[k];
        Array.Fill(_weights, 1.0 / k);
        _logWeights = new double[k];
        _held = new bool[k];
        _degenerate = new bool[k];
    }

    /// <summary>The components.</summary>
    public ComponentFamily<T> Family { get; }

    /// <summary>K.</summary>
    public int Components => Family.Components;

    /// <inheritdoc/>
    public int Features => Family.Features;

    /// <summary>How each run starts.</summary>
    public MixtureInitialization Initialization { get; set; }

    /// <summary>Whether the M-step leaves the mixing weights alone.</summary>
    public bool HoldWeights { get; set; }

    /// <summary>
    /// A partition of the N points to start every run from (a component index in 0 … K − 1 per point, as another clustering or
    /// mclust's <c>hclass</c> gives it): the first M-step is of its one-hot responsibilities; null for <see cref="Initialization"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A label is out of range.</exception>
    public int[]? InitialPartition
    {
        get => _initialPartition;
        set
        {
            if (value is not null && value.Any(label => label < 0 || label >= Components))
            {
                throw new ArgumentException($"Every label must be in 0 … {Components - 1}.", nameof(value));
            }

            _initialPartition = value;
        }
    }

    private int[]? _initialPartition;

    /// <summary>
    /// With a family that has a noise component (<see cref="ComponentFamily{T}.HasNoiseComponent"/>): N flags, the points that
    /// start in it (mclust's <c>initialization$noise</c>). The initialization clusters the other points into the other K − 1
    /// components (k-means, the hierarchical agglomeration, random responsibilities or random points: of those points only),
    /// and the first M-step takes the flagged points' responsibilities as 1 for the noise component. Null: the flags of
    /// <see cref="NoiseDetection.NearestNeighborClutter"/> (k = <see cref="NoiseNeighbors"/>) of the data, computed once per fit.
    /// Ignored without a noise component.
    /// </summary>
    public bool[]? InitialNoise { get; set; }

    /// <summary>k of the default initial noise (<see cref="InitialNoise"/> null): the k-th nearest neighbour's distances (≥ 1; 5 by default).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public int NoiseNeighbors
    {
        get => _noiseNeighbors;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            _noiseNeighbors = value;
        }
    }

    private int _noiseNeighbors = 5;

    private bool[]? _detectedNoise;

    /// <summary>
    /// α ≥ 1 of a symmetric Dirichlet prior Dir(α, …, α) on the weights for MAP estimation; 1, the default, is no prior
    /// (maximum likelihood). The M-step is then w_k = (N_k + α − 1) / (Σ N + K(α − 1)) and the objective gains the log
    /// density of the weights under the prior (every constant included), weighted as the points are.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is below 1 or not finite (below 1 the posterior's mode is at a weight of 0).</exception>
    public double WeightConcentration
    {
        get => _weightConcentration;
        set
        {
            if (!(value >= 1) || double.IsInfinity(value))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "The weights' Dirichlet concentration must be finite and at least 1 (1: no prior).");
            }

            _weightConcentration = value;
        }
    }

    /// <summary>The K mixing weights w_k (summing to 1).</summary>
    public ReadOnlySpan<double> Weights => _weights;

    /// <inheritdoc/>
    public int FreeParameterCount => Family.FreeParameterCount + Components - 1;

    /// <inheritdoc/>
    public bool AllowsMissingValues => Family.AllowsMissingValues;

    /// <inheritdoc/>
    public StatisticsLayout StatisticsLayout => _monteCarloSamples == 0
        ? Family.StatisticsLayout
        : _monteCarloLayout ??= new StatisticsLayout(Family.StatisticsLayout.Kind + "+monte-carlo", [.. Family.StatisticsLayout.Blocks, new StatisticsBlock("monte-carlo-variance", 1)]);

    /// <summary>
    /// Monte-Carlo E-steps: the responsibilities a pass accumulates are the frequencies of S components drawn from each point's
    /// posterior (keyed by <paramref name="seed"/> and the point's index), and a family with latent variables of its own
    /// (the t's scales) draws them too; the objective stays the exact log-likelihood. S = 0 returns to exact E-steps.
    /// </summary>
    /// <param name="samples">S (≥ 0).</param>
    /// <param name="seed">The key of the draws.</param>
    public void SetMonteCarlo(int samples, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(samples);
        _monteCarloSamples = samples;
        _monteCarloSeed = seed;
        if (Family is IMonteCarloFamily family)
        {
            family.SetMonteCarlo(samples, seed);
        }
    }

    /// <inheritdoc/>
    public double MonteCarloVariance(SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        return _monteCarloSamples == 0 ? 0 : statistics.Block(statistics.Layout.Blocks.Count - 1)[0];
    }

    /// <inheritdoc/>
    public int ParameterLength => Components + Family.Parameters.Length;

    /// <inheritdoc/>
    public bool SupportsTranslation => Family.SupportsTranslation;

    /// <summary>Sets the mixing weights.</summary>
    /// <param name="weights">K finite non-negative weights summing to 1 (within 1e-6).</param>
    /// <exception cref="ArgumentException">The weights are invalid.</exception>
    public void SetWeights(ReadOnlySpan<double> weights) => MixtureSetup.StartWeights(weights.ToArray(), Components, nameof(weights)).CopyTo(_weights, 0);

    /// <summary>Holds (or releases) component <paramref name="component"/>: the M-step leaves its density parameters alone.</summary>
    /// <param name="component">0-based component.</param>
    /// <param name="held">Whether it is held.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="component"/> is not in 0 … K − 1.</exception>
    public void HoldComponent(int component, bool held = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(component);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(component, Components);
        _held[component] = held;
    }

    /// <summary>Whether component <paramref name="component"/> is held.</summary>
    /// <param name="component">0-based component.</param>
    /// <returns>True when held.</returns>
    public bool IsHeld(int component) => _held[component];

    /// <summary>
    /// Marks entries of the flat parameter vector (weights, then the family's parameters) whose current
    /// values every run starts from: they override what the initialization chose. When every entry is
    /// given the start is deterministic. Null clears the marks.
    /// </summary>
    /// <param name="given"><see cref="ParameterLength"/> flags, or null.</param>
    /// <exception cref="ArgumentException">The length does not match.</exception>
    public void SetGivenParameters(ReadOnlySpan<bool> given)
    {
        if (given.IsEmpty)
        {
            _given = null;
            return;
        }

        if (given.Length != ParameterLength)
        {
            throw new ArgumentException($"Expected {ParameterLength} flags, got {given.Length}.", nameof(given));
        }

        _given = given.ToArray();
    }

    /// <inheritdoc/>
    public void Translate(ReadOnlySpan<double> offset) => Family.Translate(offset);

    /// <inheritdoc/>
    public int FrameScaleExponent(DataSummary? summary) => Family.FrameScaleExponent(summary);

    /// <inheritdoc/>
    public void ScaleFrame(int exponent) => Family.ScaleFrame(exponent);

    /// <inheritdoc/>
    public void ScaleWeights(int exponent)
    {
        _weightExponent += exponent;
        Family.ScaleWeights(exponent);
    }

    /// <inheritdoc/>
    public void WriteParameters(Span<double> destination)
    {
        _weights.CopyTo(destination);
        Family.Parameters.CopyTo(destination[Components..]);
    }

    /// <inheritdoc/>
    public void ReadParameters(ReadOnlySpan<double> source)
    {
        source[..Components].CopyTo(_weights);
        source[Components..ParameterLength].CopyTo(Family.Parameters);
    }

    /// <inheritdoc/>
    public int WorkspaceLength(int tilePoints) => Components * tilePoints + Family.WorkspaceLength(tilePoints);

    /// <inheritdoc/>
    public void Validate(in DataTile<T> tile)
    {
        Family.Validate(tile);
        ReadOnlySpan<int> labels = tile.Labels;
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] < -1 || labels[i] >= Components)
            {
                throw new ArgumentException($"The known component of row {tile.Start + i} is {labels[i]}; it must be −1 (unknown) or in 0 … {Components - 1}.", "labels");
            }
        }
    }

    /// <inheritdoc/>
    public bool Initialize(ModelInitialization<T> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        int k = Components;
        if (context.Restart == 0)
        {
            Family.BeginFit(context);
            if (_given is not null)
            {
                _givenValues = new double[ParameterLength];
                WriteParameters(_givenValues);
            }
        }

        if (_initialPartition is { } partition)
        {
            if (partition.Length != context.Summary.Points)
            {
                throw new ArgumentException($"The initial partition has {partition.Length} labels; the data have {context.Summary.Points} points.", nameof(InitialPartition));
            }

            Array.Fill(_weights, 1.0 / k);
            for (int j = 0; j < k; j++)
            {
                Family.ResetComponent(j, context.Summary);
            }

            MaximizeFrom(context, (in DataTile<T> tile, Span<T> r) =>
            {
                r.Clear();
                for (int i = 0; i < tile.Points; i++)
                {
                    r[partition[tile.Start + i] * tile.Points + i] = T.One;
                }
            });
            return true;
        }

        bool complete = Initialization == MixtureInitialization.Current || (_given is not null && !_given.Contains(false));
        if (Initialization == MixtureInitialization.Current)
        {
            return true;
        }

        // The starting point every initialization refines: equal weights, every component at the data's own distribution.
        Array.Fill(_weights, 1.0 / k);
        for (int j = 0; j < k; j++)
        {
            Family.ResetComponent(j, context.Summary);
        }

        if (!complete)
        {
            // With a noise component, the clustering is of the other points into the other components.
            bool[]? noise = Family.HasNoiseComponent ? NoiseFlags(context) : null;
            int clusters = noise is null ? k : k - 1;
            switch (Initialization)
            {
                case MixtureInitialization.KMeans:
                {
                    double[] centres;
                    context.ExcludedPoints = noise;
                    try
                    {
                        centres = KMeans.Centres(context, clusters);
                    }
                    finally
                    {
                        context.ExcludedPoints = null;
                    }

                    if (Family.SupportsTranslation)
                    {
                        // The M-step's statistics are taken about the current means: about the centres, a point
                        // that is its cluster's only member adds exactly nothing to the covariance, rather than the
                        // rounding of a difference of two squares taken about the data's mean.
                        for (int j = 0; j < clusters; j++)
                        {
                            Family.Reseed(j, centres.AsSpan(j * Features, Features));
                        }
                    }

                    MaximizeFrom(context, WithNoise(new KMeansLabels<T>(centres, clusters, Features).Fill, noise));
                    break;
                }

                case MixtureInitialization.RandomResponsibilities:
                {
                    // A point's responsibilities are a function of the seed and its index: the same in every pass, on any process.
                    long seed = context.Random.NextInt64();
                    MaximizeFrom(context, WithNoise((in DataTile<T> tile, Span<T> r) =>
                    {
                        r.Clear();
                        MixtureSetup.RandomResponsibilities(seed, clusters, tile.Start, tile.Points, r);
                    }, noise));
                    break;
                }

                case MixtureInitialization.Hierarchical:
                    if (Mixtures.HierarchicalStart.Partition(context, clusters, AgglomerationCache, noise) is { } agglomerated)
                    {
                        MaximizeFrom(context, WithNoise(agglomerated.Fill, noise));
                        complete = true;
                        break;
                    }

                    goto case MixtureInitialization.KMeans;

                default:
                {
                    double[] points;
                    context.ExcludedPoints = noise;
                    try
                    {
                        points = KMeans.RandomPoints(context, clusters);
                    }
                    finally
                    {
                        context.ExcludedPoints = null;
                    }

                    for (int j = 0; j < clusters; j++)
                    {
                        Family.Reseed(j, points.AsSpan(j * Features, Features));
                    }

                    if (noise is not null)
                    {
                        // The noise component's share is its starting points'; the clusters share the rest equally.
                        double share = (double)noise.Count(flag => flag) / noise.Length;
                        Array.Fill(_weights, (1 - share) / clusters);
                        _weights[k - 1] = share;
                    }

                    break;
                }
            }
        }

        if (_given is not null && _givenValues is not null)
        {
            double[] current = new double[ParameterLength];
            WriteParameters(current);
            for (int i = 0; i < current.Length; i++)
            {
                if (_given[i])
                {
                    current[i] = _givenValues[i];
                }
            }

            ReadParameters(current);
        }

        return complete;
    }

    /// <summary>
    /// Shares the hierarchical start's agglomeration among fits of the same data (mclust runs one for all its models and K):
    /// the first fit given it fills it, the others take their partitions from it. Null: each fit agglomerates its own.
    /// </summary>
    public AgglomerationCache? AgglomerationCache { get; set; }

    /// <summary>The initial noise flags: the user's (checked), or those detected in the data once per fit.</summary>
    private bool[] NoiseFlags(ModelInitialization<T> context)
    {
        long n = context.Summary.Points;
        bool[] flags;
        if (InitialNoise is { } given)
        {
            if (given.Length != n)
            {
                throw new ArgumentException($"The initial noise flags are {given.Length}; the data have {n} points.", nameof(InitialNoise));
            }

            flags = given;
        }
        else
        {
            if (_detectedNoise is null || _detectedNoise.Length != n || context.Restart == 0)
            {
                int d = Features;
                if (n <= NoiseNeighbors + 1 || n * (long)d > Array.MaxLength)
                {
                    throw new ArgumentException($"Detecting the initial noise with k = {NoiseNeighbors} needs more than {NoiseNeighbors + 1} points held in one array; give InitialNoise.", nameof(InitialNoise));
                }

                double[] values = new double[n * d];
                context.ForEachTile((in DataTile<T> tile) =>
                {
                    for (int i = 0; i < tile.Points; i++)
                    {
                        for (int f = 0; f < d; f++)
                        {
                            values[((tile.Start + i) * d) + f] = double.CreateTruncating(tile[i, f]);
                        }
                    }
                });
                _detectedNoise = NoiseDetection.NearestNeighborClutter(values, (int)n, d, NoiseNeighbors);
            }

            flags = _detectedNoise;
        }

        long clustered = flags.LongLength - flags.Count(flag => flag);
        if (clustered < Components - 1)
        {
            throw new ArgumentException($"{clustered} points start outside the noise component; the other {Components - 1} components need at least as many.", nameof(InitialNoise));
        }

        return flags;
    }

    /// <summary>The fill, then, for the points flagged as noise, responsibility 1 for the noise component (the last) and 0 elsewhere.</summary>
    private ResponsibilityFill WithNoise(ResponsibilityFill fill, bool[]? noise)
    {
        if (noise is null)
        {
            return fill;
        }

        int k = Components;
        return (in DataTile<T> tile, Span<T> r) =>
        {
            fill(tile, r);
            int points = tile.Points;
            for (int i = 0; i < points; i++)
            {
                if (noise[tile.Start + i])
                {
                    for (int j = 0; j < k; j++)
                    {
                        r[(j * points) + i] = j == k - 1 ? T.One : T.Zero;
                    }
                }
            }
        };
    }

    /// <inheritdoc/>
    public void PrepareExpectation(bool reshift)
    {
        for (int k = 0; k < Components; k++)
        {
            _logWeights[k] = Math.Log(_weights[k]);
        }

        Family.PrepareExpectation(_logWeights, reshift);
    }

    /// <inheritdoc/>
    public void AdoptShift(SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        Family.ReadShift(statistics.Shift);
    }

    /// <inheritdoc/>
    public void ResetStatistics(SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        Family.WriteShift(statistics.Shift);
        statistics.Clear();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public double Posterior(in DataTile<T> tile, Span<T> responsibilities, Span<T> pointLogLikelihoods, Span<T> workspace)
    {
        int k = Components;
        int points = tile.Points;
        Span<T> logRho = responsibilities[..(k * points)];
        Family.LogProbabilities(tile, logRho, workspace[(k * points)..]);
        ReadOnlySpan<int> labels = tile.Labels;
        for (int i = 0; i < labels.Length; i++)
        {
            // A known component: the point's responsibility is 1 there, and its term of the objective is
            // log w_z + log p(x | θ_z), the complete-data log-likelihood (which EM still never decreases).
            int z = labels[i];
            if (z >= 0)
            {
                for (int j = 0; j < k; j++)
                {
                    if (j != z)
                    {
                        logRho[j * points + i] = T.NegativeInfinity;
                    }
                }
            }
        }

        return MixtureKernels.Responsibilities<T>(logRho, k, points, pointLogLikelihoods, tile.SampleWeights);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public double Expectation(in DataTile<T> tile, SufficientStatistics? statistics, Span<T> workspace, Span<T> pointObjectives)
    {
        int k = Components;
        Span<T> r = workspace[..(k * tile.Points)];
        double objective = Posterior(tile, r, pointObjectives, workspace);
        if (statistics is not null)
        {
            if (_monteCarloSamples > 0)
            {
                statistics.Block(statistics.Layout.Blocks.Count - 1)[0] += DrawComponents(tile, r, pointObjectives);
            }

            Accumulate(tile, r, statistics);
        }

        return objective;
    }

    /// <summary>
    /// Replaces each point's responsibilities by the frequencies of S components drawn from them (inverse CDF, a stream keyed
    /// by the seed and the point's index); returns Σ w² Var_s[log p(x, z_s)] / S, with log p(x, z = k) = ℓ + log r_k.
    /// </summary>
    private double DrawComponents(in DataTile<T> tile, Span<T> r, ReadOnlySpan<T> logLikelihoods)
    {
        int k = Components, points = tile.Points, samples = _monteCarloSamples;
        Span<int> counts = k <= 256 ? stackalloc int[k] : new int[k];
        double variance = 0;
        for (int i = 0; i < points; i++)
        {
            var random = new CounterRandom(_monteCarloSeed, tile.Start + i, 0);
            counts.Clear();
            for (int s = 0; s < samples; s++)
            {
                double u = random.NextDouble(), cumulative = 0;
                int j = 0;
                for (; j < k - 1; j++)
                {
                    cumulative += double.CreateTruncating(r[(j * points) + i]);
                    if (u < cumulative)
                    {
                        break;
                    }
                }

                while (j > 0 && r[(j * points) + i] == T.Zero)
                {
                    j--; // rounding left u past the last component of positive responsibility
                }

                counts[j]++;
            }

            double ell = double.CreateTruncating(logLikelihoods[i]), mean = 0, square = 0;
            for (int j = 0; j < k; j++)
            {
                if (counts[j] > 0)
                {
                    double logJoint = ell + Math.Log(double.CreateTruncating(r[(j * points) + i]));
                    double share = (double)counts[j] / samples;
                    mean += share * logJoint;
                    square += share * logJoint * logJoint;
                }

                r[(j * points) + i] = T.CreateTruncating((double)counts[j] / samples);
            }

            double w = double.CreateTruncating(tile.Weight(i));
            variance += w * w * Math.Max(square - (mean * mean), 0) / samples;
        }

        return variance;
    }

    /// <inheritdoc/>
    public bool Maximize(SufficientStatistics statistics, MaximizationContext context)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        ArgumentNullException.ThrowIfNull(context);
        return Maximize(statistics, context, byComponent: false);
    }

    /// <inheritdoc/>
    public double ObjectiveCorrection() => Family.ObjectiveCorrection() + WeightLogPrior();

    /// <summary>log Dir(w; α) of the current weights, times the factor the fit's sample weights carry; 0 without a prior.</summary>
    private double WeightLogPrior()
    {
        double alpha = _weightConcentration;
        if (alpha == 1)
        {
            return 0;
        }

        int k = Components;
        double sum = SpecialFunctions.LogGamma(k * alpha) - (k * SpecialFunctions.LogGamma(alpha));
        foreach (double w in _weights)
        {
            sum += (alpha - 1) * Math.Log(w);
        }

        return Math.ScaleB(sum, _weightExponent);
    }

    /// <inheritdoc/>
    public double ObjectiveRoundingError() => Family.ObjectiveRoundingError();

    /// <inheritdoc/>
    public bool TryWriteImpliedStatistics(SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        ResetStatistics(statistics);
        if (!Family.TryWriteImpliedStatistics(_weights, statistics))
        {
            return false;
        }

        _weights.CopyTo(Family.Mass(statistics));
        return true;
    }

    private void Accumulate(in DataTile<T> tile, ReadOnlySpan<T> r, SufficientStatistics statistics) => Family.AccumulateWithMasses(tile, r, statistics);

    /// <summary>The M-step: the family's, then the weights N_k / Σ N; degenerate components are re-seeded.</summary>
    private bool Maximize(SufficientStatistics statistics, MaximizationContext context, bool byComponent)
    {
        ReadOnlySpan<double> mass = Family.Mass(statistics);
        double massSum = 0;
        foreach (double value in mass)
        {
            massSum += value;
        }

        // A Dirichlet prior's α − 1 pseudo-points per component, in the frame's weight units.
        double pseudo = Math.ScaleB(_weightConcentration - 1, _weightExponent);

        Array.Clear(_degenerate);
        Family.Maximize(statistics, _held, _degenerate);
        bool any = false;
        for (int j = 0; j < Components; j++)
        {
            if (_degenerate[j])
            {
                any = true;
            }
            else if (!HoldWeights)
            {
                _weights[j] = (mass[j] + pseudo) / (massSum + (Components * pseudo));
            }
        }

        if (any)
        {
            Reseed(mass, massSum, context, byComponent);
        }

        return any;
    }

    /// <summary>
    /// Each degenerate component moves to the next candidate point (the worst-explained first; with
    /// <paramref name="byComponent"/>, candidate k for component k), with one point's share of the weight.
    /// </summary>
    private void Reseed(ReadOnlySpan<double> mass, double massSum, MaximizationContext context, bool byComponent)
    {
        double share = ReseedShare(massSum, context);
        int used = 0;
        for (int j = 0; j < Components; j++)
        {
            if (!_degenerate[j])
            {
                continue;
            }

            if (context.CandidateCount > 0)
            {
                int candidate = byComponent ? Math.Min(j, context.CandidateCount - 1) : used % context.CandidateCount;
                Family.Reseed(j, context.Candidate(candidate));
            }

            used++;
            _weights[j] = share;
            context.ReportReseed(j, mass[j] > 1e-300 ? ReseedReason.CovarianceNotPositiveDefinite : ReseedReason.LostItsMass);
        }

        double sum = 0;
        foreach (double weight in _weights)
        {
            sum += weight;
        }

        for (int j = 0; j < Components; j++)
        {
            _weights[j] /= sum;
        }
    }

    /// <summary>One point's share of the weight: 1 / Σ N without sample weights; with them (whose sum says nothing of N), min(1, 1 / N).</summary>
    private double ReseedShare(double massSum, MaximizationContext context) =>
        context.SampleWeighted ? Math.Min(1.0, 1.0 / context.Points) : 1.0 / massSum;

    /// <summary>
    /// An M-step from responsibilities chosen by <paramref name="fill"/> instead of an E-step: how an
    /// initialization becomes parameters. Points with a known component keep it. A component left
    /// degenerate is re-seeded at the point at row ⌊k N / K⌋.
    /// </summary>
    private void MaximizeFrom(ModelInitialization<T> context, ResponsibilityFill fill)
    {
        int k = Components;
        int d = Features;
        long n = context.Summary.Points;
        var statistics = new SufficientStatistics(StatisticsLayout);
        double[] rows = new double[k * d];
        T[] r = new T[k * context.TilePoints];
        Family.FromInitialResponsibilities = true;
        try
        {
            for (int pass = 0; pass < Family.InitializationPasses; pass++)
            {
                PrepareExpectation(reshift: true);
                ResetStatistics(statistics);
                MaximizeFromPass(context, fill, statistics, rows, r);
            }
        }
        finally
        {
            Family.FromInitialResponsibilities = false;
        }
    }

    /// <summary>One pass of <see cref="MaximizeFrom"/>: accumulate under the given responsibilities, then the M-step.</summary>
    private void MaximizeFromPass(ModelInitialization<T> context, ResponsibilityFill fill, SufficientStatistics statistics, double[] rows, T[] r)
    {
        int k = Components;
        int d = Features;
        long n = context.Summary.Points;
        var candidates = new MaximizationContext(d, k)
        {
            TotalWeight = context.Summary.TotalWeight,
            Points = n,
            SampleWeighted = context.SampleWeighted,
        };
        context.Sum(statistics, (in DataTile<T> tile, SufficientStatistics segment) =>
        {
            Span<T> block = r.AsSpan(0, k * tile.Points);
            fill(tile, block);
            ReadOnlySpan<int> labels = tile.Labels;
            for (int i = 0; i < labels.Length; i++)
            {
                if (labels[i] >= 0)
                {
                    for (int j = 0; j < k; j++)
                    {
                        block[j * tile.Points + i] = j == labels[i] ? T.One : T.Zero;
                    }
                }
            }

            Accumulate(tile, block, segment);
        });
        long[] rowIndices = new long[k];
        for (int j = 0; j < k; j++)
        {
            rowIndices[j] = (long)((Int128)j * n / k);
        }

        context.Rows(rowIndices).CopyTo(rows, 0);
        for (int j = 0; j < k; j++)
        {
            candidates.AddCandidate(rows.AsSpan(j * d, d));
        }

        Maximize(statistics, candidates, byComponent: true);
    }

    /// <summary>Fills K × B responsibilities for a tile.</summary>
    internal delegate void ResponsibilityFill(in DataTile<T> tile, Span<T> responsibilities);
}

/// <summary>One-hot responsibilities of the nearest k-means centre (ties to the lower index).</summary>
internal sealed class KMeansLabels<T>(double[] centres, int components, int features)
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly T[] _centres = centres.Select(T.CreateTruncating).ToArray();
    private readonly T[] _unit = Enumerable.Repeat(T.One, components).ToArray();
    private readonly T[] _zero = new T[components];
    private readonly T[] _distances = new T[components * ExpectationMaximization.TilePoints];

    public void Fill(in DataTile<T> tile, Span<T> r)
    {
        int points = tile.Points;
        Span<T> distances = _distances.AsSpan(0, components * points);
        GaussianKernels.SphericalLogDensity<T>(tile.Values, features, points, tile.Stride, components, _centres, _unit, _zero, distances);
        r.Clear();
        for (int i = 0; i < points; i++)
        {
            int best = 0;
            for (int c = 1; c < components; c++)
            {
                if (distances[c * points + i] > distances[best * points + i])
                {
                    best = c;
                }
            }

            r[best * points + i] = T.One;
        }
    }
}

/// <summary>
/// mclust's start for a mixture: the partition into K clusters of the hierarchical agglomeration of the data (all of them up
/// to <see cref="MaximumPoints"/>, else as many random points), as one-hot responsibilities of those points.
/// </summary>
internal static class HierarchicalStart
{
    /// <summary>The most points agglomerated (mclust's <c>subset</c>): the agglomeration costs N² … N³.</summary>
    public const int MaximumPoints = 2000;

    /// <summary>The seed of the subset of <see cref="MaximumPoints"/> rows agglomerated from more: fixed, so the start is deterministic.</summary>
    private const int SubsetSeed = 20261201;

    /// <summary>
    /// The partition, or null when the agglomeration cannot run (fewer points than K, or a constant column). With a
    /// <paramref name="cache"/> the agglomeration is made once and shared by every fit that is given the same cache.
    /// </summary>
    public static Partitioned<T>? Partition<T>(ModelInitialization<T> context, int components, AgglomerationCache? cache = null, bool[]? excluded = null)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int d = context.Summary.Features;
        long n = context.Summary.Points;
        if (components == 1)
        {
            // The partition into one group is the agglomerated rows, all in it: no agglomeration to make or wait for.
            long[] all = Rows(n, excluded);
            return all.Length >= 2 ? new Partitioned<T>(all, new int[all.Length]) : null;
        }

        if (cache is null)
        {
            return Made<T>(Agglomerate(context, n, d, excluded), components);
        }

        // One agglomeration per cache: a fit waits for one being made (by another fit, or AgglomerationCache.Fill).
        cache.WaitForFill();
        lock (cache.Gate)
        {
            if (cache.Result is not { } shared || !shared.Matches(n, d, excluded))
            {
                shared = Agglomerate(context, n, d, excluded);
                cache.Result = shared;
            }

            return Made<T>(shared, components);
        }
    }

    private static Partitioned<T>? Made<T>(AgglomerationCache.Entry entry, int components)
        where T : unmanaged, IBinaryFloatingPointIeee754<T> =>
        entry.Agglomeration is { } made && made.Points >= components ? new Partitioned<T>(entry.Rows, made.Partition(components)) : null;

    /// <summary>The agglomeration of the fit's own (framed) values of the chosen rows.</summary>
    private static AgglomerationCache.Entry Agglomerate<T>(ModelInitialization<T> context, long n, int d, bool[]? excluded)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        long[] rows = Rows(n, excluded);
        int m = rows.Length;
        double[] values = new double[m * d];
        if (m >= 2)
        {
            int next = 0;
            context.ForEachTile((in DataTile<T> tile) =>
            {
                while (next < m && rows[next] < tile.Start + tile.Points)
                {
                    int i = (int)(rows[next] - tile.Start);
                    for (int f = 0; f < d; f++)
                    {
                        values[next * d + f] = double.CreateTruncating(tile[i, f]);
                    }

                    next++;
                }
            });
        }

        return Agglomerate(n, d, rows, values, excluded, context.MaxDegreeOfParallelism);
    }

    /// <summary>The agglomeration of the chosen rows' values (m × d, row-major), or none when it cannot run.</summary>
    internal static AgglomerationCache.Entry Agglomerate(long n, int d, long[] rows, double[] values, bool[]? excluded, int threads)
    {
        HierarchicalAgglomeration? agglomeration = null;
        if (rows.Length >= 2)
        {
            try
            {
                agglomeration = HierarchicalAgglomeration.Vvv(values, rows.Length, d, mclustStoredFactors: true, threads);
            }
            catch (ArgumentException)
            {
                agglomeration = null;
            }
        }

        return new AgglomerationCache.Entry(n, d, rows, agglomeration, excluded);
    }

    /// <summary>
    /// The rows agglomerated: every one not excluded (mclust agglomerates data[-noise, ]), or a fixed random subset of
    /// <see cref="MaximumPoints"/> of them.
    /// </summary>
    internal static long[] Rows(long n, bool[]? excluded)
    {
        long eligible = excluded is null ? n : excluded.LongLength - excluded.Count(flag => flag);
        if (eligible <= MaximumPoints)
        {
            long[] all = new long[eligible];
            long next = 0;
            for (long i = 0; i < n; i++)
            {
                if (excluded is null || !excluded[i])
                {
                    all[next++] = i;
                }
            }

            return all;
        }

        var random = new Random(SubsetSeed);
        var chosen = new HashSet<long>();
        while (chosen.Count < MaximumPoints)
        {
            chosen.Add(random.NextInt64(eligible));
        }

        return excluded is null ? [.. chosen.Order()] : OrdinalRows(excluded, [.. chosen.Order()]);
    }

    /// <summary>The rows of the given ordinals (increasing) among the rows not excluded.</summary>
    private static long[] OrdinalRows(bool[] excluded, long[] ordinals)
    {
        long[] rows = new long[ordinals.Length];
        long seen = -1;
        int next = 0;
        for (long i = 0; i < excluded.LongLength && next < ordinals.Length; i++)
        {
            if (!excluded[i] && ++seen == ordinals[next])
            {
                rows[next++] = i;
            }
        }

        return rows;
    }

    /// <summary>
    /// mclust's <c>qclass(x, G)</c>, its start for one feature: the classes between R's type-7 quantiles of x at m equally spaced
    /// probabilities (m = G + 1, G + 2, … until G + 1 distinct values; beyond, the values starting the smallest gaps are dropped),
    /// the outer bounds moved out by sd(x)·√ε.
    /// </summary>
    internal static int[] QuantileClasses(ReadOnlySpan<double> x, int groups)
    {
        int n = x.Length;
        double[] sorted = x.ToArray();
        Array.Sort(sorted);
        double Quantile(double p)
        {
            double h = (n - 1) * p;
            int lo = (int)Math.Floor(h);
            return lo + 1 < n ? sorted[lo] + ((h - lo) * (sorted[lo + 1] - sorted[lo])) : sorted[lo];
        }

        List<double> q = [];
        for (int m = groups + 1; ; m++)
        {
            q = Enumerable.Range(0, m).Select(i => Quantile(m == 1 ? 0 : (double)i / (m - 1))).Distinct().ToList();
            if (q.Count >= groups + 1 || m > n + groups)
            {
                break;
            }
        }

        if (q.Count > groups + 1)
        {
            int drop = q.Count - groups - 1;
            int[] smallest = Enumerable.Range(0, q.Count - 1).OrderBy(i => q[i + 1] - q[i]).Take(drop).ToArray(); // OrderBy is stable, as R's order
            q = q.Where((_, i) => !smallest.Contains(i)).ToList();
        }

        double mean = sorted.Average(), sd = Math.Sqrt(sorted.Sum(v => (v - mean) * (v - mean)) / (n - 1));
        q[0] = sorted[0] - (sd * 1.4901161193847656e-08);
        q[^1] = sorted[^1] + (sd * 1.4901161193847656e-08);
        int[] labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            int g = 0;
            while (g < groups - 1 && x[i] >= q[g + 1])
            {
                g++;
            }

            labels[i] = g;
        }

        return labels;
    }

    /// <summary>The agglomerated rows (increasing) and their clusters; <see cref="Fill"/> writes them as one-hot responsibilities (other rows 0).</summary>
    internal sealed class Partitioned<T>(long[] rows, int[] labels)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        private int _cursor;

        public void Fill(in DataTile<T> tile, Span<T> r)
        {
            r.Clear();
            if (tile.Start == 0)
            {
                _cursor = 0;
            }

            while (_cursor < rows.Length && rows[_cursor] < tile.Start + tile.Points)
            {
                r[labels[_cursor] * tile.Points + (int)(rows[_cursor] - tile.Start)] = T.One;
                _cursor++;
            }
        }
    }
}

/// <summary>
/// One hierarchical agglomeration shared by the fits of one data set (<see cref="FiniteMixture{T}.AgglomerationCache"/>,
/// <see cref="GaussianMixtureOptions.AgglomerationCache"/>): mclust agglomerates once for all its models and K, and a
/// model selection that agglomerated per candidate would spend most of its time there. Give one cache only to fits of the
/// same data.
/// </summary>
public sealed class AgglomerationCache
{
    /// <summary>The agglomeration once made: of N points of D features, the rows agglomerated, and the result (null if it could not run).</summary>
    internal Entry? Result { get; set; }

    private Task? _filling;

    /// <summary>Held while the cache is read or filled.</summary>
    internal object Gate { get; } = new();

    /// <summary>Whether a fit has filled the cache.</summary>
    public bool IsFilled => Result is not null;

    /// <summary>
    /// Starts making the agglomeration now, on other threads, from the data themselves, as the first fit given the cache
    /// would make it (the same rows: all up to 2,000, else a fixed random subset; without the <paramref name="excluded"/>
    /// ones); a fit that needs it meanwhile waits for it. So a model selection's first fit prepares while the agglomeration
    /// is made. Its merges are the fits' own but for rounding: a fit agglomerates its framed (centred) copy of the data,
    /// which the agglomeration standardizes in any case.
    /// </summary>
    /// <param name="data">N × D values, row-major: the data the fits will be given (read before this returns).</param>
    /// <param name="points">N (≥ 1).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="excluded">Empty, or N flags: the points left out (a noise component's starting points).</param>
    /// <param name="maxDegreeOfParallelism">The most threads the agglomeration uses (≥ 1).</param>
    /// <returns>The agglomeration's task (it never faults: data it cannot agglomerate give the fits a k-means start, as theirs would).</returns>
    /// <exception cref="ArgumentException">The shape does not fit, a value is not finite, or the cache is filled or filling.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range.</exception>
    public Task StartFill(ReadOnlySpan<double> data, int points, int features, ReadOnlySpan<bool> excluded, int maxDegreeOfParallelism)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(points, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDegreeOfParallelism, 1);
        if ((long)points * features != data.Length)
        {
            throw new ArgumentException($"Expected {points} × {features} values; got {data.Length}.", nameof(data));
        }

        if (!excluded.IsEmpty && excluded.Length != points)
        {
            throw new ArgumentException($"Expected {points} flags; got {excluded.Length}.", nameof(excluded));
        }

        bool[]? flags = excluded.IsEmpty ? null : excluded.ToArray();
        long[] rows = HierarchicalStart.Rows(points, flags);
        double[] values = new double[rows.Length * features];
        for (int j = 0; j < rows.Length; j++)
        {
            data.Slice((int)rows[j] * features, features).CopyTo(values.AsSpan(j * features, features));
        }

        if (!Kernels.Common.Reductions.AllFinite(values))
        {
            throw new ArgumentException("Every value must be finite.", nameof(data));
        }

        lock (Gate)
        {
            if (Result is not null || _filling is not null)
            {
                throw new ArgumentException("The cache is filled, or being filled, already.", nameof(data));
            }

            _filling = Task.Run(() =>
            {
                AgglomerationCache.Entry entry = HierarchicalStart.Agglomerate(points, features, rows, values, flags, maxDegreeOfParallelism);
                lock (Gate)
                {
                    Result = entry;
                }
            });
            return _filling;
        }
    }

    /// <summary>Waits for an agglomeration <see cref="StartFill"/> started.</summary>
    internal void WaitForFill() => Volatile.Read(ref _filling)?.Wait();

    internal sealed record Entry(long Points, int Features, long[] Rows, HierarchicalAgglomeration? Agglomeration, bool[]? Excluded)
    {
        /// <summary>Whether the entry is of N points of D features with these exclusions.</summary>
        public bool Matches(long points, int features, bool[]? excluded) =>
            Points == points && Features == features
            && (ReferenceEquals(Excluded, excluded) || (Excluded is not null && excluded is not null && Excluded.AsSpan().SequenceEqual(excluded)));
    }
}
