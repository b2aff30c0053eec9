using System.Numerics;
using EmKernels.Engine;
using EmKernels.Mixtures;

namespace EmKernels.Sequences;

/// <summary>
/// A fitted hidden Markov model: its parameters, how the fit went, and what it says about sequences — the
/// log-likelihood, each observation's log p(x_t | x_&lt;t), the state posteriors, the most likely state paths, and draws.
/// Data are given as the fit took them: row-major observations with their sequence lengths (empty: one sequence).
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class HiddenMarkovFit<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly double[] _start;
    private readonly double[] _transitions;
    private readonly double[] _emissions;

    internal HiddenMarkovFit(HiddenMarkovModel<T> model, HiddenMarkovOptions options, ExpectationMaximizationResult result)
    {
        Options = options;
        States = model.Components;
        Features = model.Features;
        _start = model.StartProbabilities.ToArray();
        _transitions = model.Transitions.ToArray();
        _emissions = model.Emissions.Parameters.ToArray();
        if (model.Emissions is GaussianComponents<T> gaussian)
        {
            Means = gaussian.Means.ToArray();
            Covariances = gaussian.Covariances.ToArray();
        }

        ParameterCount = model.FreeParameterCount;
        MeanLogLikelihoodHistory = result.ObjectiveHistory;
        Iterations = result.Iterations;
        Converged = result.Converged;
        LikelihoodDecreases = result.Decreases;
        TrainingPoints = result.Summary.Points;
    }

    private HiddenMarkovFit(HiddenMarkovOptions options, int features, double[] start, double[] transitions, double[] emissions, double[] means, double[] covariances, int parameterCount)
    {
        Options = options;
        States = options.States;
        Features = features;
        _start = start;
        _transitions = transitions;
        _emissions = emissions;
        Means = means;
        Covariances = covariances;
        ParameterCount = parameterCount;
        MeanLogLikelihoodHistory = [double.NaN];
        LikelihoodDecreases = [];
    }

    /// <summary>
    /// A model from its parameters (a stored model, or one built by hand), checked: probabilities in [0, 1] with rows
    /// summing to 1, emission parameters valid for their family (covariances positive definite, rates non-negative, ...).
    /// It has no training history (<see cref="MeanLogLikelihood"/> is NaN, <see cref="TrainingPoints"/> 0).
    /// </summary>
    /// <param name="options">The emission kind, covariance type, categories and K (<see cref="HiddenMarkovOptions.States"/>); the rest is unused.</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="startProbabilities">π (K).</param>
    /// <param name="transitions">A (K × K).</param>
    /// <param name="emissionParameters">Discrete emissions: probabilities or rates in the family's layout; Gaussian: ignored (give means and covariances).</param>
    /// <param name="means">Gaussian: K × D means.</param>
    /// <param name="covariances">Gaussian: covariances in the covariance type's layout.</param>
    /// <returns>The model.</returns>
    /// <exception cref="ArgumentException">A parameter is invalid; the message names it.</exception>
    public static HiddenMarkovFit<T> FromParameters(
        HiddenMarkovOptions options, int features, double[] startProbabilities, double[] transitions, double[]? emissionParameters = null, double[]? means = null, double[]? covariances = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(startProbabilities);
        ArgumentNullException.ThrowIfNull(transitions);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.States, 1, "options.States");
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        int k = options.States;
        HiddenMarkovModel<T> model = CreateModel(options.Emission, options.CovarianceType, options.Categories, options.RegCovar, k, features, HiddenMarkovInitialization.Current);
        HiddenMarkov<T>.CheckParameters(model, options with
        {
            InitialStartProbabilities = startProbabilities,
            InitialTransitions = transitions,
            InitialEmissionParameters = emissionParameters,
            InitialMeans = means,
            InitialCovariances = covariances,
        }, requireEmissions: true);
        try
        {
            model.PrepareExpectation(reshift: true);
        }
        catch (InvalidOperationException e)
        {
            throw new ArgumentException($"The emission parameters are not valid: {e.Message}", options.Emission == HiddenMarkovEmission.Gaussian ? nameof(covariances) : nameof(emissionParameters), e);
        }

        return new HiddenMarkovFit<T>(
            options, features, model.StartProbabilities.ToArray(), model.Transitions.ToArray(), model.Emissions.Parameters.ToArray(),
            model.Emissions is GaussianComponents<T> g ? g.Means.ToArray() : [], model.Emissions is GaussianComponents<T> h ? h.Covariances.ToArray() : [], model.FreeParameterCount);
    }

    /// <summary>The options of the fit.</summary>
    public HiddenMarkovOptions Options { get; }

    /// <summary>K.</summary>
    public int States { get; }

    /// <summary>D.</summary>
    public int Features { get; }

    /// <summary>π, the start probabilities (K).</summary>
    public ReadOnlySpan<double> StartProbabilities => _start;

    /// <summary>A, the transition matrix (K × K, row i = from state i).</summary>
    public ReadOnlySpan<double> Transitions => _transitions;

    /// <summary>Gaussian emissions: the means (K × D); empty otherwise.</summary>
    public double[] Means { get; } = [];

    /// <summary>Gaussian emissions: the covariances in the covariance type's layout; empty otherwise.</summary>
    public double[] Covariances { get; } = [];

    /// <summary>The emission parameters in the emission family's layout (discrete: probabilities or rates, K × D (× C)).</summary>
    public ReadOnlySpan<double> EmissionParameters => _emissions;

    /// <summary>Free parameters: the emissions', K − 1 start and K (K − 1) transition probabilities.</summary>
    public int ParameterCount { get; }

    /// <summary>The mean log-likelihood per observation before each iteration and after the last (MAP: plus the log-prior per observation).</summary>
    public double[] MeanLogLikelihoodHistory { get; }

    /// <summary>The final mean log-likelihood per observation.</summary>
    public double MeanLogLikelihood => MeanLogLikelihoodHistory[^1];

    /// <summary>Iterations run (of the kept restart).</summary>
    public int Iterations { get; }

    /// <summary>Whether the tolerance was reached.</summary>
    public bool Converged { get; }

    /// <summary>Decreases of the objective beyond rounding (none for a correct EM; reported, never hidden).</summary>
    public LikelihoodDecrease[] LikelihoodDecreases { get; }

    /// <summary>N of the training data.</summary>
    public long TrainingPoints { get; }

    /// <summary>Bayesian information criterion on the training data: −2 N L + p ln N.</summary>
    public double TrainingBic => -2 * TrainingPoints * MeanLogLikelihood + ParameterCount * Math.Log(TrainingPoints);

    /// <summary>Akaike information criterion on the training data: −2 N L + 2 p.</summary>
    public double TrainingAic => -2 * TrainingPoints * MeanLogLikelihood + 2 * ParameterCount;

    /// <summary>Each observation's log p(x_t | x_0 … x_{t−1}) within its sequence; a sequence's sum is its log-likelihood.</summary>
    /// <param name="data">N × D observations, row-major.</param>
    /// <param name="points">N.</param>
    /// <param name="lengths">Sequence lengths summing to N (empty: one sequence).</param>
    /// <returns>N values.</returns>
    public double[] ScoreSamples(ReadOnlySpan<T> data, int points, ReadOnlySpan<int> lengths = default)
    {
        double[] scores = new double[points];
        ExpectationMaximization.Evaluate(ToModel(), Source(data, points, lengths), scores, null, null);
        return scores;
    }

    /// <summary>The mean log-likelihood per observation of the sequences.</summary>
    /// <param name="data">N × D observations, row-major.</param>
    /// <param name="points">N (≥ 1).</param>
    /// <param name="lengths">Sequence lengths summing to N (empty: one sequence).</param>
    /// <returns>Σ_s log p(x_s) / N.</returns>
    public double Score(ReadOnlySpan<T> data, int points, ReadOnlySpan<int> lengths = default) => ScoreSamples(data, points, lengths).Average();

    /// <summary>The state posteriors γ_t(k) = P(z_t = k | its sequence), N × K row-major.</summary>
    /// <param name="data">N × D observations, row-major.</param>
    /// <param name="points">N.</param>
    /// <param name="lengths">Sequence lengths summing to N (empty: one sequence).</param>
    /// <returns>N × K posteriors.</returns>
    public T[] PredictProbabilities(ReadOnlySpan<T> data, int points, ReadOnlySpan<int> lengths = default)
    {
        T[] posteriors = new T[(long)points * States];
        ExpectationMaximization.Evaluate(ToModel(), Source(data, points, lengths), null, posteriors, null);
        return posteriors;
    }

    /// <summary>The most likely state path of every sequence (Viterbi), concatenated, and Σ over sequences of its joint log-probability.</summary>
    /// <param name="data">N × D observations, row-major.</param>
    /// <param name="points">N.</param>
    /// <param name="lengths">Sequence lengths summing to N (empty: one sequence).</param>
    /// <param name="logProbability">Σ_s max_z log p(x_s, z).</param>
    /// <returns>N states.</returns>
    public int[] Decode(ReadOnlySpan<T> data, int points, ReadOnlySpan<int> lengths, out double logProbability)
    {
        int[] path = new int[points];
        logProbability = ToModel().Decode(data, points, lengths, path);
        return path;
    }

    /// <summary>Draws one sequence of <paramref name="length"/> observations: the states from π and A, each observation from its state's emission.</summary>
    /// <param name="length">Observations (≥ 0).</param>
    /// <param name="seed">Seed; the same seed gives the same draw.</param>
    /// <returns>The observations (length × D, row-major) and their states.</returns>
    public (T[] Observations, int[] States) Sample(int length, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var random = new Random(seed);
        int k = States, d = Features;
        T[] observations = new T[(long)length * d];
        int[] states = new int[length];
        MixtureModel<T>[] emissions = Enumerable.Range(0, k).Select(EmissionModel).ToArray();
        int[] ignored = new int[1];
        int state = Draw(_start, random);
        for (int t = 0; t < length; t++)
        {
            states[t] = state;
            emissions[state].Sample(observations.AsSpan(t * d, d), ignored, random);
            state = Draw(_transitions.AsSpan(state * k, k), random);
        }

        return (observations, states);
    }

    /// <summary>The model as a <see cref="HiddenMarkovModel{T}"/> of the engine holding copies of these parameters (starting from them).</summary>
    /// <returns>A new model.</returns>
    public HiddenMarkovModel<T> ToModel()
    {
        HiddenMarkovOptions o = Options;
        HiddenMarkovModel<T> model = CreateModel(o.Emission, o.CovarianceType, o.Categories, o.RegCovar, States, Features, HiddenMarkovInitialization.Current);
        _start.CopyTo(model.StartProbabilities);
        _transitions.CopyTo(model.Transitions);
        _emissions.CopyTo(model.Emissions.Parameters);
        return model;
    }

    internal static HiddenMarkovModel<T> CreateModel(HiddenMarkovEmission emission, CovarianceType covarianceType, int categories, double regularization, int states, int features, HiddenMarkovInitialization initialization)
    {
        ComponentFamily<T> family = emission switch
        {
            HiddenMarkovEmission.Gaussian => GaussianComponents<T>.Create(covarianceType, states, features, regularization),
            HiddenMarkovEmission.Categorical => categories >= 2
                ? DiscreteComponents<T>.Create(DiscreteDistribution.Categorical, states, features, categories)
                : throw new ArgumentOutOfRangeException("options.Categories", categories, "A categorical emission needs at least 2 categories."),
            HiddenMarkovEmission.Bernoulli => DiscreteComponents<T>.Create(DiscreteDistribution.Bernoulli, states, features),
            HiddenMarkovEmission.Poisson => DiscreteComponents<T>.Create(DiscreteDistribution.Poisson, states, features),
            _ => throw new ArgumentOutOfRangeException("options.Emission", emission, "Unknown emission."),
        };
        return new HiddenMarkovModel<T>(family, initialization);
    }

    private MixtureModel<T> EmissionModel(int state)
    {
        int d = Features;
        if (Options.Emission == HiddenMarkovEmission.Gaussian)
        {
            int size = Options.CovarianceType switch
            {
                CovarianceType.Full => d * d,
                CovarianceType.Diagonal => d,
                CovarianceType.Spherical => 1,
                _ => d * d, // tied: one matrix for every state
            };
            int from = Options.CovarianceType == CovarianceType.Tied ? 0 : state * size;
            return GaussianMixtureModel<T>.FromParameters(Options.CovarianceType, d, [1.0], Means.AsSpan(state * d, d).ToArray(), Covariances.AsSpan(from, size).ToArray());
        }

        DiscreteDistribution distribution = Options.Emission switch
        {
            HiddenMarkovEmission.Categorical => DiscreteDistribution.Categorical,
            HiddenMarkovEmission.Bernoulli => DiscreteDistribution.Bernoulli,
            _ => DiscreteDistribution.Poisson,
        };
        int block = _emissions.Length / States;
        return DiscreteMixtureModel<T>.FromParameters(distribution, d, [1.0], _emissions.AsSpan(state * block, block).ToArray(), Options.Emission == HiddenMarkovEmission.Categorical ? Options.Categories : 1);
    }

    private static int Draw(ReadOnlySpan<double> probabilities, Random random)
    {
        double u = random.NextDouble(), cumulative = 0;
        for (int j = 0; j < probabilities.Length; j++)
        {
            cumulative += probabilities[j];
            if (u < cumulative)
            {
                return j;
            }
        }

        // Rounding: the last state of positive probability.
        for (int j = probabilities.Length - 1; j >= 0; j--)
        {
            if (probabilities[j] > 0)
            {
                return j;
            }
        }

        return 0;
    }

    private DataSource<T> Source(ReadOnlySpan<T> data, int points, ReadOnlySpan<int> lengths)
    {
        DataSource<T> source = new InMemoryDataSource<T>(data, points, Features);
        return lengths.IsEmpty ? source : new SequenceDataSource<T>(source, lengths);
    }
}
