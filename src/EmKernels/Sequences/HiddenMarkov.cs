using System.Numerics;
using EmKernels.Engine;
using EmKernels.Mixtures;

namespace EmKernels.Sequences;

/// <summary>The emission distribution of every state of a hidden Markov model.</summary>
public enum HiddenMarkovEmission
{
    /// <summary>Gaussian, of the covariance type <see cref="HiddenMarkovOptions.CovarianceType"/>.</summary>
    Gaussian,

    /// <summary>Each feature an independent categorical variable with codes 0 … C − 1 (<see cref="HiddenMarkovOptions.Categories"/>).</summary>
    Categorical,

    /// <summary>Each feature an independent 0/1 variable.</summary>
    Bernoulli,

    /// <summary>Each feature an independent Poisson count.</summary>
    Poisson,
}

/// <summary>Options of <see cref="HiddenMarkov{T}"/> (defaults in the spirit of hmmlearn and of this library's mixtures).</summary>
public sealed record HiddenMarkovOptions
{
    /// <summary>K, the number of hidden states (≥ 1).</summary>
    public int States { get; init; } = 2;

    /// <summary>The emission distribution.</summary>
    public HiddenMarkovEmission Emission { get; init; } = HiddenMarkovEmission.Gaussian;

    /// <summary>Gaussian emissions: the covariance type (diagonal by default, as hmmlearn's GaussianHMM).</summary>
    public CovarianceType CovarianceType { get; init; } = CovarianceType.Diagonal;

    /// <summary>Categorical emissions: C, the number of categories of every feature (≥ 2).</summary>
    public int Categories { get; init; } = 2;

    /// <summary>Gaussian emissions: reg_covar added to every covariance diagonal in every M-step (≥ 0).</summary>
    public double RegCovar { get; init; } = 1e-6;

    /// <summary>Baum–Welch iterations at most (≥ 0; 0 evaluates the start).</summary>
    public int MaxIterations { get; init; } = 100;

    /// <summary>Stop when the mean log-likelihood per observation changes by less than this (≥ 0).</summary>
    public double Tolerance { get; init; } = 1e-6;

    /// <summary>Runs from different k-means starts; the best log-likelihood is kept (≥ 1).</summary>
    public int Restarts { get; init; } = 1;

    /// <summary>Random seed (the same seed gives the same fit); null: a random one.</summary>
    public int? Seed { get; init; }

    /// <summary>Threads at most (results do not depend on it); null: every core.</summary>
    public int? MaxDegreeOfParallelism { get; init; }

    /// <summary>Start probabilities π (K) to start from instead of uniform; their zeros stay zero.</summary>
    public double[]? InitialStartProbabilities { get; init; }

    /// <summary>Transition matrix A (K × K, row-major, rows summing to 1) to start from instead of uniform rows; its zeros stay zero (left-right topologies).</summary>
    public double[]? InitialTransitions { get; init; }

    /// <summary>Gaussian emissions: K × D means to start from (with <see cref="InitialCovariances"/>) instead of k-means.</summary>
    public double[]? InitialMeans { get; init; }

    /// <summary>Gaussian emissions: covariances to start from, in the covariance type's layout (full K × D × D, diagonal K × D, tied D × D, spherical K).</summary>
    public double[]? InitialCovariances { get; init; }

    /// <summary>Discrete emissions: probabilities (categorical K × D × C, Bernoulli K × D) or rates (Poisson K × D) to start from instead of k-means.</summary>
    public double[]? InitialEmissionParameters { get; init; }

    /// <summary>Keep the start probabilities at their start (hmmlearn's <c>params</c> without 's').</summary>
    public bool FixStartProbabilities { get; init; }

    /// <summary>Keep the transition matrix at its start.</summary>
    public bool FixTransitions { get; init; }

    /// <summary>Keep the emission parameters at their start.</summary>
    public bool FixEmissions { get; init; }

    /// <summary>Dirichlet pseudo-counts added to the expected start counts (MAP; 0: maximum likelihood).</summary>
    public double StartPseudoCount { get; init; }

    /// <summary>Dirichlet pseudo-counts added to the expected counts of every allowed transition (MAP; 0: maximum likelihood).</summary>
    public double TransitionPseudoCount { get; init; }

    /// <summary>Receives every iteration's progress.</summary>
    public IProgress<FitProgress>? Progress { get; init; }

    /// <summary>Cancels the fit.</summary>
    public CancellationToken CancellationToken { get; init; }
}

/// <summary>
/// Hidden Markov models by Baum–Welch (see <see cref="HiddenMarkovModel{T}"/> for the algorithm): the estimator. Data are
/// one or many sequences of observations, row-major, one after another, with their lengths.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
/// <example>
/// <code>
/// var hmm = new HiddenMarkov&lt;double&gt;(new HiddenMarkovOptions { States = 4, Seed = 0 }).Fit(x, n, d, lengths);
/// int[] path = hmm.Decode(x, n, lengths, out double logProbability);
/// </code>
/// </example>
public sealed class HiddenMarkov<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>An estimator with the given options (checked when fitting).</summary>
    /// <param name="options">The options.</param>
    public HiddenMarkov(HiddenMarkovOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
    }

    /// <summary>The options.</summary>
    public HiddenMarkovOptions Options { get; }

    /// <summary>Fits sequences held in memory (row-major; copied once into the feature-major layout).</summary>
    /// <param name="data">N × D observations.</param>
    /// <param name="points">N.</param>
    /// <param name="features">D.</param>
    /// <param name="lengths">The sequence lengths, summing to N (empty: one sequence).</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">A shape, an option or a value is invalid; the message names it.</exception>
    public HiddenMarkovFit<T> Fit(ReadOnlyMemory<T> data, int points, int features, ReadOnlySpan<int> lengths = default)
    {
        DataSource<T> source = new InMemoryDataSource<T>(data.Span, points, features);
        return Fit(lengths.IsEmpty ? source : new SequenceDataSource<T>(source, lengths));
    }

    /// <summary>Fits sequences given one array each (sequence s: its L_s × D observations, row-major).</summary>
    /// <param name="sequences">S ≥ 1 sequences, each a non-empty multiple of <paramref name="features"/> values long.</param>
    /// <param name="features">D.</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">A sequence is empty or not a whole number of observations; an option or a value is invalid.</exception>
    public HiddenMarkovFit<T> Fit(T[][] sequences, int features)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        if (sequences.Length == 0)
        {
            throw new ArgumentException("Give at least one sequence.", nameof(sequences));
        }

        int[] lengths = new int[sequences.Length];
        long total = 0;
        for (int s = 0; s < sequences.Length; s++)
        {
            if (sequences[s] is null || sequences[s].Length == 0 || sequences[s].Length % features != 0)
            {
                throw new ArgumentException($"Sequence {s} holds {sequences[s]?.Length ?? 0} values; each must be a non-empty whole number of observations of {features} values.", nameof(sequences));
            }

            lengths[s] = sequences[s].Length / features;
            total += sequences[s].Length;
        }

        T[] data = new T[checked((int)total)];
        int at = 0;
        foreach (T[] sequence in sequences)
        {
            sequence.CopyTo(data, at);
            at += sequence.Length;
        }

        return Fit(data, (int)(total / features), features, lengths);
    }

    /// <summary>Fits a data source (its <see cref="DataSource{T}.SequenceLengths"/> give the sequences; none: one sequence).</summary>
    /// <param name="data">The observations.</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">An option or a value is invalid; the message names it.</exception>
    public HiddenMarkovFit<T> Fit(DataSource<T> data)
    {
        ArgumentNullException.ThrowIfNull(data);
        HiddenMarkovOptions o = Options;
        int k = o.States, d = data.Features;
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1, "options.States");
        ArgumentOutOfRangeException.ThrowIfNegative(o.MaxIterations, "options.MaxIterations");
        ArgumentOutOfRangeException.ThrowIfLessThan(o.Restarts, 1, "options.Restarts");
        if (!(o.Tolerance >= 0))
        {
            throw new ArgumentOutOfRangeException("options.Tolerance", o.Tolerance, "The tolerance must be non-negative.");
        }

        HiddenMarkovModel<T> model = HiddenMarkovFit<T>.CreateModel(o.Emission, o.CovarianceType, o.Categories, o.RegCovar, k, d, HiddenMarkovInitialization.KMeans);
        (bool startGiven, bool transitionsGiven, bool emissionsGiven) = CheckParameters(model, o, requireEmissions: false);
        model.SetGiven(startGiven, transitionsGiven, emissionsGiven);
        model.HoldStart = o.FixStartProbabilities;
        model.HoldTransitions = o.FixTransitions;
        model.HoldEmissions = o.FixEmissions;
        model.StartPseudoCount = o.StartPseudoCount;
        model.TransitionPseudoCount = o.TransitionPseudoCount;
        ExpectationMaximizationResult result = ExpectationMaximization.Fit(model, data, new ExpectationMaximizationOptions
        {
            MaxIterations = o.MaxIterations,
            Tolerance = o.Tolerance,
            Restarts = o.Restarts,
            Seed = o.Seed,
            MaxDegreeOfParallelism = o.MaxDegreeOfParallelism,
            Progress = o.Progress,
            CancellationToken = o.CancellationToken,
        });
        return new HiddenMarkovFit<T>(model, o, result);
    }

    /// <summary>Copies the given parameters of the options into the model, checked; which were given.</summary>
    internal static (bool Start, bool Transitions, bool Emissions) CheckParameters(HiddenMarkovModel<T> model, HiddenMarkovOptions o, bool requireEmissions)
    {
        int k = model.Components;
        bool startGiven = Given(o.InitialStartProbabilities, k, "options.InitialStartProbabilities", model.StartProbabilities);
        bool transitionsGiven = Given(o.InitialTransitions, k * k, "options.InitialTransitions", model.Transitions);
        if (transitionsGiven)
        {
            for (int i = 0; i < k; i++)
            {
                CheckDistribution(model.Transitions.Slice(i * k, k), "options.InitialTransitions", $"row {i}");
            }
        }

        if (startGiven)
        {
            CheckDistribution(model.StartProbabilities, "options.InitialStartProbabilities", "the start probabilities");
        }

        bool emissionsGiven = GiveEmissions(model, o);
        if (requireEmissions && !emissionsGiven)
        {
            throw new ArgumentException("Give the emission parameters.", model.Emissions is GaussianComponents<T> ? "means" : "emissionParameters");
        }

        if (emissionsGiven && model.Emissions is not GaussianComponents<T>)
        {
            foreach (double value in model.Emissions.Parameters)
            {
                if (!(value >= 0) || double.IsInfinity(value) || (o.Emission != HiddenMarkovEmission.Poisson && value > 1))
                {
                    throw new ArgumentException($"An emission parameter is {value}; probabilities lie in [0, 1] and rates are finite and non-negative.", "options.InitialEmissionParameters");
                }
            }
        }

        if (emissionsGiven && o.Emission == HiddenMarkovEmission.Categorical)
        {
            ReadOnlySpan<double> p = model.Emissions.Parameters;
            for (int block = 0; block < p.Length / o.Categories; block++)
            {
                CheckDistribution(p.Slice(block * o.Categories, o.Categories), "options.InitialEmissionParameters", $"state {block / model.Features}, feature {block % model.Features}");
            }
        }

        return (startGiven, transitionsGiven, emissionsGiven);
    }

    private static bool Given(double[]? values, int length, string name, Span<double> destination)
    {
        if (values is null)
        {
            return false;
        }

        if (values.Length != length)
        {
            throw new ArgumentException($"Expected {length} values, got {values.Length}.", name);
        }

        values.CopyTo(destination);
        return true;
    }

    private static void CheckDistribution(ReadOnlySpan<double> probabilities, string name, string what)
    {
        double sum = 0;
        foreach (double p in probabilities)
        {
            if (!(p >= 0 && p <= 1))
            {
                throw new ArgumentException($"{what} holds {p}; probabilities must lie in [0, 1].", name);
            }

            sum += p;
        }

        if (Math.Abs(sum - 1) > 1e-6)
        {
            throw new ArgumentException($"{what} sums to {sum}; it must sum to 1.", name);
        }
    }

    private static bool GiveEmissions(HiddenMarkovModel<T> model, HiddenMarkovOptions o)
    {
        if (model.Emissions is GaussianComponents<T> gaussian)
        {
            if (o.InitialMeans is null && o.InitialCovariances is null)
            {
                return false;
            }

            if (o.InitialMeans is null || o.InitialCovariances is null)
            {
                throw new ArgumentException("Give the initial means and covariances together.", o.InitialMeans is null ? "options.InitialMeans" : "options.InitialCovariances");
            }

            Given(o.InitialMeans, gaussian.Means.Length, "options.InitialMeans", gaussian.Means);
            Given(o.InitialCovariances, gaussian.Covariances.Length, "options.InitialCovariances", gaussian.Covariances);
            return true;
        }

        return Given(o.InitialEmissionParameters, model.Emissions.Parameters.Length, "options.InitialEmissionParameters", model.Emissions.Parameters);
    }
}
