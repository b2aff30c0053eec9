using System.Numerics;
using System.Runtime.CompilerServices;
using EmKernels.Engine;
using EmKernels.Kernels;
using EmKernels.Mixtures;

namespace EmKernels.Sequences;

/// <summary>How a <see cref="HiddenMarkovModel{T}"/> starts a fit.</summary>
public enum HiddenMarkovInitialization
{
    /// <summary>Emissions from k-means on the observations (as the mixtures start), start probabilities and transition rows uniform.</summary>
    KMeans,

    /// <summary>The current parameters, as set by the caller (structural zeros in them stay zero).</summary>
    Current,
}

/// <summary>
/// A hidden Markov model trained by Baum–Welch, as a model of the engine: an observation's state depends on the
/// previous one through the transition matrix A (A[i, j] = P(z_{t+1} = j | z_t = i)), the first through the start
/// probabilities π, and the observations given the states come from a <see cref="ComponentFamily{T}"/> — the mixtures'
/// own emission families (Gaussian of every covariance type, categorical, Bernoulli, Poisson, ...), whose kernels give
/// the emission log-densities and whose statistics and M-step the emissions use unchanged.
/// </summary>
/// <typeparam name="T">float or double (the emissions' type; the recursions run in double).</typeparam>
/// <remarks>
/// <para>E-step per sequence (the engine hands whole sequences: <see cref="UsesSequences"/>): scaled forward–backward
/// (Rabiner) on the emissions shifted by their per-observation maximum, b̃_t(k) = exp(log b_k(x_t) − m_t):
/// α̂_t = (α̂_{t−1} A) ∘ b̃_t / c_t, β̂_t = A (b̃_{t+1} ∘ β̂_{t+1}) / c_{t+1}, γ_t = α̂_t ∘ β̂_t, ξ_t = α̂_t ∘ A ∘ (b̃_{t+1} ∘ β̂_{t+1})ᵀ / c_{t+1};
/// log p(x) = Σ_t (log c_t + m_t), and each observation's term log c_t + m_t = log p(x_t | x_&lt;t) is its point objective.
/// Where the scaled recursion would underflow (a normalizer below 1e-290: observations that only states the chain
/// cannot reach explain), that sequence is redone in the log domain with log-sum-exp, so no data give NaN.</para>
/// <para>M-step: the emissions' own from Σ γ-weighted statistics; π = the mean over sequences of γ₀; A[i, ·] = the
/// expected transition counts of row i normalized, a row without expected transitions unchanged. Zeros of π and A
/// stay exactly zero (structural zeros: left-right topologies). A state with no mass keeps its emission parameters.</para>
/// <para>Parameters, flat: π (K), A (K × K, row-major), then the emissions' parameters.</para>
/// </remarks>
public sealed class HiddenMarkovModel<T> : IMixtureModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>For benchmarks and tests: every sequence of this model through the log-domain recursion instead of the scaled one.</summary>
    internal bool LogDomainOnly { get; set; }

    /// <summary>Below this a scaled forward normalizer is treated as underflow (the sequence is redone in the log domain).</summary>
    private const double Underflow = 1e-290;

    [ThreadStatic]
    private static double[]? t_scratch;

    private readonly double[] _start;
    private readonly double[] _transitions;
    private readonly double[] _logStart;
    private readonly double[] _logTransitions;
    private readonly double[] _transposed;
    private readonly double[] _zeroLogWeights;
    private readonly bool[] _held;
    private readonly bool[] _degenerate;
    private readonly int _startBlock;
    private (bool Start, bool Transitions, bool Emissions) _given;
    private double _startPseudoCount;
    private double _transitionPseudoCount;

    /// <summary>K states whose observations come from <paramref name="emissions"/> (K = its components), uniform π and A until initialized.</summary>
    /// <param name="emissions">The emission family; the model owns it from now on.</param>
    /// <param name="initialization">How a fit starts.</param>
    public HiddenMarkovModel(ComponentFamily<T> emissions, HiddenMarkovInitialization initialization = HiddenMarkovInitialization.KMeans)
    {
        ArgumentNullException.ThrowIfNull(emissions);
        if (initialization is not (HiddenMarkovInitialization.KMeans or HiddenMarkovInitialization.Current))
        {
            throw new ArgumentOutOfRangeException(nameof(initialization), initialization, "Unknown initialization.");
        }

        Emissions = emissions;
        Initialization = initialization;
        int k = emissions.Components;
        _start = Enumerable.Repeat(1.0 / k, k).ToArray();
        _transitions = Enumerable.Repeat(1.0 / k, k * k).ToArray();
        _logStart = new double[k];
        _logTransitions = new double[k * k];
        _transposed = new double[k * k];
        _zeroLogWeights = new double[k];
        _held = new bool[k];
        _degenerate = new bool[k];
        IReadOnlyList<StatisticsBlock> blocks = emissions.StatisticsLayout.Blocks;
        _startBlock = blocks.Count;
        StatisticsLayout = new StatisticsLayout(
            "hmm/1+" + emissions.StatisticsLayout.Kind,
            [.. blocks, new StatisticsBlock("start-counts", k), new StatisticsBlock("transition-counts", k * k), new StatisticsBlock("sequences", 1)]);
    }

    /// <summary>The emission family (its parameters are the states' emission parameters).</summary>
    public ComponentFamily<T> Emissions { get; }

    /// <summary>How a fit starts.</summary>
    public HiddenMarkovInitialization Initialization { get; }

    /// <summary>K, the number of hidden states.</summary>
    public int Components => Emissions.Components;

    /// <inheritdoc/>
    public int Features => Emissions.Features;

    /// <summary>π, the start probabilities (K); writable before a fit with <see cref="HiddenMarkovInitialization.Current"/>.</summary>
    public Span<double> StartProbabilities => _start;

    /// <summary>A, the transition matrix (K × K, row i = from state i); writable before a fit with <see cref="HiddenMarkovInitialization.Current"/>.</summary>
    public Span<double> Transitions => _transitions;

    /// <summary>Whether the start probabilities keep their values through a fit (hmmlearn's <c>params</c> without 's').</summary>
    public bool HoldStart { get; set; }

    /// <summary>Whether the transition matrix keeps its values through a fit.</summary>
    public bool HoldTransitions { get; set; }

    /// <summary>Whether the emission parameters keep their values through a fit.</summary>
    public bool HoldEmissions { get; set; }

    /// <summary>
    /// Given before a fit with <see cref="HiddenMarkovInitialization.KMeans"/>: which parameters keep the values set
    /// (start probabilities, transitions, emissions) instead of being initialized. All three: the fit starts from them.
    /// </summary>
    /// <param name="start">The start probabilities are given.</param>
    /// <param name="transitions">The transition matrix is given.</param>
    /// <param name="emissions">The emission parameters are given.</param>
    public void SetGiven(bool start, bool transitions, bool emissions) => _given = (start, transitions, emissions);

    /// <summary>
    /// Dirichlet pseudo-counts s ≥ 0 added to the expected start counts of the states that may start (π_k &gt; 0): the
    /// M-step is then the MAP estimate under Dirichlet(1 + s), and the objective checked is the log-posterior
    /// (<see cref="ObjectiveCorrection"/>). Zeros stay zero.
    /// </summary>
    public double StartPseudoCount
    {
        get => _startPseudoCount;
        set => _startPseudoCount = value >= 0 && double.IsFinite(value) ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "A pseudo-count must be finite and non-negative.");
    }

    /// <summary>Dirichlet pseudo-counts τ ≥ 0 added to the expected counts of every allowed transition (A_ij &gt; 0) of each row, as <see cref="StartPseudoCount"/>.</summary>
    public double TransitionPseudoCount
    {
        get => _transitionPseudoCount;
        set => _transitionPseudoCount = value >= 0 && double.IsFinite(value) ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "A pseudo-count must be finite and non-negative.");
    }

    /// <summary>The emissions' free parameters, K − 1 start probabilities and K (K − 1) transition probabilities.</summary>
    public int FreeParameterCount => Emissions.FreeParameterCount + (Components - 1) + Components * (Components - 1);

    /// <inheritdoc/>
    public StatisticsLayout StatisticsLayout { get; }

    /// <inheritdoc/>
    public int ParameterLength => Components + Components * Components + Emissions.Parameters.Length;

    /// <inheritdoc/>
    public bool SupportsTranslation => Emissions.SupportsTranslation;

    /// <summary>True: each sequence's E-step needs the whole sequence.</summary>
    public bool UsesSequences => true;

    /// <inheritdoc/>
    public void Translate(ReadOnlySpan<double> offset) => Emissions.Translate(offset);

    /// <inheritdoc/>
    public int FrameScaleExponent(DataSummary? summary) => Emissions.FrameScaleExponent(summary);

    /// <inheritdoc/>
    public void ScaleFrame(int exponent) => Emissions.ScaleFrame(exponent);

    /// <inheritdoc/>
    public void ScaleWeights(int exponent) => Emissions.ScaleWeights(exponent);

    /// <inheritdoc/>
    public void WriteParameters(Span<double> destination)
    {
        int k = Components;
        _start.CopyTo(destination);
        _transitions.CopyTo(destination[k..]);
        Emissions.Parameters.CopyTo(destination[(k + k * k)..]);
    }

    /// <inheritdoc/>
    public void ReadParameters(ReadOnlySpan<double> source)
    {
        int k = Components;
        source[..k].CopyTo(_start);
        source.Slice(k, k * k).CopyTo(_transitions);
        source[(k + k * k)..ParameterLength].CopyTo(Emissions.Parameters);
    }

    /// <summary>K × B emission log-densities and K × B posteriors of a tile, then the emissions' own workspace.</summary>
    /// <param name="tilePoints">The longest tile.</param>
    /// <returns>The length.</returns>
    public int WorkspaceLength(int tilePoints) => 2 * Components * tilePoints + Emissions.WorkspaceLength(tilePoints);

    /// <summary>The emissions' checks; sample weights and known states are not supported for sequences.</summary>
    /// <param name="tile">A tile in the user's coordinates.</param>
    public void Validate(in DataTile<T> tile)
    {
        if (!tile.SampleWeights.IsEmpty)
        {
            throw new ArgumentException("A hidden Markov model takes no sample weights.", "sampleWeights");
        }

        if (!tile.Labels.IsEmpty)
        {
            throw new ArgumentException("A hidden Markov model takes no known states.", "labels");
        }

        Emissions.Validate(tile);
    }

    /// <summary>
    /// <see cref="HiddenMarkovInitialization.Current"/>: as set (true, deterministic). k-means: what is not given
    /// (<see cref="SetGiven"/>): the emissions as a mixture's k-means start sets them (then false: the start depends on
    /// the seed; discrete emissions halfway to the data's own parameters, so that no probability starts at exactly 0
    /// or 1), π and every row of A uniform.
    /// </summary>
    /// <param name="context">The data in the fit's frame.</param>
    /// <returns>Whether the start is deterministic.</returns>
    public bool Initialize(ModelInitialization<T> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (Initialization == HiddenMarkovInitialization.Current)
        {
            return true;
        }

        int k = Components;
        if (!_given.Emissions)
        {
            var mixture = new FiniteMixture<T>(Emissions, MixtureInitialization.KMeans);
            mixture.Initialize(context);
            if (Emissions is DiscreteComponents<T>)
            {
                // k-means clusters of discrete data give probabilities of exactly 0 and 1 (a cluster where a feature is
                // always 1), which Baum–Welch can never leave: each state starts halfway between its cluster's
                // parameters and the data's own (the clusters' average weighted by their sizes).
                Span<double> parameters = Emissions.Parameters;
                int block = parameters.Length / k;
                double[] overall = new double[block];
                for (int j = 0; j < k; j++)
                {
                    for (int i = 0; i < block; i++)
                    {
                        overall[i] += mixture.Weights[j] * parameters[j * block + i];
                    }
                }

                for (int j = 0; j < k; j++)
                {
                    for (int i = 0; i < block; i++)
                    {
                        parameters[j * block + i] = 0.5 * (parameters[j * block + i] + overall[i]);
                    }
                }
            }
        }

        if (!_given.Start)
        {
            Array.Fill(_start, 1.0 / k);
        }

        if (!_given.Transitions)
        {
            Array.Fill(_transitions, 1.0 / k);
        }

        return _given.Emissions;
    }

    /// <inheritdoc/>
    public void PrepareExpectation(bool reshift)
    {
        for (int i = 0; i < _start.Length; i++)
        {
            _logStart[i] = Math.Log(_start[i]);
        }

        int k = Components;
        for (int i = 0; i < _transitions.Length; i++)
        {
            _logTransitions[i] = Math.Log(_transitions[i]);
            _transposed[(i % k) * k + i / k] = _transitions[i];
        }

        Emissions.PrepareExpectation(_zeroLogWeights, reshift);
    }

    /// <inheritdoc/>
    public void AdoptShift(SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        Emissions.ReadShift(statistics.Shift);
    }

    /// <inheritdoc/>
    public void ResetStatistics(SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        Emissions.WriteShift(statistics.Shift);
        statistics.Clear();
    }

    /// <summary>The state posteriors γ (K × B, state-major) of the tile's sequences, and each observation's log p(x_t | x_&lt;t).</summary>
    /// <param name="tile">Whole sequences.</param>
    /// <param name="responsibilities">K × B, written.</param>
    /// <param name="pointLogLikelihoods">B, written.</param>
    /// <param name="workspace">At least <see cref="WorkspaceLength"/> of the tile's points; may start with <paramref name="responsibilities"/>.</param>
    /// <returns>Σ over the tile's sequences of log p(x_s).</returns>
    public double Posterior(in DataTile<T> tile, Span<T> responsibilities, Span<T> pointLogLikelihoods, Span<T> workspace) =>
        Run(tile, responsibilities, pointLogLikelihoods, workspace, null);

    /// <inheritdoc/>
    public double Expectation(in DataTile<T> tile, SufficientStatistics? statistics, Span<T> workspace, Span<T> pointObjectives)
    {
        int k = Components;
        Span<T> gamma = workspace[..(k * tile.Points)];
        double objective = Run(tile, gamma, pointObjectives, workspace, statistics);
        if (statistics is not null)
        {
            Emissions.AccumulateWithMasses(tile, gamma, statistics);
        }

        return objective;
    }

    /// <summary>The emissions' M-step, then π and A from the expected start and transition counts; no state is re-seeded.</summary>
    /// <param name="statistics">The merged statistics.</param>
    /// <param name="context">The M-step context (unused: a state without mass keeps its parameters).</param>
    /// <returns>False: nothing was re-seeded.</returns>
    public bool Maximize(SufficientStatistics statistics, MaximizationContext context)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        int k = Components;
        Array.Clear(_degenerate);
        Array.Fill(_held, HoldEmissions);
        Emissions.Maximize(statistics, _held, _degenerate);
        ReadOnlySpan<double> starts = statistics.Block(_startBlock);
        ReadOnlySpan<double> counts = statistics.Block(_startBlock + 1);
        if (!HoldStart)
        {
            Normalize(starts, _start, _startPseudoCount);
        }

        if (!HoldTransitions)
        {
            for (int i = 0; i < k; i++)
            {
                Normalize(counts.Slice(i * k, k), _transitions.AsSpan(i * k, k), _transitionPseudoCount);
            }
        }

        return false;
    }

    /// <summary>The emissions' correction plus the Dirichlet log-priors of the pseudo-counts: s Σ log π_k + τ Σ log A_ij over the entries allowed.</summary>
    /// <returns>The correction.</returns>
    public double ObjectiveCorrection()
    {
        double correction = Emissions.ObjectiveCorrection();
        correction += LogPrior(_start, _startPseudoCount) + LogPrior(_transitions, _transitionPseudoCount);
        return correction;
    }

    private static double LogPrior(ReadOnlySpan<double> probabilities, double pseudoCount)
    {
        double sum = 0;
        if (pseudoCount > 0)
        {
            foreach (double p in probabilities)
            {
                sum += p > 0 ? pseudoCount * Math.Log(p) : 0;
            }
        }

        return sum;
    }

    /// <summary>
    /// probabilities ∝ counts + pseudo-count on the entries that are not structural zeros; unchanged when there is
    /// nothing to normalize (a row without expected transitions and no pseudo-counts).
    /// </summary>
    private static void Normalize(ReadOnlySpan<double> counts, Span<double> probabilities, double pseudoCount)
    {
        double total = 0;
        for (int j = 0; j < counts.Length; j++)
        {
            total += counts[j] + (probabilities[j] > 0 ? pseudoCount : 0);
        }

        if (!(total > 0))
        {
            return;
        }

        for (int j = 0; j < counts.Length; j++)
        {
            probabilities[j] = probabilities[j] > 0 || counts[j] > 0 ? (counts[j] + (probabilities[j] > 0 ? pseudoCount : 0)) / total : 0;
        }
    }

    /// <inheritdoc/>
    public double ObjectiveRoundingError() => Emissions.ObjectiveRoundingError();

    /// <summary>False: Baum–Welch's statistics have no closed form under the parameters alone.</summary>
    /// <param name="statistics">Unused.</param>
    /// <returns>False.</returns>
    public bool TryWriteImpliedStatistics(SufficientStatistics statistics) => false;

    /// <summary>
    /// The most likely state path of each sequence (Viterbi, log domain; ties to the lower state) and the sum over
    /// sequences of its log-probability joint with the observations, under the current parameters.
    /// </summary>
    /// <param name="data">N × D observations, row-major, the sequences one after another.</param>
    /// <param name="points">N.</param>
    /// <param name="lengths">The sequence lengths (sum N); empty: one sequence.</param>
    /// <param name="path">N states, written.</param>
    /// <returns>Σ_s max_z log p(x_s, z).</returns>
    /// <exception cref="ArgumentException">A length does not match the shape, or a value is invalid for the emissions.</exception>
    public double Decode(ReadOnlySpan<T> data, int points, ReadOnlySpan<int> lengths, Span<int> path)
    {
        int k = Components, d = Features;
        if ((long)points * d != data.Length)
        {
            throw new ArgumentException($"Expected {points} × {d} values, got {data.Length}.", nameof(data));
        }

        if (path.Length != points)
        {
            throw new ArgumentException($"Expected room for {points} states, got {path.Length}.", nameof(path));
        }

        int[] sequenceLengths = lengths.IsEmpty ? [points] : lengths.ToArray();
        if (sequenceLengths.Any(l => l < 1) || sequenceLengths.Sum(l => (long)l) != points)
        {
            throw new ArgumentException("The sequence lengths must be at least 1 each and sum to the number of points.", nameof(lengths));
        }

        PrepareExpectation(reshift: false);
        double total = 0;
        int offset = 0;
        foreach (int length in sequenceLengths)
        {
            T[] values = new T[length * d];
            for (int t = 0; t < length; t++)
            {
                for (int f = 0; f < d; f++)
                {
                    values[f * length + t] = data[(offset + t) * d + f];
                }
            }

            var tile = new DataTile<T>(values, d, length, length, offset);
            Emissions.Validate(tile);
            T[] logB = new T[k * length];
            Emissions.LogProbabilities(tile, logB, new T[Math.Max(Emissions.WorkspaceLength(length), 1)]);
            total += Viterbi(logB, length, path.Slice(offset, length));
            offset += length;
        }

        return total;
    }

    private double Viterbi(ReadOnlySpan<T> logB, int length, Span<int> path)
    {
        int k = Components;
        double[] delta = new double[k * length];
        int[] from = new int[k * length];
        for (int j = 0; j < k; j++)
        {
            delta[j] = _logStart[j] + double.CreateTruncating(logB[j * length]);
        }

        for (int t = 1; t < length; t++)
        {
            for (int j = 0; j < k; j++)
            {
                double best = double.NegativeInfinity;
                int arg = 0;
                for (int i = 0; i < k; i++)
                {
                    double value = delta[(t - 1) * k + i] + _logTransitions[i * k + j];
                    if (value > best)
                    {
                        best = value;
                        arg = i;
                    }
                }

                delta[t * k + j] = best + double.CreateTruncating(logB[j * length + t]);
                from[t * k + j] = arg;
            }
        }

        int state = 0;
        for (int j = 1; j < k; j++)
        {
            if (delta[(length - 1) * k + j] > delta[(length - 1) * k + state])
            {
                state = j;
            }
        }

        double result = delta[(length - 1) * k + state];
        for (int t = length - 1; t >= 0; t--)
        {
            path[t] = state;
            state = from[t * k + state];
        }

        return result;
    }

    /// <summary>Forward–backward over every sequence of the tile: γ into <paramref name="gamma"/>, and, given statistics, the start and transition counts.</summary>
    private double Run(in DataTile<T> tile, Span<T> gamma, Span<T> pointObjectives, Span<T> workspace, SufficientStatistics? statistics)
    {
        int k = Components, b = tile.Points;
        // The emissions normalized per observation, ρ_t(k) = b_k(x_t) / Σ_j b_j(x_t), by the mixtures' vectorized kernel,
        // and ℓ_t = log Σ_j b_j(x_t) (into the point objectives until the recursion replaces them).
        Span<T> emissions = workspace.Slice(k * b, k * b);
        Emissions.LogProbabilities(tile, emissions, workspace[(2 * k * b)..]);
        MixtureKernels.Responsibilities<T>(emissions, k, b, pointObjectives[..b], default);
        ReadOnlySpan<int> lengths = tile.SequenceLengths;
        Span<double> starts = statistics is null ? default : statistics.Block(_startBlock);
        Span<double> counts = statistics is null ? default : statistics.Block(_startBlock + 1);
        double objective = 0;
        int offset = 0;
        int sequences = lengths.IsEmpty ? 1 : lengths.Length;
        for (int s = 0; s < sequences; s++)
        {
            int length = lengths.IsEmpty ? b : lengths[s];
            double? scaled = LogDomainOnly ? null : Scaled(emissions, b, offset, length, gamma, pointObjectives, starts, counts);
            if (scaled is null)
            {
                // Rare: the log-densities again, for this sequence alone.
                T[] logs = new T[k * length];
                Emissions.LogProbabilities(tile.Slice(offset, length), logs, new T[Math.Max(Emissions.WorkspaceLength(length), 1)]);
                scaled = LogDomain(logs, length, b, offset, length, gamma, pointObjectives, starts, counts);
            }

            objective += scaled.Value;
            offset += length;
        }

        if (statistics is not null)
        {
            statistics.Block(_startBlock + 2)[0] += sequences;
        }

        return objective;
    }

    /// <summary>Scratch of at least <paramref name="length"/> doubles on this thread (grown, never shrunk).</summary>
    private static double[] Scratch(long length)
    {
        double[]? scratch = t_scratch;
        if (scratch is null || scratch.Length < length)
        {
            scratch = new double[Math.Max(length, 2 * (scratch?.Length ?? 0))];
            t_scratch = scratch;
        }

        return scratch;
    }

    /// <summary>
    /// Scaled forward–backward of one sequence from the normalized emissions ρ (state-major, stride <paramref name="b"/>)
    /// and ℓ_t (in <paramref name="pointObjectives"/>); null (nothing added to the counts) if a normalizer underflows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private double? Scaled(ReadOnlySpan<T> rho, int b, int offset, int length, Span<T> gamma, Span<T> pointObjectives, Span<double> starts, Span<double> counts)
    {
        int k = Components;
        double[] scratch = Scratch(2L * k * length + length + 2L * k + (long)k * k);
        Span<double> alpha = scratch.AsSpan(0, k * length);            // α̂_t(k) at t·K + k
        Span<double> emission = scratch.AsSpan(k * length, k * length); // ρ_t(k) at t·K + k
        Span<double> scale = scratch.AsSpan(2 * k * length, length);
        Span<double> beta = scratch.AsSpan(2 * k * length + length, k);
        Span<double> next = scratch.AsSpan(2 * k * length + length + k, k);
        Span<double> outer = scratch.AsSpan(2 * k * length + length + 2 * k, k * k); // Σ_t α̂_t ⊗ (ρ_{t+1} ∘ β̂_{t+1} / c_{t+1})
        ReadOnlySpan<double> a = _transitions, transposed = _transposed;
        double logLikelihood = 0;
        for (int t = 0; t < length; t++)
        {
            Span<double> e = emission.Slice(t * k, k);
            for (int j = 0; j < k; j++)
            {
                e[j] = double.CreateTruncating(rho[j * b + offset + t]);
            }

            Span<double> current = alpha.Slice(t * k, k);
            if (t == 0)
            {
                for (int j = 0; j < k; j++)
                {
                    current[j] = _start[j] * e[j];
                }
            }
            else
            {
                MarkovKernels.VectorTimesMatrix(alpha.Slice((t - 1) * k, k), a, current);
                for (int j = 0; j < k; j++)
                {
                    current[j] *= e[j];
                }
            }

            double c = 0;
            foreach (double value in current)
            {
                c += value;
            }

            if (!(c >= Underflow) || double.IsInfinity(c))
            {
                return null;
            }

            double inverse = 1 / c;
            for (int j = 0; j < k; j++)
            {
                current[j] *= inverse;
            }

            scale[t] = c;
            double term = Math.Log(c) + double.CreateTruncating(pointObjectives[offset + t]);
            if (!double.IsFinite(term))
            {
                return null;
            }

            pointObjectives[offset + t] = T.CreateTruncating(term);
            logLikelihood += term;
        }

        // Backward, with γ and the expected transitions on the way: β̂_t = A (ρ_{t+1} ∘ β̂_{t+1}) / c_{t+1}.
        beta.Fill(1);
        bool counting = !counts.IsEmpty;
        if (counting)
        {
            outer.Clear();
        }

        for (int j = 0; j < k; j++)
        {
            gamma[j * b + offset + length - 1] = T.CreateTruncating(alpha[(length - 1) * k + j]);
        }

        for (int t = length - 2; t >= 0; t--)
        {
            ReadOnlySpan<double> e = emission.Slice((t + 1) * k, k);
            double inverse = 1 / scale[t + 1];
            for (int j = 0; j < k; j++)
            {
                next[j] = e[j] * beta[j] * inverse;
            }

            // β̂_t = A next = nextᵀ Aᵀ, vectorized across states.
            ReadOnlySpan<double> current = alpha.Slice(t * k, k);
            MarkovKernels.VectorTimesMatrix(next, transposed, beta);
            if (counting)
            {
                MarkovKernels.AddOuterProduct(current, next, outer);
            }

            for (int i = 0; i < k; i++)
            {
                gamma[i * b + offset + t] = T.CreateTruncating(current[i] * beta[i]);
            }
        }

        if (counting)
        {
            // ξ summed over t: A_ij · Σ_t α̂_t(i) ρ_{t+1}(j) β̂_{t+1}(j) / c_{t+1}.
            for (int i = 0; i < k * k; i++)
            {
                counts[i] += a[i] * outer[i];
            }
        }

        if (!starts.IsEmpty)
        {
            for (int j = 0; j < k; j++)
            {
                starts[j] += double.CreateTruncating(gamma[j * b + offset]);
            }
        }

        return logLikelihood;
    }

    /// <summary>Forward–backward of one sequence in the log domain (FORMAT of the fixtures, §6.2): slower, never underflows.</summary>
    private double LogDomain(ReadOnlySpan<T> logB, int logStride, int b, int offset, int length, Span<T> gamma, Span<T> pointObjectives, Span<double> starts, Span<double> counts)
    {
        int k = Components;
        double[] scratch = Scratch(2L * k * length + k);
        Span<double> alpha = scratch.AsSpan(0, k * length);
        Span<double> beta = scratch.AsSpan(k * length, k * length);
        Span<double> terms = scratch.AsSpan(2 * k * length, k);
        double previousTotal = 0;
        for (int t = 0; t < length; t++)
        {
            for (int j = 0; j < k; j++)
            {
                if (t == 0)
                {
                    alpha[j] = _logStart[j] + double.CreateTruncating(logB[j * logStride]);
                    continue;
                }

                for (int i = 0; i < k; i++)
                {
                    terms[i] = alpha[(t - 1) * k + i] + _logTransitions[i * k + j];
                }

                alpha[t * k + j] = LogSumExp(terms) + double.CreateTruncating(logB[j * logStride + t]);
            }

            // Each observation's term: the growth of log p(x_0..t).
            double total = LogSumExp(alpha.Slice(t * k, k));
            pointObjectives[offset + t] = T.CreateTruncating(total - previousTotal);
            previousTotal = total;
        }

        double logLikelihood = previousTotal;
        beta.Slice((length - 1) * k, k).Clear();
        for (int t = length - 2; t >= 0; t--)
        {
            for (int i = 0; i < k; i++)
            {
                for (int j = 0; j < k; j++)
                {
                    terms[j] = _logTransitions[i * k + j] + double.CreateTruncating(logB[j * logStride + t + 1]) + beta[(t + 1) * k + j];
                }

                beta[t * k + i] = LogSumExp(terms);
            }
        }

        for (int t = 0; t < length; t++)
        {
            for (int j = 0; j < k; j++)
            {
                gamma[j * b + offset + t] = T.CreateTruncating(Math.Exp(alpha[t * k + j] + beta[t * k + j] - logLikelihood));
            }

            if (!counts.IsEmpty && t < length - 1)
            {
                for (int i = 0; i < k; i++)
                {
                    for (int j = 0; j < k; j++)
                    {
                        counts[i * k + j] += Math.Exp(alpha[t * k + i] + _logTransitions[i * k + j] + double.CreateTruncating(logB[j * logStride + t + 1]) + beta[(t + 1) * k + j] - logLikelihood);
                    }
                }
            }
        }

        if (!starts.IsEmpty)
        {
            for (int j = 0; j < k; j++)
            {
                starts[j] += double.CreateTruncating(gamma[j * b + offset]);
            }
        }

        return logLikelihood;
    }

    private static double LogSumExp(ReadOnlySpan<double> values)
    {
        double max = double.NegativeInfinity;
        foreach (double v in values)
        {
            max = Math.Max(max, v);
        }

        if (double.IsNegativeInfinity(max))
        {
            return max;
        }

        double sum = 0;
        foreach (double v in values)
        {
            sum += Math.Exp(v - max);
        }

        return max + Math.Log(sum);
    }
}
