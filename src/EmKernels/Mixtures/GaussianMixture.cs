using System.Numerics;
using EmKernels.Engine;

namespace EmKernels.Mixtures;

/// <summary>
/// Fits Gaussian mixture models with EM: full, tied, diagonal or spherical covariance, in float or
/// double. The loop is scikit-learn's (initialise, iterate E- then M-step until the mean
/// log-likelihood changes by less than the tolerance, keep the best of several restarts, finish
/// with an E-step so labels match parameters), run on SIMD kernels over feature-major tiles.
/// </summary>
/// <typeparam name="T">float or double: the type the data are held and computed in. Sums and
/// parameters are always double.</typeparam>
/// <remarks>
/// Numerics: the data are centred once per fit; second moments are accumulated about the current
/// means, so variances are never differences of large numbers (data at 1e4 with unit spread fit in
/// float). A component that loses all its mass, or whose covariance is not positive definite even
/// with reg_covar, is re-seeded at the worst-explained point with the data's covariance and one
/// point's weight; this is reported in <see cref="MixtureModel{T}.Reseeds"/>, never NaN.
/// The log-likelihood is checked every iteration; decreases beyond rounding are reported in
/// <see cref="MixtureModel{T}.LikelihoodDecreases"/>.
/// </remarks>
public sealed class GaussianMixture<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Creates an estimator.</summary>
    /// <param name="options">The options; validated here.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    public GaussianMixture(GaussianMixtureOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double))
        {
            throw new NotSupportedException($"GaussianMixture supports float and double, not {typeof(T).Name}.");
        }

        MixtureSetup.CheckOptions(options.Components, options.MaxIterations, options.Restarts, options.Tolerance, options.MaxDegreeOfParallelism);
        if (!(options.RegCovar >= 0) || double.IsInfinity(options.RegCovar))
        {
            throw new ArgumentOutOfRangeException("options.RegCovar", options.RegCovar, "Must be finite and non-negative.");
        }

        if (!Enum.IsDefined(options.CovarianceType))
        {
            throw new ArgumentOutOfRangeException("options.CovarianceType", options.CovarianceType, "Unknown covariance type.");
        }

        if (options.InitialCovariances is not null && options.InitialPrecisions is not null)
        {
            throw new ArgumentException("Give initial covariances or initial precisions, not both.", nameof(options));
        }

        Options = options;
    }

    /// <summary>The options this estimator fits with.</summary>
    public GaussianMixtureOptions Options { get; }

    /// <summary>Fits row-major data: feature d of point n at <c>data[n·features + d]</c>.</summary>
    /// <param name="data">N × D values, row-major; only read.</param>
    /// <param name="points">N.</param>
    /// <param name="features">D.</param>
    /// <param name="sampleWeights">Empty, or N non-negative weights (not all zero); a point of weight w counts as w copies of it.</param>
    /// <param name="warmStart">A fitted model to start from (same K, D and covariance type), or null.</param>
    /// <param name="knownComponents">
    /// Empty, or N values: the component a point is known to come from, or −1 where unknown (semi-supervised
    /// fitting): a known point's responsibility stays 1 for its component, in the initialization too, and its
    /// term of the objective is log w_z + log p(x | θ_z).
    /// </param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">The data, weights, known components or starting parameters are invalid; the message says where.</exception>
    public GaussianMixtureModel<T> Fit(
        ReadOnlySpan<T> data, int points, int features, ReadOnlySpan<T> sampleWeights = default, GaussianMixtureModel<T>? warmStart = null, ReadOnlySpan<int> knownComponents = default) =>
        Fit(FeatureMajorMatrix<T>.FromRowMajor(data, points, features), sampleWeights, warmStart, knownComponents);

    /// <summary>Fits a two-dimensional array indexed [point, feature].</summary>
    /// <param name="data">N × D values; only read.</param>
    /// <param name="sampleWeights">Empty, or N non-negative weights (not all zero).</param>
    /// <param name="warmStart">A fitted model to start from, or null.</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">The data, weights or starting parameters are invalid.</exception>
    public GaussianMixtureModel<T> Fit(T[,] data, ReadOnlySpan<T> sampleWeights = default, GaussianMixtureModel<T>? warmStart = null) =>
        Fit(FeatureMajorMatrix<T>.From(data), sampleWeights, warmStart, default);

    /// <summary>Fits a jagged array of points, each an array of D features.</summary>
    /// <param name="data">N rows of D values; only read.</param>
    /// <param name="sampleWeights">Empty, or N non-negative weights (not all zero).</param>
    /// <param name="warmStart">A fitted model to start from, or null.</param>
    /// <returns>The fitted model.</returns>
    /// <exception cref="ArgumentException">The data, weights or starting parameters are invalid.</exception>
    public GaussianMixtureModel<T> Fit(T[][] data, ReadOnlySpan<T> sampleWeights = default, GaussianMixtureModel<T>? warmStart = null) =>
        Fit(FeatureMajorMatrix<T>.From(data), sampleWeights, warmStart, default);

    private GaussianMixtureModel<T> Fit(FeatureMajorMatrix<T> data, ReadOnlySpan<T> sampleWeights, GaussianMixtureModel<T>? warmStart, ReadOnlySpan<int> knownComponents)
    {
        GaussianMixtureOptions o = Options;
        int n = data.Points;
        int d = data.Features;
        int k = o.Components;
        if (n < k)
        {
            throw new ArgumentException($"There are {n} points but {k} components; a mixture needs at least as many points as components.", "data");
        }

        NoiseComponentOptions? noise = o.Noise;
        if (noise is not null)
        {
            // The noise component needs a parameterization: the covariance type's own unless one is given.
            if (o.Prior is not null || o.MissingValues != MissingValues.Reject || !(noise.Neighbors >= 1) || (noise.LogDensity is { } v && !double.IsFinite(v)))
            {
                throw new ArgumentException("A noise component takes no prior and no missing values, k ≥ 1 neighbours and a finite log-density.", "options.Noise");
            }

            if (o.Parameterization is null)
            {
                if (o.CovarianceType != CovarianceType.Full && (o.InitialCovariances is not null || o.InitialPrecisions is not null))
                {
                    throw new ArgumentException("With a noise component, starting covariances are full D × D matrices (the parameterization's layout): give CovarianceType.Full or a Parameterization.", "options.Noise");
                }

                o = o with { Parameterization = ParsimoniousComponents<T>.OfCovarianceType(o.CovarianceType, d), CovarianceType = CovarianceType.Full };
            }
        }

        int kk = k + (noise is null ? 0 : 1); // the mixture's components: the Gaussians, then the noise
        var source = InMemoryDataSource<T>.Own(data, sampleWeights, knownComponents);
        if (warmStart is not null && (warmStart.Components != kk || warmStart.Features != d || warmStart.CovarianceType != o.CovarianceType || warmStart.HasNoise != noise is not null))
        {
            throw new ArgumentException($"The warm-start model has K = {warmStart.Components}, D = {warmStart.Features}, {warmStart.CovarianceType}{(warmStart.HasNoise ? " with noise" : "")}; this fit has K = {kk}, D = {d}, {o.CovarianceType}{(noise is null ? "" : " with noise")}.", nameof(warmStart));
        }

        // Validate the user's starting parameters before any work (with noise, the weights are K + 1, the noise's last).
        var given = GivenParameters.From(noise is null ? o : o with { InitialWeights = null }, k, d);
        double[]? givenWeights = noise is null ? given.Weights : o.InitialWeights is { } w ? MixtureSetup.StartWeights(w, kk, "options.InitialWeights") : null;
        if (warmStart is not null && warmStart.Parameterization != o.Parameterization)
        {
            throw new ArgumentException($"The warm-start model's parameterization is {warmStart.Parameterization?.ToString() ?? "none"}; this fit's is {o.Parameterization?.ToString() ?? "none"}.", nameof(warmStart));
        }

        GaussianComponents<T> family;
        if (o.Parameterization is { } parameterization)
        {
            if (o.CovarianceType != CovarianceType.Full || o.Prior is not null)
            {
                throw new ArgumentException("A parameterization holds full D × D covariances (CovarianceType.Full) and takes no prior.", "options.Parameterization");
            }

            double? logNoiseDensity = noise is null ? null : noise.LogDensity ?? ParsimoniousComponents<T>.NoiseLogDensity(source);
            try
            {
                family = new ParsimoniousComponents<T>(parameterization, k, d, logNoiseDensity, o.RegCovar);
            }
            catch (ArgumentOutOfRangeException e)
            {
                throw new ArgumentException(e.Message, "options.Parameterization", e);
            }
        }
        else
        {
            family = GaussianComponents<T>.Create(o.CovarianceType, k, d, o.RegCovar);
        }

        family.HoldCovariances = o.Held?.Covariances ?? false;
        try
        {
            family.Prior = o.Prior;
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException(e.Message, "options.Prior", e);
        }

        if (!Enum.IsDefined(o.MissingValues))
        {
            throw new ArgumentException($"Unknown missing-value handling {o.MissingValues}.", "options.MissingValues");
        }

        bool marginalize = o.MissingValues == MissingValues.Marginalize;
        if (marginalize && (o.Prior is not null || o.Parameterization is not null))
        {
            throw new ArgumentException("Missing values are marginalised for the four covariance types without a prior or a parameterization.", "options.MissingValues");
        }

        ComponentFamily<T> used = marginalize ? new MarginalGaussianComponents<T>(family) : family;
        var mixture = new FiniteMixture<T>(used, MixtureSetup.Initialization(o.Initialization))
        {
            HoldWeights = o.Held?.Weights ?? false,
            AgglomerationCache = o.AgglomerationCache,
        };
        if (noise is not null)
        {
            if (noise.InitialNoise is { } flags && flags.Length != n)
            {
                throw new ArgumentException($"The initial noise flags are {flags.Length}; the data have {n} points.", "options.Noise");
            }

            mixture.InitialNoise = noise.InitialNoise;
            mixture.NoiseNeighbors = noise.Neighbors;
        }

        if (o.Prior is { WeightConcentration: not 1 } weightPrior)
        {
            if (!(weightPrior.WeightConcentration >= 1) || double.IsInfinity(weightPrior.WeightConcentration))
            {
                throw new ArgumentException($"The prior's weight concentration α is {weightPrior.WeightConcentration}; it must be finite and at least 1 (1: no prior on the weights).", "options.Prior");
            }

            mixture.WeightConcentration = weightPrior.WeightConcentration;
        }
        bool[]? held = o.Held?.ComponentMask(k, "options.Held");
        for (int j = 0; j < k && held is not null; j++)
        {
            mixture.HoldComponent(j, held[j]);
        }

        // The means and covariances as the mixture's family holds them (the Gaussian family, or the one that wraps it);
        // with noise the family holds K + 1 of each, the last unused.
        Span<double> means = used.Parameters[..(k * d)], covariances = used.Parameters[(kk * d)..][..(family.Covariances.Length * k / kk)];
        if (warmStart is not null)
        {
            mixture.SetWeights(warmStart.Weights);
            warmStart.Means.CopyTo(means);
            warmStart.Covariances.CopyTo(covariances);
            family.CovarianceScaleExponent = warmStart.CovarianceScaleExponent;
            mixture.Initialization = MixtureInitialization.Current;
        }
        else if (givenWeights is not null || given.Means is not null || given.Covariances is not null)
        {
            // Given parameters override what the initialization chooses, in every run.
            bool[] mask = new bool[mixture.ParameterLength];
            if (givenWeights is not null)
            {
                mixture.SetWeights(givenWeights);
                mask.AsSpan(0, kk).Fill(true);
            }

            if (given.Means is not null)
            {
                given.Means.CopyTo(means);
                mask.AsSpan(kk, k * d).Fill(true);
            }

            if (given.Covariances is not null)
            {
                given.Covariances.CopyTo(covariances);
                mask.AsSpan(kk + (kk * d), covariances.Length).Fill(true);
            }

            mixture.SetGivenParameters(mask);
        }

        ExpectationMaximizationResult result = ExpectationMaximization.Fit(mixture, source, new ExpectationMaximizationOptions
        {
            MaxIterations = o.MaxIterations,
            Tolerance = o.Tolerance,
            StoppingRule = o.StoppingRule,
            Restarts = o.Restarts,
            Seed = o.Seed,
            MaxDegreeOfParallelism = o.MaxDegreeOfParallelism,
            Progress = o.Progress,
            CancellationToken = o.CancellationToken,
        });
        return GaussianMixtureModel<T>.Fitted(mixture, result);
    }
}
