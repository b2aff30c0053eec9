using System.Numerics;
using EmKernels.Engine;
using EmKernels.Numerics;

namespace EmKernels.Mixtures;

/// <summary>
/// K multivariate Student t densities St(x | m_k, Σ_k, ν_k) of a covariance structure, for evaluation (the posterior
/// predictive of a variational Gaussian mixture): log St = ln Γ((ν + D)/2) − ln Γ(ν/2) − (D/2) ln(νπ) − ½ ln |Σ|
/// − ((ν + D)/2) ln(1 + Q/ν), with the Mahalanobis term Q = (x − m)ᵀ Σ⁻¹ (x − m) taken from the Gaussian kernels of the
/// same Σ_k. No M-step.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class StudentTComponents<T> : ComponentFamily<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly GaussianComponents<T> _gaussian;
    private readonly double[] _degreesOfFreedom;
    private readonly double[] _zeros;
    private readonly T[] _gaussianOffsets;
    private readonly T[] _constants;
    private readonly T[] _exponents;
    private readonly T[] _inverseNu;

    /// <summary>K t densities with the given location, scale matrices (in the covariance type's layout) and degrees of freedom.</summary>
    public StudentTComponents(CovarianceType type, int features, double[] locations, double[] scales, double[] degreesOfFreedom, int scaleExponent = 0)
        : base(degreesOfFreedom.Length, features, 0, 0)
    {
        int k = degreesOfFreedom.Length;
        _gaussian = GaussianComponents<T>.Create(type, k, features, 0);
        locations.CopyTo(_gaussian.Means);
        scales.CopyTo(_gaussian.Covariances);
        _gaussian.CovarianceScaleExponent = scaleExponent;
        _degreesOfFreedom = degreesOfFreedom;
        _zeros = new double[k];
        _gaussianOffsets = new T[k];
        _constants = new T[k];
        _exponents = new T[k];
        _inverseNu = new T[k];
    }

    /// <inheritdoc/>
    public override int FreeParameterCount => _gaussian.FreeParameterCount + Components;

    /// <inheritdoc/>
    public override bool SupportsTranslation => true;

    /// <inheritdoc/>
    public override void Translate(ReadOnlySpan<double> offset) => _gaussian.Translate(offset);

    /// <inheritdoc/>
    public override int FrameScaleExponent(DataSummary? summary) => _gaussian.FrameScaleExponent(summary);

    /// <inheritdoc/>
    public override void ScaleFrame(int exponent) => _gaussian.ScaleFrame(exponent);

    /// <inheritdoc/>
    public override int WorkspaceLength(int tilePoints) => _gaussian.WorkspaceLength(tilePoints);

    /// <inheritdoc/>
    protected override void Prepare(bool reshift)
    {
        _gaussian.PrepareExpectation(_zeros, reshift);
        int d = Features;
        double[] full = new double[d * d];
        double[] lower = new double[d * d];
        for (int k = 0; k < Components; k++)
        {
            _gaussian.WriteFullCovariance(k, full);
            DenseMatrix.TryCholesky(full, d, lower);
            double halfLogDet = DenseMatrix.LogDiagonalSum(lower, d);
            double nu = _degreesOfFreedom[k];
            _gaussianOffsets[k] = T.CreateTruncating(-halfLogDet - (0.5 * d * Math.Log(2 * Math.PI)));
            _constants[k] = T.CreateTruncating(
                LogWeights[k] + SpecialFunctions.LogGamma(0.5 * (nu + d)) - SpecialFunctions.LogGamma(0.5 * nu) - (0.5 * d * Math.Log(nu * Math.PI)) - halfLogDet);
            _exponents[k] = T.CreateTruncating(0.5 * (nu + d));
            _inverseNu[k] = T.CreateTruncating(1 / nu);
        }
    }

    /// <inheritdoc/>
    public override void LogProbabilities(in DataTile<T> tile, Span<T> destination, Span<T> workspace)
    {
        // The Gaussian kernel gives −½ D ln 2π − ½ ln |Σ| − ½ Q; Q follows exactly enough for the t transform.
        _gaussian.LogProbabilities(tile, destination, workspace);
        int points = tile.Points;
        T two = T.CreateTruncating(2);
        for (int k = 0; k < Components; k++)
        {
            Span<T> row = destination.Slice(k * points, points);
            T offset = _gaussianOffsets[k], constant = _constants[k], exponent = _exponents[k], inverseNu = _inverseNu[k];
            for (int i = 0; i < points; i++)
            {
                T q = T.Max(two * (offset - row[i]), T.Zero);
                row[i] = constant - (exponent * T.LogP1(q * inverseNu));
            }
        }
    }

    /// <inheritdoc/>
    public override void Accumulate(in DataTile<T> tile, ReadOnlySpan<T> responsibilities, SufficientStatistics statistics) =>
        throw new NotSupportedException("Student t components are evaluated here, not fitted.");

    /// <inheritdoc/>
    public override void Reseed(int component, ReadOnlySpan<double> point) =>
        throw new NotSupportedException("Student t components are evaluated here, not fitted.");
}
