using System.Runtime.CompilerServices;
using System.Numerics;
using EmKernels.Engine;
using EmKernels.Kernels;
using EmKernels.Kernels.Common;
using EmKernels.Numerics;

namespace EmKernels.Mixtures;

/// <summary>
/// The covariance parameterizations Σ_k = λ_k D_k A_k D_kᵀ of Celeux and Govaert (1995) as mclust names them: volume λ,
/// shape A (diagonal, |A| = 1) and orientation D, each Equal across components, Variable, or the Identity.
/// </summary>
public enum ParsimoniousModel
{
    /// <summary>Spherical, equal volume: σ² I.</summary>
    EII,

    /// <summary>Spherical, variable volume: σ²_k I.</summary>
    VII,

    /// <summary>Diagonal, equal volume and shape: λ A.</summary>
    EEI,

    /// <summary>Diagonal, variable volume, equal shape: λ_k A (iterative M-step).</summary>
    VEI,

    /// <summary>Diagonal, equal volume, variable shape: λ A_k.</summary>
    EVI,

    /// <summary>Diagonal, variable volume and shape: λ_k A_k.</summary>
    VVI,

    /// <summary>Ellipsoidal, equal volume, shape and orientation: Σ.</summary>
    EEE,

    /// <summary>Ellipsoidal, variable volume, equal shape and orientation: λ_k D A Dᵀ (iterative M-step).</summary>
    VEE,

    /// <summary>Ellipsoidal, equal volume and orientation, variable shape: λ D A_k Dᵀ (iterative M-step).</summary>
    EVE,

    /// <summary>Ellipsoidal, variable volume and shape, equal orientation: λ_k D A_k Dᵀ (iterative M-step).</summary>
    VVE,

    /// <summary>Ellipsoidal, equal volume and shape, variable orientation: λ D_k A D_kᵀ.</summary>
    EEV,

    /// <summary>Ellipsoidal, variable volume, equal shape, variable orientation: λ_k D_k A D_kᵀ (iterative M-step).</summary>
    VEV,

    /// <summary>Ellipsoidal, equal volume, variable shape and orientation: λ D_k A_k D_kᵀ.</summary>
    EVV,

    /// <summary>Ellipsoidal, variable everything: Σ_k (the full covariance).</summary>
    VVV,

    /// <summary>One dimension, equal variance.</summary>
    E,

    /// <summary>One dimension, variable variance.</summary>
    V,
}

/// <summary>
/// Gaussian components with one of mclust's 14 covariance parameterizations (and E, V in one dimension), with mclust's
/// M-steps (Celeux and Govaert 1995; Browne and McNicholas 2014 for EVE and VVE) — the iterative ones (VEI, VEV, VEE, EVE,
/// VVE) run their inner iteration from mclust's fixed start at every M-step with its stopping rule, which is not the
/// converged constrained maximizer (a generalized M-step) — and optionally mclust's noise component: one more component
/// of constant density 1/V over the data's hypervolume (<see cref="LogHypervolume(DataSource{T})"/>), listed last. Covariances are held
/// as full D × D matrices (the layout of the full type); log-densities and statistics are the full-covariance kernels.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class ParsimoniousComponents<T> : GaussianComponents<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly T[] _factors;

    // The diagonal models (EII … VVI, E, V) in double: their covariances are diagonal, so the E-step and the statistics run
    // the diagonal kernels (D rather than D(D+1)/2 terms per point and component); their M-steps read only diag(W_k).
    private readonly bool _diagonalKernels;
    private readonly double[] _variances = [];
    private readonly T[] _precisions = [];
    private readonly T[] _diagonalOffsets = [];

    [ThreadStatic]
    private static double[]? t_diagonalMoments;
    private readonly T[] _offsets;
    private readonly double[] _lower;
    private readonly double[][] _scatter;
    private readonly double[] _counts;

    // The eigenvalues the last M-step composed its covariances from (λ_k A_k; EEV, VEV, EVE, VVE, VEE), and how many it composed:
    // mclust's singularity tests read them rather than decompose the covariances again.
    private readonly double[][] _composedValues;
    private int _composedCount;
    private double _logNoiseDensity;

    // me()'s inner-iteration state, carried from one M-step to the next within a run (VEI, VEV: A and λ; EVE, VVE: D and A_k).
    private double[]? _warmShape;
    private double[]? _warmVolumes;
    private double[]? _warmOrientation;
    private double[][]? _warmShapes;

    /// <summary>G Gaussian components of a parameterization (with identity covariances), and with <paramref name="logNoiseDensity"/> a noise component after them.</summary>
    /// <param name="model">The parameterization (E and V need D = 1).</param>
    /// <param name="gaussians">G (≥ 1).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="logNoiseDensity">log(1/V) of a noise component (mclust's <c>Vinv</c>), or null for none.</param>
    /// <param name="regularization">Added to every covariance diagonal after the M-step (≥ 0; mclust adds none).</param>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range, or the model does not fit D.</exception>
    public ParsimoniousComponents(ParsimoniousModel model, int gaussians, int features, double? logNoiseDensity = null, double regularization = 0)
        : base(CovarianceType.Full, CheckedCount(gaussians, logNoiseDensity), features, regularization, CovarianceLength(CovarianceType.Full, CheckedCount(gaussians, logNoiseDensity), features))
    {
        if (!Enum.IsDefined(model) || ((model is ParsimoniousModel.E or ParsimoniousModel.V) != (features == 1)))
        {
            throw new ArgumentOutOfRangeException(nameof(model), model, "E and V are the one-dimensional models; the other 14 need D ≥ 2.");
        }

        if (logNoiseDensity is { } log && !double.IsFinite(log))
        {
            throw new ArgumentOutOfRangeException(nameof(logNoiseDensity), logNoiseDensity, "Must be finite.");
        }

        Model = model;
        Gaussians = gaussians;
        _logNoiseDensity = logNoiseDensity ?? 0;
        HasNoise = logNoiseDensity is not null;
        int k = Components;
        _factors = new T[k * features * features];
        _diagonalKernels = typeof(T) == typeof(double) && IsDiagonal(model);
        if (_diagonalKernels)
        {
            _variances = new double[k * features];
            _precisions = new T[k * features];
            _diagonalOffsets = new T[k];
        }
        _offsets = new T[k];
        _lower = new double[features * features];
        _scatter = Enumerable.Range(0, gaussians).Select(_ => new double[features * features]).ToArray();
        _counts = new double[gaussians];
        _composedValues = Enumerable.Range(0, gaussians).Select(_ => new double[features]).ToArray();
        SetIdentityCovariances();
    }

    /// <summary>The parameterization.</summary>
    public ParsimoniousModel Model { get; }

    /// <summary>
    /// Whether the iterative M-steps (VEI, VEV, EVE, VVE) start their inner iteration from where the previous M-step of the run
    /// left it, as mclust's <c>me()</c> — what <c>Mclust()</c> runs — does (true, the default), or from mclust's fixed start at every
    /// M-step, as its <c>estep</c>/<c>mstep</c> do (false). They stop at different points (FORMAT §6.3 of the mclust fixtures);
    /// warm starts also take far fewer inner iterations. VEE starts from λ = 1 either way, as in mclust.
    /// </summary>
    public bool WarmStartInnerIterations { get; set; } = true;

    /// <summary>G, the Gaussian components (the noise component, when there is one, is component G).</summary>
    public int Gaussians { get; }

    /// <summary>Whether component G is mclust's noise component.</summary>
    public bool HasNoise { get; }

    /// <inheritdoc/>
    public override bool HasNoiseComponent => HasNoise;

    /// <summary>log(1/V), the noise component's log-density, in the user's units (0 without noise).</summary>
    public double LogNoiseDensity => _logNoiseDensity;

    /// <summary>mclust's <c>nMclustParams</c> without the mixing weights: the covariances' free parameters, G·D means, and the hypervolume with noise.</summary>
    public override int FreeParameterCount => CovarianceParameterCount(Model, Gaussians, Features) + (Gaussians * Features) + (HasNoise ? 1 : 0);

    /// <summary>The free parameters of the covariances of a parameterization (mclust's nVar).</summary>
    /// <param name="model">The parameterization.</param>
    /// <param name="gaussians">G.</param>
    /// <param name="features">D.</param>
    /// <returns>The count.</returns>
    public static int CovarianceParameterCount(ParsimoniousModel model, int gaussians, int features)
    {
        int g = gaussians, d = features, rotation = d * (d - 1) / 2;
        return model switch
        {
            ParsimoniousModel.E or ParsimoniousModel.EII => 1,
            ParsimoniousModel.V or ParsimoniousModel.VII => g,
            ParsimoniousModel.EEI => d,
            ParsimoniousModel.VEI => g + d - 1,
            ParsimoniousModel.EVI => 1 + (g * (d - 1)),
            ParsimoniousModel.VVI => g * d,
            ParsimoniousModel.EEE => d * (d + 1) / 2,
            ParsimoniousModel.VEE => g + (d - 1) + rotation,
            ParsimoniousModel.EVE => 1 + (g * (d - 1)) + rotation,
            ParsimoniousModel.VVE => g + (g * (d - 1)) + rotation,
            ParsimoniousModel.EEV => 1 + (d - 1) + (g * rotation),
            ParsimoniousModel.VEV => g + (d - 1) + (g * rotation),
            ParsimoniousModel.EVV => 1 - g + (g * d * (d + 1) / 2),
            _ => g * d * (d + 1) / 2,
        };
    }

    /// <summary>
    /// The parameterization that is a covariance type's own: VVV for full, EEE tied, VVI diagonal, VII spherical; in one
    /// dimension V for full, diagonal and spherical, E for tied.
    /// </summary>
    /// <param name="covarianceType">The covariance type.</param>
    /// <param name="features">D (≥ 1).</param>
    /// <returns>The parameterization.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The covariance type is unknown, or D &lt; 1.</exception>
    public static ParsimoniousModel OfCovarianceType(CovarianceType covarianceType, int features)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        return (covarianceType, features == 1) switch
        {
            (CovarianceType.Tied, true) => ParsimoniousModel.E,
            (CovarianceType.Full or CovarianceType.Diagonal or CovarianceType.Spherical, true) => ParsimoniousModel.V,
            (CovarianceType.Full, false) => ParsimoniousModel.VVV,
            (CovarianceType.Tied, false) => ParsimoniousModel.EEE,
            (CovarianceType.Diagonal, false) => ParsimoniousModel.VVI,
            (CovarianceType.Spherical, false) => ParsimoniousModel.VII,
            _ => throw new ArgumentOutOfRangeException(nameof(covarianceType), covarianceType, "Unknown covariance type."),
        };
    }

    /// <summary>
    /// mclust's <c>hypvol</c> as logarithms: the log-volume of the data's bounding box, Σ_j log(max_j − min_j), and of the
    /// bounding box in principal coordinates (the eigenvectors of the covariance with divisor N); the noise density is 1/V with
    /// V = exp of the smaller (D = 1: the box).
    /// </summary>
    /// <param name="data">N × D values, row-major.</param>
    /// <param name="points">N (≥ 2).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <returns>(box, principal): the two log-volumes.</returns>
    /// <exception cref="ArgumentException">The shape does not fit, or a value is not finite.</exception>
    public static (double Box, double Principal) LogHypervolume(ReadOnlySpan<double> data, int points, int features)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(points, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        if ((long)points * features != data.Length || !Reductions.AllFinite(data))
        {
            throw new ArgumentException($"Expected {points} × {features} finite values.", nameof(data));
        }

        return ParsimoniousComponents<double>.LogHypervolume(new InMemoryDataSource<double>(data, points, features));
    }

    /// <summary>
    /// log(1/V), the log-density of mclust's noise component over the data: V = exp of the smaller of
    /// <see cref="LogHypervolume(DataSource{T})"/>'s two log-volumes (mclust's <c>hypvol</c>).
    /// </summary>
    /// <param name="data">N ≥ 2 points.</param>
    /// <returns>−log V.</returns>
    /// <exception cref="ArgumentException">There are fewer than 2 points, a value is not finite, or the points span no volume (a constant feature, or all on a hyperplane).</exception>
    public static double NoiseLogDensity(DataSource<T> data)
    {
        (double box, double principal) = LogHypervolume(data);
        double logVolume = Math.Min(box, principal);
        if (!double.IsFinite(logVolume))
        {
            throw new ArgumentException("The rows span no volume (a constant column, or all rows on a hyperplane), so a noise component has no density 1/V.", nameof(data));
        }

        return -logVolume;
    }

    /// <summary>
    /// <see cref="LogHypervolume(ReadOnlySpan{double}, int, int)"/> of a data source, in three streamed passes (the mean, the
    /// covariance, the ranges), in memory independent of N.
    /// </summary>
    /// <param name="data">N ≥ 2 points; their sample weights and labels are ignored.</param>
    /// <returns>(box, principal): the two log-volumes.</returns>
    /// <exception cref="ArgumentException">There are fewer than 2 points, or a value is not finite (its row and column named).</exception>
    public static (double Box, double Principal) LogHypervolume(DataSource<T> data)
    {
        ArgumentNullException.ThrowIfNull(data);
        int d = data.Features;
        long n = data.Points;
        if (n < 2)
        {
            throw new ArgumentException("The hypervolume needs at least 2 points.", nameof(data));
        }

        int chunk = (int)Math.Clamp((1 << 16) / d, 1, n);
        T[] buffer = new T[(long)chunk * d];
        double[] mean = new double[d], covariance = new double[d * d], values = new double[d], vectors = new double[d * d];
        double[] min = new double[d], max = new double[d], pmin = new double[d], pmax = new double[d], projected = new double[d];
        min.AsSpan().Fill(double.PositiveInfinity);
        pmin.AsSpan().Fill(double.PositiveInfinity);
        max.AsSpan().Fill(double.NegativeInfinity);
        pmax.AsSpan().Fill(double.NegativeInfinity);
        for (int pass = 0; pass < 3; pass++)
        {
            for (long start = 0; start < n; start += chunk)
            {
                int count = (int)Math.Min(chunk, n - start);
                data.Read(start, count, buffer, count, default, default);
                for (int i = 0; i < count; i++)
                {
                    for (int a = 0; a < d; a++)
                    {
                        double x = double.CreateTruncating(buffer[a * count + i]);
                        if (!double.IsFinite(x))
                        {
                            throw new ArgumentException($"Row {start + i}, column {a} is {x}: not a value.", nameof(data));
                        }

                        values[a] = x - (pass == 0 ? 0 : mean[a]);
                    }

                    switch (pass)
                    {
                        case 0:
                            for (int a = 0; a < d; a++)
                            {
                                mean[a] += values[a];
                            }

                            break;
                        case 1:
                            for (int a = 0; a < d; a++)
                            {
                                for (int b = 0; b < d; b++)
                                {
                                    covariance[a * d + b] += values[a] * values[b] / n;
                                }
                            }

                            break;
                        default:
                            for (int j = 0; j < d; j++)
                            {
                                double s = 0;
                                for (int a = 0; a < d; a++)
                                {
                                    s += vectors[a * d + j] * values[a];
                                }

                                double x = values[j] + mean[j];
                                min[j] = Math.Min(min[j], x);
                                max[j] = Math.Max(max[j], x);
                                pmin[j] = Math.Min(pmin[j], s);
                                pmax[j] = Math.Max(pmax[j], s);
                            }

                            break;
                    }
                }
            }

            if (pass == 0)
            {
                for (int a = 0; a < d; a++)
                {
                    mean[a] /= n;
                }
            }
            else if (pass == 1)
            {
                DenseMatrix.SymmetricEigen(covariance, d, projected, vectors);
            }
        }

        double box = 0, principal = 0;
        for (int j = 0; j < d; j++)
        {
            box += Math.Log(max[j] - min[j]);
            principal += Math.Log(pmax[j] - pmin[j]);
        }

        return (box, d == 1 ? box : principal);
    }

    /// <inheritdoc/>
    public override void BeginFit(ModelInitialization<T> context)
    {
        base.BeginFit(context);
        ResetInnerIterations();
    }

    /// <inheritdoc/>
    public override void ResetComponent(int component, DataSummary summary)
    {
        base.ResetComponent(component, summary);
        ResetInnerIterations(); // every run starts its inner iterations afresh
    }

    /// <summary>
    /// Why mclust would have failed this run (its NA cells: a component's mass at most √ε, or the model's singularity test of
    /// mclust 6.0.0's Fortran, FORMAT §8.4 of the mclust fixtures), from the first M-step of the run where one held; null if none
    /// did. The fit itself goes on (a degenerate component is re-seeded); a model selection as mclust's discards such a run.
    /// </summary>
    public string? MclustFailure { get; private set; }

    /// <summary>Forgets the inner iterations' state (and <see cref="MclustFailure"/>), so the next M-step starts them as the first of a run does.</summary>
    public void ResetInnerIterations()
    {
        MclustFailure = null;
        _warmShape = null;
        _warmVolumes = null;
        _warmOrientation = null;
        _warmShapes = null;
    }

    /// <inheritdoc/>
    public override void LogProbabilities(in DataTile<T> tile, Span<T> destination, Span<T> workspace)
    {
        if (_diagonalKernels)
        {
            GaussianKernels.DiagonalLogDensity<T>(tile.Values, Features, tile.Points, tile.Stride, Components, KernelMeans, _precisions, _diagonalOffsets, destination);
        }
        else
        {
            GaussianKernels.FullLogDensity<T>(tile.Values, Features, tile.Points, tile.Stride, Components, KernelMeans, _factors, _offsets, destination);
        }

        if (HasNoise)
        {
            destination.Slice(Gaussians * tile.Points, tile.Points).Fill(T.CreateTruncating(LogWeights[Gaussians] + _logNoiseDensity));
        }
    }

    /// <inheritdoc/>
    public override void Accumulate(in DataTile<T> tile, ReadOnlySpan<T> responsibilities, SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        if (!_diagonalKernels)
        {
            AccumulateSecondMoments(tile, responsibilities, statistics, tied: false);
            return;
        }

        // The diagonal second moments, onto the diagonals of the full blocks (the off-diagonal entries stay 0: unused).
        int k = Components, d = Features;
        double[] moments = t_diagonalMoments is { } cached && cached.Length >= k * d ? cached : (t_diagonalMoments = new double[Math.Max(k * d, 256)]);
        Span<double> diagonal = moments.AsSpan(0, k * d);
        diagonal.Clear();
        GaussianKernels.DiagonalSufficientStatistics<T>(
            tile.Values, d, tile.Points, tile.Stride, responsibilities, k, tile.SampleWeights, KernelShift, statistics.Block(1), statistics.Block(2), diagonal);
        Span<double> second = statistics.Block(3);
        for (int c = 0; c < k; c++)
        {
            for (int a = 0; a < d; a++)
            {
                second[((c * d) + a) * d + a] += diagonal[c * d + a];
            }
        }
    }

    /// <inheritdoc/>
    public override void ScaleFrame(int exponent)
    {
        base.ScaleFrame(exponent);
        _logNoiseDensity -= exponent * Features * Math.Log(2); // the data × 2^e: a uniform density ÷ 2^(eD)
    }

    private protected override void PrepareCovariances()
    {
        if (!_diagonalKernels)
        {
            GaussianKernels.FullParameters<T>(Covariances, Components, Features, LogWeights, _factors, _offsets);
            return;
        }

        int d = Features;
        for (int k = 0; k < Components; k++)
        {
            for (int a = 0; a < d; a++)
            {
                _variances[k * d + a] = Covariances[(k * d * d) + (a * d) + a];
            }
        }

        GaussianKernels.DiagonalParameters<T>(_variances, Components, d, LogWeights, _precisions, _diagonalOffsets);
    }

    /// <summary>tr Σ_k · tr Σ_k⁻¹, the largest over the components (the full kernels' estimate, for diagonal Σ_k exactly).</summary>
    private protected override double LargestConditionEstimate()
    {
        if (!_diagonalKernels)
        {
            return LargestConditionOf(_factors, Components);
        }

        double largest = 0;
        int d = Features;
        for (int k = 0; k < Components; k++)
        {
            double trace = 0, inverse = 0;
            for (int a = 0; a < d; a++)
            {
                trace += _variances[k * d + a];
                inverse += 1 / _variances[k * d + a];
            }

            largest = Math.Max(largest, trace * inverse);
        }

        return largest;
    }

    /// <summary>Whether the model's covariances are diagonal (EII, VII, EEI, VEI, EVI, VVI, and E, V in one dimension).</summary>
    private static bool IsDiagonal(ParsimoniousModel model) => model is ParsimoniousModel.E or ParsimoniousModel.V or ParsimoniousModel.EII or ParsimoniousModel.VII
        or ParsimoniousModel.EEI or ParsimoniousModel.VEI or ParsimoniousModel.EVI or ParsimoniousModel.VVI;

    /// <summary>
    /// mclust's M-step of the parameterization: the means, then the covariances from the scatter matrices W_k about them
    /// (pooled quantities divided by N_G, the Gaussian components' mass); the noise component has no parameters.
    /// </summary>
    /// <param name="statistics">The merged statistics.</param>
    /// <param name="held">K flags (held components keep their parameters; the model's coupling then uses their current covariances' data as they are).</param>
    /// <param name="degenerate">K outputs.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Maximize(SufficientStatistics statistics, ReadOnlySpan<bool> held, Span<bool> degenerate)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        int d = Features, g = Gaussians;
        ReadOnlySpan<double> shift = statistics.Block(0), mass = Mass(statistics), first = statistics.Block(2), second = statistics.Block(3);
        double minimum = MinimumMass(mass);
        TotalPoints = 0;
        foreach (double m in mass)
        {
            TotalPoints += m;
        }

        bool any = false, diagonal = IsDiagonal(Model);
        for (int k = 0; k < g; k++)
        {
            double n = mass[k];
            _counts[k] = n;
            degenerate[k] = !(n > minimum);
            any |= degenerate[k];
            if (degenerate[k])
            {
                continue;
            }

            double[] w = _scatter[k];
            for (int a = 0; a < d; a++)
            {
                double da = first[k * d + a] / n;
                for (int b = a; b < d; b++)
                {
                    // The diagonal models read diag(W_k) alone (their statistics may hold no off-diagonal moments).
                    double value = b != a && diagonal ? 0 : second[((k * d) + a) * d + b] - (n * da * (first[k * d + b] / n));
                    w[a * d + b] = value;
                    w[b * d + a] = value;
                }
            }

            if (!held[k])
            {
                Span<double> mean = Means.Slice(k * d, d);
                for (int a = 0; a < d; a++)
                {
                    mean[a] = shift[k * d + a] + (first[k * d + a] / n);
                }
            }
        }

        if (any || HoldCovariances)
        {
            return; // a component without mass is re-seeded by the mixture; the coupled covariances wait for the next step
        }

        double[][] covariances = CovariancesOf();
        MclustFailure ??= SingularityOf(covariances, mass);
        for (int k = 0; k < g; k++)
        {
            if (held[k])
            {
                continue;
            }

            // Exactly symmetric (V diag(a) Vᵀ and the like are so only to rounding), so the factor checked is the one used.
            double[] sigma = covariances[k];
            for (int a = 0; a < d; a++)
            {
                sigma[a * d + a] += FrameRegularization;
                for (int b = a + 1; b < d; b++)
                {
                    double mean = 0.5 * (sigma[a * d + b] + sigma[b * d + a]);
                    sigma[a * d + b] = mean;
                    sigma[b * d + a] = mean;
                }
            }

            if (!sigma.All(double.IsFinite) || !DenseMatrix.TryCholesky(sigma, d, _lower))
            {
                degenerate[k] = true;
                continue;
            }

            sigma.CopyTo(Covariances.Slice(k * d * d, d * d));
        }
    }

    /// <summary>Σ_k's eigenvalues in decreasing order: those the M-step composed it from, when it composed every component, else decomposed.</summary>
    private double[] Eigenvalues(int k, double[] sigma)
    {
        if (_composedCount != Gaussians)
        {
            return EigenvaluesDescending(sigma, Features);
        }

        double[] values = _composedValues[k]; // this M-step's, read once: sorted in place
        Array.Sort(values);
        Array.Reverse(values);
        return values;
    }

    /// <summary>mclust's NA conditions for the new covariances (FORMAT §8.4 of the mclust fixtures), or null.</summary>
    private string? SingularityOf(double[][] covariances, ReadOnlySpan<double> mass)
    {
        const double epsilon = 2.220446049250313e-16, root = 1.4901161193847656e-08;
        int d = Features, g = Gaussians;
        for (int k = 0; k < g; k++)
        {
            if (mass[k] <= root)
            {
                return $"the mixing proportion of component {k} fell below √ε";
            }
        }

        double[][] w = _scatter;
        for (int k = 0; k < g; k++)
        {
            double[] sigma = covariances[k];
            switch (Model)
            {
                case ParsimoniousModel.E or ParsimoniousModel.V or ParsimoniousModel.EII or ParsimoniousModel.VII:
                    if (sigma[0] <= epsilon)
                    {
                        return $"a variance of component {k} is at most ε";
                    }

                    break;
                case ParsimoniousModel.EEI or ParsimoniousModel.VEI or ParsimoniousModel.EVI or ParsimoniousModel.VVI:
                {
                    double[] diagonal = Diagonal(sigma, d);
                    double scale = GeometricMean(diagonal);
                    if (scale <= epsilon || diagonal.Any(v => v / scale <= epsilon))
                    {
                        return $"a scale or shape entry of component {k} is at most ε";
                    }

                    break;
                }

                case ParsimoniousModel.EEE or ParsimoniousModel.VVV:
                {
                    if (!DenseMatrix.TryCholesky(sigma, d, _lower))
                    {
                        return $"the covariance of component {k} is singular";
                    }

                    double min = double.PositiveInfinity, max = 0;
                    for (int j = 0; j < d; j++)
                    {
                        min = Math.Min(min, Math.Abs(_lower[j * d + j]));
                        max = Math.Max(max, Math.Abs(_lower[j * d + j]));
                    }

                    if (min / (1 + max) <= root)
                    {
                        return $"the covariance of component {k} is nearly singular";
                    }

                    break;
                }

                case ParsimoniousModel.EEV:
                    if (Eigenvalues(k, sigma)[d - 1] <= epsilon)
                    {
                        return $"the smallest eigenvalue of component {k} is at most ε";
                    }

                    break;
                case ParsimoniousModel.VEV:
                {
                    double[] values = Eigenvalues(k, sigma);
                    double scale = GeometricMean(values);
                    if (scale <= epsilon || values.Any(v => v / scale <= epsilon))
                    {
                        return $"a scale or shape entry of component {k} is at most ε";
                    }

                    break;
                }

                case ParsimoniousModel.VEE:
                {
                    if (!DenseMatrix.TryCholesky(w[k], d, _lower))
                    {
                        return $"the scatter matrix of component {k} is not positive definite";
                    }

                    double[] values = Eigenvalues(k, sigma);
                    double scale = GeometricMean(values);
                    if (scale <= root || values.Any(v => v / scale <= root))
                    {
                        return $"a shape entry or the volume of component {k} is at most √ε";
                    }

                    break;
                }

                case ParsimoniousModel.EVE or ParsimoniousModel.VVE:
                {
                    double[] values = Eigenvalues(k, sigma);
                    double scale = GeometricMean(values);
                    if (EigenvaluesDescending(w[k], d)[d - 1] < root || values.Any(v => v / scale < root))
                    {
                        return $"an eigenvalue of the scatter or a shape entry of component {k} is below √ε";
                    }

                    break;
                }

                case ParsimoniousModel.EVV:
                {
                    double[] values = EigenvaluesDescending(w[k], d);
                    double scale = GeometricMean(values);
                    if (values.Any(v => v / scale <= root))
                    {
                        return $"a normalized eigenvalue of the scatter of component {k} is at most √ε";
                    }

                    break;
                }
            }
        }

        if (Model == ParsimoniousModel.EVV)
        {
            // min(λ, |W_2|^(1/d), …, |W_G|^(1/d)): mclust overwrites only the first component's |W_k|^(1/d) with λ before the test.
            double lambda = 0, total = 0, smallest = double.PositiveInfinity;
            for (int k = 0; k < g; k++)
            {
                double c = GeometricMean(EigenvaluesDescending(w[k], d));
                lambda += c;
                total += _counts[k];
                if (k > 0)
                {
                    smallest = Math.Min(smallest, c);
                }
            }

            if (Math.Min(lambda / total, smallest) <= root)
            {
                return "the volume or a component's scatter determinant is at most √ε";
            }
        }

        return null;
    }

    /// <summary>The G covariance matrices of the model from n_k and W_k.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private double[][] CovariancesOf()
    {
        int d = Features, g = Gaussians;
        _composedCount = 0;
        double[] n = _counts;
        double[][] w = _scatter;
        double total = n.Sum();
        double[][] result = Enumerable.Range(0, g).Select(_ => new double[d * d]).ToArray();
        if (g == 1)
        {
            // One component: every model of a family is the same single Gaussian, fitted directly as mclust's mvn does — W/N, its
            // diagonal, or tr(W)/(N d) — rather than by an iterative M-step's inner loop.
            string family = Model.ToString();
            bool spherical = Model is ParsimoniousModel.E or ParsimoniousModel.V or ParsimoniousModel.EII or ParsimoniousModel.VII;
            bool diagonal = !spherical && family[2] == 'I';
            double trace = Trace(w[0], d);
            for (int a = 0; a < d; a++)
            {
                for (int b = 0; b < d; b++)
                {
                    result[0][a * d + b] = spherical ? (a == b ? trace / (d * n[0]) : 0) : diagonal ? (a == b ? w[0][a * d + a] / n[0] : 0) : w[0][a * d + b] / n[0];
                }
            }

            return result;
        }

        switch (Model)
        {
            case ParsimoniousModel.E:
            case ParsimoniousModel.EII:
            {
                double trace = 0;
                for (int k = 0; k < g; k++)
                {
                    trace += Trace(w[k], d);
                }

                foreach (double[] s in result)
                {
                    SetDiagonal(s, d, _ => trace / (d * total));
                }

                break;
            }

            case ParsimoniousModel.V:
            case ParsimoniousModel.VII:
                for (int k = 0; k < g; k++)
                {
                    double variance = Trace(w[k], d) / (d * n[k]);
                    SetDiagonal(result[k], d, _ => variance);
                }

                break;
            case ParsimoniousModel.EEI:
            {
                double[] b = new double[d];
                for (int k = 0; k < g; k++)
                {
                    for (int j = 0; j < d; j++)
                    {
                        b[j] += w[k][j * d + j];
                    }
                }

                foreach (double[] s in result)
                {
                    SetDiagonal(s, d, j => b[j] / total);
                }

                break;
            }

            case ParsimoniousModel.EVI:
            {
                double lambda = 0;
                for (int k = 0; k < g; k++)
                {
                    lambda += GeometricMean(Diagonal(w[k], d));
                }

                lambda /= total;
                for (int k = 0; k < g; k++)
                {
                    double[] b = Diagonal(w[k], d);
                    double scale = GeometricMean(b);
                    SetDiagonal(result[k], d, j => lambda * b[j] / scale);
                }

                break;
            }

            case ParsimoniousModel.VVI:
                for (int k = 0; k < g; k++)
                {
                    double[] b = Diagonal(w[k], d);
                    double nk = n[k];
                    SetDiagonal(result[k], d, j => b[j] / nk);
                }

                break;
            case ParsimoniousModel.EEE:
            {
                double[] pooled = new double[d * d];
                for (int k = 0; k < g; k++)
                {
                    for (int i = 0; i < d * d; i++)
                    {
                        pooled[i] += w[k][i];
                    }
                }

                foreach (double[] s in result)
                {
                    for (int i = 0; i < d * d; i++)
                    {
                        s[i] = pooled[i] / total;
                    }
                }

                break;
            }

            case ParsimoniousModel.EEV:
            {
                double[][] values = new double[g][], vectors = new double[g][];
                double[] b = new double[d];
                for (int k = 0; k < g; k++)
                {
                    (values[k], vectors[k]) = EigenDescending(w[k], d);
                    for (int j = 0; j < d; j++)
                    {
                        b[j] += values[k][j];
                    }
                }

                double scale = GeometricMean(b), lambda = scale / total;
                for (int k = 0; k < g; k++)
                {
                    Compose(k, result[k], d, vectors[k], j => lambda * b[j] / scale);
                }

                break;
            }

            case ParsimoniousModel.EVV:
            {
                double lambda = 0;
                double[] c = new double[g];
                for (int k = 0; k < g; k++)
                {
                    c[k] = GeometricMean(EigenvaluesDescending(w[k], d));
                    lambda += c[k];
                }

                lambda /= total;
                for (int k = 0; k < g; k++)
                {
                    for (int i = 0; i < d * d; i++)
                    {
                        result[k][i] = lambda * w[k][i] / c[k];
                    }
                }

                break;
            }

            case ParsimoniousModel.VVV:
                for (int k = 0; k < g; k++)
                {
                    for (int i = 0; i < d * d; i++)
                    {
                        result[k][i] = w[k][i] / n[k];
                    }
                }

                break;
            case ParsimoniousModel.VEI:
                Vei(result, n, w, d);
                break;
            case ParsimoniousModel.VEV:
                Vev(result, n, w, d);
                break;
            case ParsimoniousModel.VEE:
                Vee(result, n, w, d, total);
                break;
            default:
                Eve(result, n, w, d, total, variableVolume: Model == ParsimoniousModel.VVE);
                break;
        }

        return result;
    }

    /// <summary>mclust's <c>msvei</c> (FORMAT §6.2): λ_k and a common diagonal shape A by alternation from A = 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Vei(double[][] result, double[] n, double[][] w, int d)
    {
        int g = n.Length;
        bool warm = WarmStartInnerIterations && _warmShape is not null;
        double[] a = warm ? _warmShape! : Enumerable.Repeat(1.0, d).ToArray(), lambda = warm ? _warmVolumes! : Enumerable.Repeat(1.0, g).ToArray();
        double[] oldA = new double[d], oldLambda = new double[g];
        double delta;
        do
        {
            lambda.CopyTo(oldLambda, 0);
            for (int k = 0; k < g; k++)
            {
                double sum = 0;
                for (int j = 0; j < d; j++)
                {
                    sum += w[k][j * d + j] / a[j];
                }

                lambda[k] = sum / (d * n[k]);
            }

            a.CopyTo(oldA, 0);
            for (int j = 0; j < d; j++)
            {
                double sum = 0;
                for (int k = 0; k < g; k++)
                {
                    sum += w[k][j * d + j] / lambda[k];
                }

                a[j] = sum;
            }

            double scale = GeometricMean(a);
            for (int j = 0; j < d; j++)
            {
                a[j] /= scale;
            }

            delta = 0;
            for (int k = 0; k < g; k++)
            {
                delta = Math.Max(delta, Math.Abs(oldLambda[k] - lambda[k]) / (1 + lambda[k]));
            }

            for (int j = 0; j < d; j++)
            {
                delta = Math.Max(delta, Math.Abs(oldA[j] - a[j]) / (1 + a[j]));
            }
        }
        while (delta > InnerTolerance);

        (_warmShape, _warmVolumes) = (a, lambda);
        for (int k = 0; k < g; k++)
        {
            SetDiagonal(result[k], d, j => lambda[k] * a[j]);
        }
    }

    /// <summary>mclust's <c>msvev</c> (FORMAT §6.2): λ_k and a common shape A on each component's own eigenvectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Vev(double[][] result, double[] n, double[][] w, int d)
    {
        int g = n.Length;
        double[][] omega = new double[g][], vectors = new double[g][];
        double[] b = new double[d];
        for (int k = 0; k < g; k++)
        {
            (omega[k], vectors[k]) = EigenDescending(w[k], d);
            for (int j = 0; j < d; j++)
            {
                b[j] += omega[k][j];
            }
        }

        double t = GeometricMean(b);
        bool warm = WarmStartInnerIterations && _warmShape is not null;
        double[] a = warm ? _warmShape! : b.Select(v => v / t).ToArray();
        double[] lambda = warm ? _warmVolumes! : WarmStartInnerIterations ? n.Select(_ => t / TotalPoints).ToArray() : n.Select(nk => t / (nk * TotalPoints)).ToArray();
        double[] oldA = new double[d], oldLambda = new double[g];
        double delta;
        do
        {
            a.CopyTo(oldA, 0);
            lambda.CopyTo(oldLambda, 0);
            for (int k = 0; k < g; k++)
            {
                double sum = 0;
                for (int j = 0; j < d; j++)
                {
                    sum += omega[k][j] / oldA[j];
                }

                lambda[k] = sum / n[k] / d;
            }

            for (int j = 0; j < d; j++)
            {
                double sum = 0;
                for (int k = 0; k < g; k++)
                {
                    sum += omega[k][j] / lambda[k];
                }

                a[j] = sum;
            }

            double scale = GeometricMean(a);
            for (int j = 0; j < d; j++)
            {
                a[j] /= scale;
            }

            delta = 0;
            for (int j = 0; j < d; j++)
            {
                delta = Math.Max(delta, Math.Abs(oldA[j] - a[j]) / (1 + a[j]));
            }

            for (int k = 0; k < g; k++)
            {
                delta = Math.Max(delta, Math.Abs(lambda[k] - oldLambda[k]) / (1 + lambda[k]));
            }
        }
        while (delta >= InnerTolerance);

        (_warmShape, _warmVolumes) = (a, lambda);
        for (int k = 0; k < g; k++)
        {
            double lk = lambda[k];
            Compose(k, result[k], d, vectors[k], j => lk * a[j]);
        }
    }

    /// <summary>mclust's <c>msvee</c> (FORMAT §6.2): λ_k and a common C = D A Dᵀ with |C| = 1, from λ = 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Vee(double[][] result, double[] n, double[][] w, int d, double total)
    {
        int g = n.Length;
        double[] lambda = Enumerable.Repeat(1.0, g).ToArray();
        double[] c = new double[d * d], inverse = new double[d * d], scratch = new double[2 * d * d];
        double previous = double.MaxValue / 2, delta;
        do
        {
            Array.Clear(c);
            for (int k = 0; k < g; k++)
            {
                for (int i = 0; i < d * d; i++)
                {
                    c[i] += w[k][i] / lambda[k];
                }
            }

            double scale = GeometricMean(EigenvaluesDescending(c, d));
            for (int i = 0; i < d * d; i++)
            {
                c[i] /= scale;
            }

            DenseMatrix.TryInvertPositiveDefinite(c, d, inverse, scratch, out _);
            double criterion = d * total;
            for (int k = 0; k < g; k++)
            {
                double trace = 0;
                for (int a = 0; a < d; a++)
                {
                    for (int b = 0; b < d; b++)
                    {
                        trace += w[k][a * d + b] * inverse[b * d + a];
                    }
                }

                lambda[k] = trace / (d * n[k]);
                criterion += d * n[k] * Math.Log(lambda[k]);
            }

            delta = Math.Abs(criterion - previous) / (1 + Math.Abs(criterion));
            previous = criterion;
        }
        while (delta > InnerTolerance);

        double[] shape = EigenvaluesDescending(c, d); // Σ_k = λ_k C: its eigenvalues are λ_k times C's, for the singularity test
        for (int k = 0; k < g; k++)
        {
            for (int i = 0; i < d * d; i++)
            {
                result[k][i] = lambda[k] * c[i];
            }

            for (int j = 0; j < d; j++)
            {
                _composedValues[k][j] = lambda[k] * shape[j];
            }
        }

        _composedCount = g;
    }

    /// <summary>mclust's <c>mseve</c> / <c>msvve</c> (FORMAT §6.2): the two MM steps of Browne and McNicholas (2014) for the common orientation D, then the shapes (and volumes).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private void Eve(double[][] result, double[] n, double[][] w, int d, double total, bool variableVolume)
    {
        int g = n.Length;
        bool warm = WarmStartInnerIterations && _warmOrientation is not null;
        double[] orientation = warm ? _warmOrientation! : Identity(d);
        double[][] shape = warm ? _warmShapes! : Enumerable.Range(0, g).Select(_ => Enumerable.Repeat(1.0, d).ToArray()).ToArray();
        double[] lambda = Enumerable.Repeat(1.0, g).ToArray();
        double[] omega = w.Select(wk => EigenvaluesDescending(wk, d)[0]).ToArray();

        // W_k D for the current D (W_k symmetric, so Dᵀ W_k is its transpose).
        double[][] wd = w.Select(wk => (double[])wk.Clone()).ToArray();
        if (warm)
        {
            for (int k = 0; k < g; k++)
            {
                MultiplyRows(w[k], orientation, d, wd[k]);
            }
        }

        double[] f = new double[d * d], product = new double[d * d], polar = new double[d * d], scratch = new double[(2 * d * d) + (2 * d)];
        double[] rotation1 = Identity(d), rotation2 = Identity(d);
        double[] diagonal = new double[d], m = new double[d];
        double previous = double.MaxValue / 2, delta, criterion;
        do
        {
            // MM 1: F = Σ_k (A_k⁻¹ Dᵀ W_k − ω_k A_k⁻¹ Dᵀ); D ← polar(F)ᵀ.
            Array.Clear(f);
            for (int k = 0; k < g; k++)
            {
                double[] wdk = wd[k], ak = shape[k];
                double ok = omega[k];
                for (int a = 0; a < d; a++)
                {
                    double inverse = 1 / ak[a];
                    for (int b = 0; b < d; b++)
                    {
                        f[a * d + b] += (wdk[b * d + a] - (ok * orientation[b * d + a])) * inverse;
                    }
                }
            }

            DenseMatrix.PolarFactor(f, d, polar, scratch, rotation1);
            for (int a = 0; a < d; a++)
            {
                for (int b = 0; b < d; b++)
                {
                    orientation[a * d + b] = polar[b * d + a];
                }
            }

            // MM 2: F = Σ_k (W_k D A_k⁻¹ − (max_j 1/a_kj) W_k D); D ← polar(F).
            Array.Clear(f);
            for (int k = 0; k < g; k++)
            {
                MultiplyRows(w[k], orientation, d, product); // W_k D
                double[] ak = shape[k];
                double largest = 0;
                foreach (double v in ak)
                {
                    largest = Math.Max(largest, 1 / v);
                }

                for (int a = 0; a < d; a++)
                {
                    for (int b = 0; b < d; b++)
                    {
                        f[a * d + b] += (product[a * d + b] / ak[b]) - (largest * product[a * d + b]);
                    }
                }
            }

            DenseMatrix.PolarFactor(f, d, orientation, scratch, rotation2);

            // Shapes (and volumes) from the diagonal of M_k = Dᵀ W_k D, through W_k D (kept for the next MM 1).
            criterion = 0;
            for (int k = 0; k < g; k++)
            {
                double[] wdk = wd[k];
                MultiplyRows(w[k], orientation, d, wdk);
                for (int j = 0; j < d; j++)
                {
                    double sum = 0;
                    for (int a = 0; a < d; a++)
                    {
                        sum += orientation[a * d + j] * wdk[a * d + j];
                    }

                    diagonal[j] = sum;
                }

                diagonal.CopyTo(m, 0);
                if (variableVolume)
                {
                    for (int j = 0; j < d; j++)
                    {
                        diagonal[j] /= n[k];
                    }

                    lambda[k] = GeometricMean(diagonal);
                    for (int j = 0; j < d; j++)
                    {
                        shape[k][j] = diagonal[j] / lambda[k];
                    }
                }
                else
                {
                    double scale = GeometricMean(diagonal);
                    for (int j = 0; j < d; j++)
                    {
                        shape[k][j] = diagonal[j] / scale;
                    }
                }

                for (int j = 0; j < d; j++)
                {
                    criterion += m[j] / shape[k][j];
                }
            }

            delta = Math.Abs(criterion - previous) / (1 + Math.Abs(criterion));
            previous = criterion;
        }
        while (delta > InnerTolerance);

        (_warmOrientation, _warmShapes) = (orientation, shape);
        double common = criterion / (total * d);
        for (int k = 0; k < g; k++)
        {
            double lk = variableVolume ? lambda[k] : common;
            double[] ak = shape[k];
            Compose(k, result[k], d, orientation, j => lk * ak[j]);
        }
    }

    /// <summary>mclust's inner tolerance of the iterative M-steps: √ε (<c>emControl()$tol[2]</c>).</summary>
    private const double InnerTolerance = 1.4901161193847656e-08;

    /// <summary>N, the total mass of the last M-step (the noise's included), for VEV's first λ.</summary>
    private double TotalPoints { get; set; } = 1;

    private static int CheckedCount(int gaussians, double? noise)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(gaussians, 1);
        return gaussians + (noise is null ? 0 : 1);
    }

    private static double Trace(double[] m, int d)
    {
        double sum = 0;
        for (int j = 0; j < d; j++)
        {
            sum += m[j * d + j];
        }

        return sum;
    }

    private static double[] Diagonal(double[] m, int d)
    {
        double[] result = new double[d];
        for (int j = 0; j < d; j++)
        {
            result[j] = m[j * d + j];
        }

        return result;
    }

    private static double GeometricMean(double[] values)
    {
        double sum = 0;
        foreach (double v in values)
        {
            sum += Math.Log(v);
        }

        return Math.Exp(sum / values.Length);
    }

    private static void SetDiagonal(double[] m, int d, Func<int, double> value)
    {
        Array.Clear(m);
        for (int j = 0; j < d; j++)
        {
            m[j * d + j] = value(j);
        }
    }

    /// <summary>m = V diag(a) Vᵀ, V's columns the orientation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Compose(int k, double[] m, int d, double[] vectors, Func<int, double> a)
    {
        double[] values = _composedValues[k];
        for (int j = 0; j < d; j++)
        {
            values[j] = a(j);
        }

        _composedCount++;
        for (int r = 0; r < d; r++)
        {
            for (int c = 0; c < d; c++)
            {
                double sum = 0;
                for (int j = 0; j < d; j++)
                {
                    sum += vectors[r * d + j] * values[j] * vectors[c * d + j];
                }

                m[r * d + c] = sum;
            }
        }
    }

    /// <summary>The eigenvalues of a symmetric matrix in decreasing order and their eigenvectors (columns).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double[] EigenvaluesDescending(double[] m, int d)
    {
        double[] values = new double[d];
        DenseMatrix.SymmetricEigen(m, d, values, default); // the same rotations as with the vectors: the same values, bitwise
        Array.Sort(values);
        Array.Reverse(values);
        return values;
    }

    private static (double[] Values, double[] Vectors) EigenDescending(double[] m, int d)
    {
        double[] values = new double[d], vectors = new double[d * d];
        DenseMatrix.SymmetricEigen(m, d, values, vectors);
        int[] order = Enumerable.Range(0, d).OrderByDescending(j => values[j]).ToArray();
        double[] sortedValues = order.Select(j => values[j]).ToArray(), sortedVectors = new double[d * d];
        for (int r = 0; r < d; r++)
        {
            for (int c = 0; c < d; c++)
            {
                sortedVectors[r * d + c] = vectors[r * d + order[c]];
            }
        }

        return (sortedValues, sortedVectors);
    }

    private static double[] Identity(int d)
    {
        double[] identity = new double[d * d];
        for (int j = 0; j < d; j++)
        {
            identity[j * d + j] = 1;
        }

        return identity;
    }

    /// <summary>product = L R (d × d), each row of the product the sum of R's rows scaled by the row of L (vectorized along the rows).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void MultiplyRows(double[] left, double[] right, int d, double[] product)
    {
        int width = System.Numerics.Vector<double>.Count;
        if (System.Numerics.Vector.IsHardwareAccelerated && d == 2 * width)
        {
            // A row of the product in two registers (D = 8 with 256-bit vectors): the same sums in the same order, without a
            // store and a load of the row for every term.
            for (int a = 0; a < d; a++)
            {
                var low = System.Numerics.Vector<double>.Zero;
                var high = System.Numerics.Vector<double>.Zero;
                for (int c = 0; c < d; c++)
                {
                    var factor = new System.Numerics.Vector<double>(left[a * d + c]);
                    low += factor * new System.Numerics.Vector<double>(right, c * d);
                    high += factor * new System.Numerics.Vector<double>(right, (c * d) + width);
                }

                low.CopyTo(product, a * d);
                high.CopyTo(product, (a * d) + width);
            }

            return;
        }

        for (int a = 0; a < d; a++)
        {
            Span<double> row = product.AsSpan(a * d, d);
            row.Clear();
            for (int c = 0; c < d; c++)
            {
                double scale = left[a * d + c];
                ReadOnlySpan<double> source = right.AsSpan(c * d, d);
                int b = 0;
                if (System.Numerics.Vector.IsHardwareAccelerated)
                {
                    var factor = new System.Numerics.Vector<double>(scale);
                    for (; b <= d - width; b += width)
                    {
                        (new System.Numerics.Vector<double>(row[b..]) + (factor * new System.Numerics.Vector<double>(source[b..]))).CopyTo(row[b..]);
                    }
                }

                for (; b < d; b++)
                {
                    row[b] += scale * source[b];
                }
            }
        }
    }

    /// <summary>product = Lᵀ R (with <paramref name="transposeLeft"/>) or L R, d × d.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Multiply(double[] left, double[] right, int d, bool transposeLeft, double[] product)
    {
        for (int a = 0; a < d; a++)
        {
            for (int b = 0; b < d; b++)
            {
                double sum = 0;
                for (int c = 0; c < d; c++)
                {
                    sum += (transposeLeft ? left[c * d + a] : left[a * d + c]) * right[c * d + b];
                }

                product[a * d + b] = sum;
            }
        }
    }
}
