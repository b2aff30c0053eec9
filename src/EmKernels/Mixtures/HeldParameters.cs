namespace EmKernels.Mixtures;

/// <summary>
/// Parameters that the M-step leaves at their starting values; EM then maximises the likelihood over
/// the others. One mechanism for every mixture: hold the weights, every parameter of chosen
/// components, and (Gaussian mixtures) all covariances. Start values come from the initial
/// parameters, so held parameters are normally given explicitly.
/// </summary>
public sealed record HeldParameters
{
    /// <summary>The mixing weights stay fixed.</summary>
    public bool Weights { get; init; }

    /// <summary>0-based indices of components whose density parameters (means and covariances, or probabilities, or rates) stay fixed.</summary>
    public IReadOnlyList<int> Components { get; init; } = [];

    /// <summary>Gaussian mixtures: every covariance stays fixed (the means still move). Ignored by discrete mixtures.</summary>
    public bool Covariances { get; init; }

    internal bool[] ComponentMask(int components, string paramName)
    {
        bool[] mask = new bool[components];
        foreach (int k in Components)
        {
            if (k < 0 || k >= components)
            {
                throw new ArgumentOutOfRangeException(paramName, k, $"Held component {k} is not in 0 … {components - 1}.");
            }

            mask[k] = true;
        }

        return mask;
    }
}
