using System.Numerics;
using EmKernels.Engine;

namespace EmKernels.Mixtures;

/// <summary>
/// What every fitted mixture has: its weights, how the fit went, and evaluation on new data. Immutable;
/// methods that take data only read it. <see cref="GaussianMixtureModel{T}"/> and
/// <see cref="DiscreteMixtureModel{T}"/> add their component parameters.
/// </summary>
/// <typeparam name="T">float or double: the type data are evaluated in. Parameters are double.</typeparam>
public abstract class MixtureModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly double[] _weights;
    private readonly double[] _history;
    private readonly double _logPrior;

    private protected MixtureModel(int components, int features, double[] weights, FitRecord? fit)
    {
        Components = components;
        Features = features;
        _weights = weights;
        _history = fit?.History ?? [];
        Converged = fit?.Converged ?? false;
        Iterations = fit?.Iterations ?? 0;
        LikelihoodDecreases = fit?.Decreases ?? [];
        Reseeds = fit?.Reseeds ?? [];
        TrainingPoints = fit?.Points ?? 0;
        TrainingWeight = fit?.Weight ?? 0;
        _logPrior = fit?.LogPrior ?? 0;
    }

    /// <summary>K.</summary>
    public int Components { get; }

    /// <summary>D.</summary>
    public int Features { get; }

    /// <summary>K mixing weights, summing to 1.</summary>
    public ReadOnlySpan<double> Weights => _weights;

    /// <summary>Whether the kept run stopped because the change fell below the tolerance (rather than at the iteration limit).</summary>
    public bool Converged { get; }

    /// <summary>EM iterations (M-steps) of the kept run.</summary>
    public int Iterations { get; }

    /// <summary>
    /// The objective per unit weight of the kept run under the starting parameters and after each M-step: the mean
    /// log-likelihood, or with a prior (MAP) the mean log-posterior (log-likelihood + log-prior / Σ w, the objective
    /// EM never decreases); <see cref="Iterations"/> + 1 values, the last for the returned parameters (empty for a
    /// model built from parameters).
    /// </summary>
    public ReadOnlySpan<double> MeanLogLikelihoodHistory => _history;

    /// <summary>The mean log-likelihood (Σ w ℓ / Σ w) of the training data under the returned parameters (with a prior too: without the log-prior).</summary>
    /// <exception cref="InvalidOperationException">The model was built from parameters, not fitted (call <see cref="Score"/> on data instead).</exception>
    public double MeanLogLikelihood => _history.Length > 0
        ? _history[^1] - (_logPrior / TrainingWeight)
        : throw new InvalidOperationException("This model was built from parameters, not fitted, so it has no training log-likelihood; call Score on data instead.");

    /// <summary>With a prior (MAP): the log-prior density of the returned parameters (0 without one).</summary>
    public double LogPrior => _logPrior;

    /// <summary>The mean log-posterior (log-likelihood + log-prior / Σ w) of the training data: the objective of a MAP fit; without a prior, <see cref="MeanLogLikelihood"/>.</summary>
    /// <exception cref="InvalidOperationException">The model was built from parameters, not fitted.</exception>
    public double MeanLogPosterior => _history.Length > 0 ? _history[^1] : throw new InvalidOperationException("This model was built from parameters, not fitted.");

    /// <summary>Iterations of the kept run whose log-likelihood fell by more than rounding (expected empty).</summary>
    public IReadOnlyList<LikelihoodDecrease> LikelihoodDecreases { get; }

    /// <summary>Components re-seeded during any run of the fit.</summary>
    public IReadOnlyList<ComponentReseed> Reseeds { get; }

    /// <summary>N, the number of training points (0 for a model built from parameters).</summary>
    public long TrainingPoints { get; }

    /// <summary>Σ w of the training points (N without sample weights; 0 for a model built from parameters).</summary>
    public double TrainingWeight { get; }

    /// <summary>Free parameters, as BIC and AIC count them: the component parameters and K − 1 weights.</summary>
    public abstract int ParameterCount { get; }

    /// <summary>BIC on the training data, without another pass: −2 W ℓ̄ + p ln W, with W = Σ w (N without sample weights) and ℓ̄ = <see cref="MeanLogLikelihood"/>. Lower is better.</summary>
    /// <exception cref="InvalidOperationException">The model was built from parameters, not fitted.</exception>
    public double TrainingBic => -2 * TrainingWeight * MeanLogLikelihood + ParameterCount * Math.Log(TrainingWeight);

    /// <summary>AIC on the training data: −2 W ℓ̄ + 2p. Lower is better.</summary>
    /// <exception cref="InvalidOperationException">The model was built from parameters, not fitted.</exception>
    public double TrainingAic => -2 * TrainingWeight * MeanLogLikelihood + 2.0 * ParameterCount;

    /// <summary>The most probable component of each point (ties to the lower index).</summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>N labels in 0 … K − 1.</returns>
    /// <exception cref="ArgumentException">The shape does not match D, or a value is not valid data for the model (row and column named).</exception>
    public int[] Predict(ReadOnlySpan<T> data, int points)
    {
        int[] labels = new int[Math.Max(points, 0)];
        Evaluate(data, points, null, null, labels);
        return labels;
    }

    /// <summary>The responsibilities of each point: N × K, row-major, each row summing to 1.</summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>N × K probabilities.</returns>
    /// <exception cref="ArgumentException">The shape does not match D, or a value is not valid data for the model.</exception>
    public T[] PredictProbabilities(ReadOnlySpan<T> data, int points)
    {
        T[] probabilities = new T[Math.Max(points, 0) * Components];
        Evaluate(data, points, null, probabilities, null);
        return probabilities;
    }

    /// <summary>The log-likelihood log p(x_n) of each point under the mixture (with every normalising constant).</summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>N values.</returns>
    /// <exception cref="ArgumentException">The shape does not match D, or a value is not valid data for the model.</exception>
    public double[] ScoreSamples(ReadOnlySpan<T> data, int points)
    {
        double[] scores = new double[Math.Max(points, 0)];
        Evaluate(data, points, scores, null, null);
        return scores;
    }

    /// <summary>
    /// One parallel pass over the points giving any of their log-likelihoods, responsibilities and most
    /// probable components (null outputs are skipped): what <see cref="ScoreSamples"/>,
    /// <see cref="PredictProbabilities"/> and <see cref="Predict"/> give, without three passes.
    /// </summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N (≥ 0).</param>
    /// <param name="logLikelihoods">N outputs, or null.</param>
    /// <param name="responsibilities">N × K outputs (row-major), or null.</param>
    /// <param name="labels">N outputs, or null.</param>
    /// <exception cref="ArgumentException">The shape does not match D, an output has the wrong length, or a value is not valid data for the model.</exception>
    public void Evaluate(ReadOnlySpan<T> data, int points, double[]? logLikelihoods, T[]? responsibilities, int[]? labels) =>
        Evaluate(data, points, logLikelihoods, responsibilities, labels, Environment.ProcessorCount);

    /// <summary>
    /// <see cref="Evaluate(ReadOnlySpan{T}, int, double[], T[], int[])"/> on at most <paramref name="maxDegreeOfParallelism"/> threads
    /// (the results do not depend on it): 1 when many models are evaluated side by side.
    /// </summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N (≥ 0).</param>
    /// <param name="logLikelihoods">N outputs, or null.</param>
    /// <param name="responsibilities">N × K outputs (row-major), or null.</param>
    /// <param name="labels">N outputs, or null.</param>
    /// <param name="maxDegreeOfParallelism">The most threads (≥ 1).</param>
    /// <exception cref="ArgumentException">The shape does not match D, an output has the wrong length, or a value is not valid data for the model.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxDegreeOfParallelism"/> is less than 1.</exception>
    public void Evaluate(ReadOnlySpan<T> data, int points, double[]? logLikelihoods, T[]? responsibilities, int[]? labels, int maxDegreeOfParallelism)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDegreeOfParallelism, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(points);
        if (data.Length != (long)points * Features)
        {
            throw new ArgumentException($"Expected {points} points × {Features} features = {(long)points * Features} values (the model has D = {Features}), got {data.Length}.", nameof(data));
        }

        var source = InMemoryDataSource<T>.Own(FeatureMajorMatrix<T>.FromRowMajor(data, points, Features), null);
        ExpectationMaximization.Evaluate(ToFiniteMixture(), source, logLikelihoods, responsibilities, labels, EvaluationCentre(), maxDegreeOfParallelism);
    }

    /// <summary>The mean log-likelihood of the points.</summary>
    /// <param name="data">N × D values, row-major (N ≥ 1).</param>
    /// <param name="points">N.</param>
    /// <returns>(1/N) Σ log p(x_n).</returns>
    /// <exception cref="ArgumentException">The shape does not match D, N is 0, or a value is not valid data for the model.</exception>
    public double Score(ReadOnlySpan<T> data, int points)
    {
        if (points < 1)
        {
            throw new ArgumentException("Scoring needs at least one point.", nameof(points));
        }

        return ScoreSamples(data, points).Average();
    }

    /// <summary>Each point's classification uncertainty, 1 − max_k r_k (mclust's <c>uncertainty</c>): 0 for a point its component explains alone.</summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>N values in [0, 1 − 1/K].</returns>
    /// <exception cref="ArgumentException">The shape does not match D, or a value is not valid data for the model.</exception>
    public double[] Uncertainty(ReadOnlySpan<T> data, int points)
    {
        T[] r = PredictProbabilities(data, points);
        double[] result = new double[points];
        for (int i = 0; i < points; i++)
        {
            T largest = T.Zero;
            for (int k = 0; k < Components; k++)
            {
                largest = T.Max(largest, r[i * Components + k]);
            }

            result[i] = 1 - double.CreateTruncating(largest);
        }

        return result;
    }

    /// <summary>
    /// The integrated completed likelihood on the data (Biernacki, Celeux and Govaert 2000, as mclust's <c>icl</c> computes it):
    /// BIC − 2 Σ_n log r_n,c(n), c(n) the most probable component (a term with r = 0 contributes 0). Lower is better; mclust
    /// reports its negative, as for BIC.
    /// </summary>
    /// <param name="data">N × D values, row-major (N ≥ 1).</param>
    /// <param name="points">N.</param>
    /// <returns>The ICL.</returns>
    /// <exception cref="ArgumentException">The shape does not match D, N is 0, or a value is not valid data for the model.</exception>
    public double Icl(ReadOnlySpan<T> data, int points)
    {
        if (points < 1)
        {
            throw new ArgumentException("The ICL needs at least one point.", nameof(points));
        }

        double[] logLikelihoods = new double[points];
        T[] r = new T[points * Components];
        Evaluate(data, points, logLikelihoods, r, null);
        double entropy = 0;
        for (int i = 0; i < points; i++)
        {
            T largest = T.Zero;
            for (int k = 0; k < Components; k++)
            {
                largest = T.Max(largest, r[i * Components + k]);
            }

            double value = double.CreateTruncating(largest);
            entropy += value > 0 ? Math.Log(value) : 0;
        }

        return (-2 * logLikelihoods.Sum()) + (ParameterCount * Math.Log(points)) - (2 * entropy);
    }

    /// <summary>Bayesian information criterion on the data: −2 N · Score + p · ln N (lower is better).</summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>The BIC.</returns>
    public double Bic(ReadOnlySpan<T> data, int points) => -2 * points * Score(data, points) + ParameterCount * Math.Log(points);

    /// <summary>Akaike information criterion on the data: −2 N · Score + 2p (lower is better).</summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>The AIC.</returns>
    public double Aic(ReadOnlySpan<T> data, int points) => -2 * points * Score(data, points) + 2 * ParameterCount;

    /// <summary>Draws points from the mixture.</summary>
    /// <param name="count">How many (≥ 0, and count × D at most <see cref="Array.MaxLength"/>; draw more in blocks with <see cref="Sample(Span{T}, Span{int}, Random)"/>).</param>
    /// <param name="seed">Seed; the same seed gives the same points.</param>
    /// <returns>The points (count × D, row-major) and the component each was drawn from: the same as one block of <paramref name="count"/>, or any split into consecutive blocks, drawn with <c>new Random(seed)</c>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative or count × D values would not fit one array.</exception>
    public (T[] Points, int[] Labels) Sample(int count, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if ((long)count * Features > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"{count} points of {Features} features are more values than one array holds; draw them in blocks with Sample(points, labels, random).");
        }

        T[] points = new T[count * Features];
        int[] labels = new int[count];
        Sample(points, labels, new Random(seed));
        return (points, labels);
    }

    /// <summary>
    /// Draws <c>labels.Length</c> points from the mixture, continuing <paramref name="random"/>'s sequence: consecutive
    /// blocks drawn with one <see cref="Random"/> are the points one call of their total size would draw, so any
    /// number of points can be streamed in bounded memory.
    /// </summary>
    /// <param name="points">Receives the points, row-major: at least <c>labels.Length</c> × D values.</param>
    /// <param name="labels">Receives the component each point was drawn from; its length is how many points are drawn.</param>
    /// <param name="random">The source of randomness.</param>
    /// <exception cref="ArgumentNullException"><paramref name="random"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="points"/> is shorter than labels.Length × D.</exception>
    public void Sample(Span<T> points, Span<int> labels, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (points.Length < (long)labels.Length * Features)
        {
            throw new ArgumentException($"{labels.Length} points of {Features} features need {(long)labels.Length * Features} values, got {points.Length}.", nameof(points));
        }

        SampleCore(points, labels, random);
    }

    /// <summary>Draws labels.Length points (arguments checked).</summary>
    private protected abstract void SampleCore(Span<T> points, Span<int> labels, Random random);

    /// <summary>
    /// The model as a <see cref="FiniteMixture{T}"/> of the engine, holding copies of these parameters
    /// (and starting from them: <see cref="MixtureInitialization.Current"/>): to evaluate it on a
    /// <see cref="DataSource{T}"/>, or to continue fitting it with any driver.
    /// </summary>
    /// <returns>A new mixture.</returns>
    public abstract FiniteMixture<T> ToFiniteMixture();

    /// <summary>The centre of the frame evaluation runs in (a point near the model's mass), or null for models that are not translation-equivariant.</summary>
    private protected virtual double[]? EvaluationCentre() => null;

    /// <summary>
    /// Σ_k w_k μ_k over the first <paramref name="components"/> components (their weights renormalised when they are not all
    /// K, as without a noise component): the centre evaluation runs about, near the data.
    /// </summary>
    private protected double[] WeightedCentre(ReadOnlySpan<double> means, int components)
    {
        int d = Features;
        double[] centre = new double[d];
        double total = 0;
        for (int k = 0; k < components; k++)
        {
            total += Weights[k];
            for (int a = 0; a < d; a++)
            {
                centre[a] += Weights[k] * means[k * d + a];
            }
        }

        for (int a = 0; a < d && components < Components && total > 0; a++)
        {
            centre[a] /= total;
        }

        return centre;
    }

    /// <summary>How a fit went, for the constructors.</summary>
    internal sealed record FitRecord(double[] History, bool Converged, int Iterations, LikelihoodDecrease[] Decreases, ComponentReseed[] Reseeds, long Points, double Weight, double LogPrior = 0)
    {
        public static FitRecord Of(ExpectationMaximizationResult result, double logPrior = 0) =>
            new(result.ObjectiveHistory, result.Converged, result.Iterations, result.Decreases, result.Reseeds, result.Summary.Points, EmKernels.Engine.Frames.ScaleByPowerOfTwo(result.Summary.TotalWeight, result.Summary.WeightScaleExponent), logPrior);
    }
}
