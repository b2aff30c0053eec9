using System.Numerics;
using EmKernels.Engine;
using EmKernels.Numerics;
using EmKernels.Mixtures;

namespace EmKernels.Latent;

/// <summary>Options of <see cref="FactorAnalysis{T}"/>.</summary>
public sealed record FactorAnalysisOptions
{
    /// <summary>q, the number of latent factors (0 ≤ q ≤ D; 0 fits the Gaussian with covariance Ψ).</summary>
    public int LatentDimensions { get; init; } = 1;

    /// <summary>Diagonal noise (factor analysis, the default) or isotropic noise (probabilistic PCA).</summary>
    public FactorNoise Noise { get; init; } = FactorNoise.Diagonal;

    /// <summary>Maximum number of EM iterations per run (≥ 0).</summary>
    public int MaxIterations { get; init; } = 1000;

    /// <summary>A run stops when the mean log-likelihood changes by less than this between iterations (≥ 0; 0 runs every iteration).</summary>
    public double Tolerance { get; init; } = 1e-8;

    /// <summary>Number of runs from random starts (≥ 1); the one with the highest log-likelihood is kept. A given start runs once.</summary>
    public int Restarts { get; init; } = 1;

    /// <summary>Seed of the random starts; null draws one.</summary>
    public int? Seed { get; init; }

    /// <summary>W₀: D × q starting loadings, row-major, in the data's units; null draws them (with <see cref="InitialNoiseVariances"/>).</summary>
    public double[]? InitialLoadings { get; init; }

    /// <summary>Ψ₀: D starting noise variances (all equal for probabilistic PCA); given together with <see cref="InitialLoadings"/>.</summary>
    public double[]? InitialNoiseVariances { get; init; }

    /// <summary>Maximum number of threads of the data pass; null uses every core. Results do not depend on it.</summary>
    public int? MaxDegreeOfParallelism { get; init; }

    /// <summary>Receives one report per EM iteration.</summary>
    public IProgress<FitProgress>? Progress { get; init; }

    /// <summary>Cancels the fit.</summary>
    public CancellationToken CancellationToken { get; init; }
}

/// <summary>
/// Fits factor analysis (diagonal noise) or probabilistic PCA (isotropic noise) by EM with the batch driver of the
/// engine: one parallel pass over the data for their mean and scatter matrix, then iterations that cost O(D² q)
/// each, independent of N (<see cref="FactorAnalyzer{T}"/>).
/// </summary>
/// <typeparam name="T">float or double: the type the data are held in.</typeparam>
public sealed class FactorAnalysis<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Creates the estimator.</summary>
    /// <param name="options">Options; checked when fitting, against the data's D.</param>
    public FactorAnalysis(FactorAnalysisOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
    }

    /// <summary>The options.</summary>
    public FactorAnalysisOptions Options { get; }

    /// <summary>
    /// Fits row-major data (feature d of point n at <c>data[n·features + d]</c>), read in place: the fit passes over it
    /// a few times (<see cref="RowMajorDataSource{T}"/>) and never copies it.
    /// </summary>
    /// <param name="data">N × D finite values; only read, and not changed while the fit runs.</param>
    /// <param name="points">N ≥ 1.</param>
    /// <param name="features">D ≥ 1.</param>
    /// <param name="sampleWeights">Empty, or N non-negative weights (not all zero).</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">The data, weights or options are invalid; the message says where.</exception>
    public FactorAnalysisModel<T> Fit(ReadOnlyMemory<T> data, int points, int features, ReadOnlyMemory<T> sampleWeights = default) =>
        Fit(new RowMajorDataSource<T>(data, points, features, sampleWeights));

    /// <summary>Fits a two-dimensional array indexed [point, feature].</summary>
    /// <param name="data">N × D finite values.</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">The data or options are invalid.</exception>
    public FactorAnalysisModel<T> Fit(T[,] data) => Fit(InMemoryDataSource<T>.Own(FeatureMajorMatrix<T>.From(data), default));

    /// <summary>Fits any data source, in memory or streamed from a file (one pass over it).</summary>
    /// <param name="data">The points.</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">The data or options are invalid.</exception>
    public FactorAnalysisModel<T> Fit(DataSource<T> data)
    {
        ArgumentNullException.ThrowIfNull(data);
        FactorAnalysisOptions o = Options;
        int d = data.Features;
        if (o.LatentDimensions < 0 || o.LatentDimensions > d)
        {
            throw new ArgumentOutOfRangeException("options.LatentDimensions", o.LatentDimensions, $"Must be in 0 … D = {d}.");
        }

        var analyzer = new FactorAnalyzer<T>(d, o.LatentDimensions, o.Noise);
        if (o.InitialLoadings is not null || o.InitialNoiseVariances is not null)
        {
            if (o.InitialLoadings is null || o.InitialNoiseVariances is null)
            {
                throw new ArgumentException("Give both InitialLoadings and InitialNoiseVariances, or neither.", "options");
            }

            try
            {
                analyzer.SetStart(o.InitialLoadings, o.InitialNoiseVariances);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"{e.ParamName switch { "loadings" => "InitialLoadings", _ => "InitialNoiseVariances" }}: {e.Message}", "options", e);
            }
        }

        ExpectationMaximizationResult result = ExpectationMaximization.Fit(analyzer, data, new ExpectationMaximizationOptions
        {
            MaxIterations = o.MaxIterations,
            Tolerance = o.Tolerance,
            Restarts = o.Restarts,
            Seed = o.Seed,
            MaxDegreeOfParallelism = o.MaxDegreeOfParallelism,
            Progress = o.Progress,
            CancellationToken = o.CancellationToken,
        });
        return new FactorAnalysisModel<T>(analyzer, result);
    }
}

/// <summary>
/// A fitted factor analysis or probabilistic PCA: μ, W, Ψ (or σ²), the log-likelihood history, the posterior of the
/// latent factors, scores and samples.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class FactorAnalysisModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly FactorAnalyzer<T> _analyzer;
    private readonly double[] _history;

    internal FactorAnalysisModel(FactorAnalyzer<T> analyzer, ExpectationMaximizationResult result)
    {
        _analyzer = analyzer;
        _history = result.ObjectiveHistory;
        Iterations = result.Iterations;
        Converged = result.Converged;
        LikelihoodDecreases = result.Decreases;
        TrainingPoints = result.Summary.Points;
        TrainingWeight = Math.ScaleB(result.Summary.TotalWeight, result.Summary.WeightScaleExponent);
    }

    /// <summary>D.</summary>
    public int Features => _analyzer.Features;

    /// <summary>q.</summary>
    public int LatentDimensions => _analyzer.LatentDimensions;

    /// <summary>Diagonal (factor analysis) or isotropic (probabilistic PCA).</summary>
    public FactorNoise Noise => _analyzer.Noise;

    /// <summary>μ, the sample mean (D values).</summary>
    public ReadOnlySpan<double> Mean => _analyzer.Mean;

    /// <summary>W: D × q loadings, row-major.</summary>
    public ReadOnlySpan<double> Loadings => _analyzer.Loadings;

    /// <summary>The diagonal of Ψ (all σ² for probabilistic PCA).</summary>
    public ReadOnlySpan<double> NoiseVariances => _analyzer.NoiseVariances;

    /// <summary>The mean log-likelihood under the starting parameters and after each iteration (Iterations + 1 values).</summary>
    public ReadOnlySpan<double> MeanLogLikelihoodHistory => _history;

    /// <summary>The mean log-likelihood of the training data under the returned parameters.</summary>
    public double MeanLogLikelihood => _history[^1];

    /// <summary>EM iterations of the kept run.</summary>
    public int Iterations { get; }

    /// <summary>Whether the kept run stopped because the change fell below the tolerance.</summary>
    public bool Converged { get; }

    /// <summary>Iterations whose log-likelihood fell by more than rounding (expected empty).</summary>
    public IReadOnlyList<LikelihoodDecrease> LikelihoodDecreases { get; }

    /// <summary>N of the training data.</summary>
    public long TrainingPoints { get; }

    /// <summary>Σ w of the training data (N without sample weights).</summary>
    public double TrainingWeight { get; }

    /// <summary>Free parameters (<see cref="FactorAnalyzer{T}.FreeParameterCount"/>).</summary>
    public int ParameterCount => _analyzer.FreeParameterCount;

    /// <summary>BIC of the training data: −2 Σw·ℓ̄ + p log Σw.</summary>
    public double TrainingBic => -2 * TrainingWeight * MeanLogLikelihood + ParameterCount * Math.Log(TrainingWeight);

    /// <summary>AIC of the training data: −2 Σw·ℓ̄ + 2p.</summary>
    public double TrainingAic => -2 * TrainingWeight * MeanLogLikelihood + 2.0 * ParameterCount;

    /// <summary>C = W Wᵀ + Ψ: D × D, row-major.</summary>
    /// <returns>A new array.</returns>
    public double[] Covariance() => _analyzer.Covariance();

    /// <summary>Cov[z | x] = (I + Wᵀ Ψ⁻¹ W)⁻¹: q × q (the same for every point).</summary>
    /// <returns>A new array.</returns>
    public double[] PosteriorCovariance() => _analyzer.PosteriorCovariance();

    /// <summary>E[z | x] for each point: N × q, row-major.</summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>The posterior means of the factors.</returns>
    public double[] Transform(ReadOnlySpan<T> data, int points) => _analyzer.Transform(data, points);

    /// <summary>log N(x; μ, C) for each point.</summary>
    /// <param name="data">N × D finite values, row-major.</param>
    /// <param name="points">N.</param>
    /// <returns>N log-densities.</returns>
    /// <exception cref="ArgumentException">A value is not finite or the length is wrong.</exception>
    public double[] ScoreSamples(ReadOnlySpan<T> data, int points)
    {
        double[] scores = new double[points];
        ExpectationMaximization.Evaluate(_analyzer, new InMemoryDataSource<T>(data, points, Features), scores, null, null, _analyzer.Mean.ToArray());
        return scores;
    }

    /// <summary>The mean log-likelihood of the points.</summary>
    /// <param name="data">N × D finite values, row-major (N ≥ 1).</param>
    /// <param name="points">N.</param>
    /// <returns>(1/N) Σ log N(x; μ, C).</returns>
    public double Score(ReadOnlySpan<T> data, int points)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(points, 1);
        return ScoreSamples(data, points).Average();
    }

    /// <summary>Draws points x = μ + W z + ε with z ~ N(0, I), ε ~ N(0, Ψ).</summary>
    /// <param name="count">N ≥ 0.</param>
    /// <param name="seed">Seed of the draws.</param>
    /// <returns>N × D values, row-major.</returns>
    public T[] Sample(int count, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if ((long)count * Features > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "N × D values would not fit in an array.");
        }

        int d = Features, q = LatentDimensions;
        var random = new Random(seed);
        T[] points = new T[count * d];
        double[] z = new double[q];
        for (int n = 0; n < count; n++)
        {
            FactorAlgebra.SamplePoint(Mean, Loadings, NoiseVariances, z, random, points.AsSpan(n * d, d));
        }

        return points;
    }

    /// <summary>An engine model with these parameters (for the drivers: evaluation, streamed fits, warm starts).</summary>
    /// <returns>A new <see cref="FactorAnalyzer{T}"/>.</returns>
    public FactorAnalyzer<T> ToAnalyzer()
    {
        var analyzer = new FactorAnalyzer<T>(Features, LatentDimensions, Noise);
        analyzer.SetParameters(Mean, Loadings, NoiseVariances);
        return analyzer;
    }

}
