using System.Numerics;
using EmKernels.Kernels;
using EmKernels.Numerics;

namespace EmKernels.Mixtures;

/// <summary>
/// Gaussian components of one covariance type. Parameters are kept in double, in the fit's centred
/// coordinates (data minus their mean); the kernels get element-typed copies once per iteration.
/// Covariance layouts are those of the fixtures (FORMAT.md §4): full K·D·D, tied D·D, diagonal K·D,
/// spherical K.
/// </summary>
internal sealed class GaussianFamily<T> : IMixtureFamily<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private static readonly double Log2Pi = Math.Log(2 * Math.PI);

    private readonly double _regularization;
    private readonly double[] _reseedCovariance;
    private readonly T[] _meansForKernels;
    private readonly T[] _factors;
    private readonly T[] _offsets;
    private readonly double[] _lower;
    private readonly double[] _upper;
    private readonly double[] _candidate;

    /// <param name="type">Covariance type.</param>
    /// <param name="components">K.</param>
    /// <param name="features">D.</param>
    /// <param name="regularization">reg_covar, added to every covariance diagonal in every M-step.</param>
    /// <param name="dataCovariance">The data's covariance (D·D, centred), used to re-seed collapsed components.</param>
    /// <param name="holdCovariances">Leave every covariance at its current value in the M-step.</param>
    public GaussianFamily(CovarianceType type, int components, int features, double regularization, ReadOnlySpan<double> dataCovariance, bool holdCovariances = false)
    {
        HoldCovariances = holdCovariances;
        Type = type;
        Components = components;
        Features = features;
        _regularization = regularization;
        Means = new double[components * features];
        Covariances = new double[CovarianceLength(type, components, features)];
        _meansForKernels = new T[components * features];
        _factors = new T[Covariances.Length];
        _offsets = new T[components];
        _lower = new double[features * features];
        _upper = new double[features * features];
        _candidate = new double[features * features];
        _reseedCovariance = ReseedCovariance(type, features, regularization, dataCovariance);
    }

    public CovarianceType Type { get; }

    /// <summary>Whether the M-step leaves every covariance at its current value (the means still move).</summary>
    public bool HoldCovariances { get; }

    public int Components { get; }

    public int Features { get; }

    /// <summary>K × D means, centred coordinates.</summary>
    public double[] Means { get; }

    /// <summary>Covariances in the type's layout.</summary>
    public double[] Covariances { get; }

    public int DensityParameters => DensityParameterCount(Type, Components, Features);

    public static int DensityParameterCount(CovarianceType type, int components, int features)
    {
        int covariance = type switch
        {
            CovarianceType.Full => components * features * (features + 1) / 2,
            CovarianceType.Tied => features * (features + 1) / 2,
            CovarianceType.Diagonal => components * features,
            _ => components,
        };
        return components * features + covariance;
    }

    public static int CovarianceLength(CovarianceType type, int components, int features) => type switch
    {
        CovarianceType.Full => components * features * features,
        CovarianceType.Tied => features * features,
        CovarianceType.Diagonal => components * features,
        _ => components,
    };

    public SufficientStatistics CreateStatistics()
    {
        int d = Features;
        int second = Type switch
        {
            CovarianceType.Full => Components * d * d,
            CovarianceType.Tied => d * d,
            _ => Components * d,
        };
        return new SufficientStatistics(Components, Components * d, second);
    }

    public void PrepareExpectation(ReadOnlySpan<double> logWeights)
    {
        for (int i = 0; i < Means.Length; i++)
        {
            _meansForKernels[i] = T.CreateTruncating(Means[i]);
        }

        switch (Type)
        {
            case CovarianceType.Diagonal:
                GaussianKernels.DiagonalParameters<T>(Covariances, Components, Features, logWeights, _factors, _offsets);
                break;
            case CovarianceType.Spherical:
                GaussianKernels.SphericalParameters<T>(Covariances, Features, logWeights, _factors, _offsets);
                break;
            case CovarianceType.Full:
                for (int k = 0; k < Components; k++)
                {
                    _offsets[k] = T.CreateTruncating(logWeights[k] + PrecisionCholesky(Covariances.AsSpan(k * Features * Features, Features * Features), _factors.AsSpan(k * Features * Features)));
                }

                break;
            default:
                double half = PrecisionCholesky(Covariances, _factors);
                for (int k = 0; k < Components; k++)
                {
                    _offsets[k] = T.CreateTruncating(logWeights[k] + half);
                }

                break;
        }
    }

    public void LogProbabilities(ReadOnlySpan<T> tile, int start, int points, int stride, Span<T> destination)
    {
        switch (Type)
        {
            case CovarianceType.Diagonal:
                GaussianKernels.DiagonalLogDensity<T>(tile, Features, points, stride, Components, _meansForKernels, _factors, _offsets, destination);
                break;
            case CovarianceType.Spherical:
                GaussianKernels.SphericalLogDensity<T>(tile, Features, points, stride, Components, _meansForKernels, _factors, _offsets, destination);
                break;
            case CovarianceType.Full:
                GaussianKernels.FullLogDensity<T>(tile, Features, points, stride, Components, _meansForKernels, _factors, _offsets, destination);
                break;
            default:
                GaussianKernels.TiedLogDensity<T>(tile, Features, points, stride, Components, _meansForKernels, _factors, _offsets, destination);
                break;
        }
    }

    public void Accumulate(ReadOnlySpan<T> tile, int points, int stride, ReadOnlySpan<T> responsibilities, ReadOnlySpan<T> sampleWeights, SufficientStatistics statistics)
    {
        // Moments about the current means (the shift), so that variances are never differences of large numbers.
        switch (Type)
        {
            case CovarianceType.Full:
                GaussianKernels.FullSufficientStatistics<T>(tile, Features, points, stride, responsibilities, Components, sampleWeights, _meansForKernels, statistics.Mass, statistics.First, statistics.Second);
                break;
            case CovarianceType.Tied:
                GaussianKernels.TiedSufficientStatistics<T>(tile, Features, points, stride, responsibilities, Components, sampleWeights, _meansForKernels, statistics.Mass, statistics.First, statistics.Second);
                break;
            default:
                GaussianKernels.DiagonalSufficientStatistics<T>(tile, Features, points, stride, responsibilities, Components, sampleWeights, _meansForKernels, statistics.Mass, statistics.First, statistics.Second);
                break;
        }
    }

    public void Maximize(SufficientStatistics statistics, ReadOnlySpan<bool> held, Span<bool> degenerate)
    {
        int d = Features;
        double totalMass = 0;
        for (int k = 0; k < Components; k++)
        {
            totalMass += statistics.Mass[k];
        }

        double minimumMass = Math.Max(1e-12 * totalMass, 1e-300);
        if (Type == CovarianceType.Tied)
        {
            MaximizeTied(statistics, held, degenerate, minimumMass);
            return;
        }

        for (int k = 0; k < Components; k++)
        {
            if (held[k])
            {
                continue;
            }

            double mass = statistics.Mass[k];
            degenerate[k] = !(mass > minimumMass);
            if (degenerate[k])
            {
                continue;
            }

            // δ = S1/N is the move of the mean from the shift (the means the statistics were taken about).
            Span<double> delta = _candidate.AsSpan(0, d);
            for (int a = 0; a < d; a++)
            {
                delta[a] = statistics.First[k * d + a] / mass;
            }

            bool valid = HoldCovariances || Type switch
            {
                CovarianceType.Full => MaximizeFull(statistics, k, mass, delta),
                CovarianceType.Diagonal => MaximizeDiagonal(statistics, k, mass, delta),
                _ => MaximizeSpherical(statistics, k, mass, delta),
            };
            if (!valid)
            {
                degenerate[k] = true;
                continue;
            }

            for (int a = 0; a < d; a++)
            {
                Means[k * d + a] = double.CreateTruncating(_meansForKernels[k * d + a]) + delta[a];
            }
        }
    }

    public void Reseed(int component, ReadOnlySpan<double> point)
    {
        point.CopyTo(Means.AsSpan(component * Features, Features));
        switch (Type)
        {
            case CovarianceType.Full:
                _reseedCovariance.CopyTo(Covariances.AsSpan(component * Features * Features));
                break;
            case CovarianceType.Diagonal:
                _reseedCovariance.CopyTo(Covariances.AsSpan(component * Features));
                break;
            case CovarianceType.Spherical:
                Covariances[component] = _reseedCovariance[0];
                break;
            default:
                break; // the shared covariance stays
        }
    }

    /// <summary>Replaces the shared covariance (tied) by the re-seed covariance; used when the pooled estimate is unusable.</summary>
    public void ResetTiedCovariance() => _reseedCovariance.CopyTo(Covariances, 0);

    /// <summary>Writes U = L⁻ᵀ for Σ = L Lᵀ into <paramref name="factor"/> and returns Σ_j log U_jj − ½ D log 2π.</summary>
    private double PrecisionCholesky(ReadOnlySpan<double> covariance, Span<T> factor)
    {
        int d = Features;
        if (!DenseMatrix.TryCholesky(covariance, d, _lower))
        {
            throw new InvalidOperationException("A covariance that passed the M-step is not positive definite.");
        }

        DenseMatrix.PrecisionCholeskyFromCovarianceCholesky(_lower, d, _upper);
        for (int i = 0; i < d * d; i++)
        {
            factor[i] = T.CreateTruncating(_upper[i]);
        }

        return DenseMatrix.LogDiagonalSum(_upper, d) - 0.5 * d * Log2Pi;
    }

    private bool MaximizeFull(SufficientStatistics statistics, int k, double mass, ReadOnlySpan<double> delta)
    {
        int d = Features;
        Span<double> covariance = Covariances.AsSpan(k * d * d, d * d);
        Span<double> candidate = _upper; // scratch until accepted
        for (int a = 0; a < d; a++)
        {
            for (int b = a; b < d; b++)
            {
                candidate[a * d + b] = statistics.Second[(k * d + a) * d + b] / mass - delta[a] * delta[b];
            }

            candidate[a * d + a] += _regularization;
        }

        DenseMatrix.MirrorUpperToLower(candidate, d);
        if (!DenseMatrix.TryCholesky(candidate, d, _lower))
        {
            return false;
        }

        candidate[..(d * d)].CopyTo(covariance);
        return true;
    }

    private bool MaximizeDiagonal(SufficientStatistics statistics, int k, double mass, ReadOnlySpan<double> delta)
    {
        int d = Features;
        Span<double> candidate = _upper.AsSpan(0, d);
        for (int a = 0; a < d; a++)
        {
            double variance = statistics.Second[k * d + a] / mass - delta[a] * delta[a] + _regularization;
            if (!(variance > 0) || !double.IsFinite(variance))
            {
                return false;
            }

            candidate[a] = variance;
        }

        candidate.CopyTo(Covariances.AsSpan(k * d, d));
        return true;
    }

    private bool MaximizeSpherical(SufficientStatistics statistics, int k, double mass, ReadOnlySpan<double> delta)
    {
        int d = Features;
        double sum = 0;
        for (int a = 0; a < d; a++)
        {
            sum += statistics.Second[k * d + a] / mass - delta[a] * delta[a];
        }

        double variance = sum / d + _regularization;
        if (!(variance > 0) || !double.IsFinite(variance))
        {
            return false;
        }

        Covariances[k] = variance;
        return true;
    }

    private void MaximizeTied(SufficientStatistics statistics, ReadOnlySpan<bool> held, Span<bool> degenerate, double minimumMass)
    {
        int d = Features;
        Span<double> pooled = _upper;
        for (int i = 0; i < d * d; i++)
        {
            pooled[i] = statistics.Second[i];
        }

        double total = 0;
        for (int k = 0; k < Components; k++)
        {
            double mass = statistics.Mass[k];
            degenerate[k] = !(mass > minimumMass);
            total += mass;
            if (degenerate[k])
            {
                continue;
            }

            // Σ_k N_k δ_k δ_kᵀ turns the scatter about the shifts into the scatter about the new means.
            for (int a = 0; a < d; a++)
            {
                double da = statistics.First[k * d + a];
                for (int b = a; b < d; b++)
                {
                    pooled[a * d + b] -= da * statistics.First[k * d + b] / mass;
                }
            }

            if (!held[k])
            {
                for (int a = 0; a < d; a++)
                {
                    Means[k * d + a] = double.CreateTruncating(_meansForKernels[k * d + a]) + statistics.First[k * d + a] / mass;
                }
            }
        }

        // The shared covariance is a parameter of every component: holding any of them, or the covariances, holds it.
        if (HoldCovariances || held.Contains(true))
        {
            return;
        }

        for (int a = 0; a < d; a++)
        {
            for (int b = a; b < d; b++)
            {
                pooled[a * d + b] /= total;
            }

            pooled[a * d + a] += _regularization;
        }

        DenseMatrix.MirrorUpperToLower(pooled, d);
        if (DenseMatrix.TryCholesky(pooled, d, _lower))
        {
            pooled[..(d * d)].CopyTo(Covariances);
        }
        else
        {
            // The pooled estimate is unusable: fall back to the data's spread and re-seed every component.
            ResetTiedCovariance();
            degenerate.Fill(true);
        }
    }

    /// <summary>
    /// The covariance a re-seeded component starts from: the data's (in the type's shape) plus reg_covar,
    /// with the diagonal floored so that it is positive definite even for constant features.
    /// </summary>
    private static double[] ReseedCovariance(CovarianceType type, int d, double regularization, ReadOnlySpan<double> dataCovariance)
    {
        double trace = 0;
        for (int a = 0; a < d; a++)
        {
            trace += dataCovariance[a * d + a];
        }

        double floor = Math.Max(regularization, 1e-9 * Math.Max(1.0, trace / d));
        switch (type)
        {
            case CovarianceType.Full:
            case CovarianceType.Tied:
            {
                double[] covariance = dataCovariance[..(d * d)].ToArray();
                for (int a = 0; a < d; a++)
                {
                    covariance[a * d + a] += floor;
                }

                if (!DenseMatrix.TryCholesky(covariance, d, new double[d * d]))
                {
                    // Perfectly collinear data: keep only the diagonal.
                    Array.Clear(covariance);
                    for (int a = 0; a < d; a++)
                    {
                        covariance[a * d + a] = dataCovariance[a * d + a] + floor;
                    }
                }

                return covariance;
            }

            case CovarianceType.Diagonal:
            {
                double[] variances = new double[d];
                for (int a = 0; a < d; a++)
                {
                    variances[a] = dataCovariance[a * d + a] + floor;
                }

                return variances;
            }

            default:
                return [trace / d + floor];
        }
    }
}
