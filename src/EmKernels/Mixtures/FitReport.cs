namespace EmKernels.Mixtures;

/// <summary>Progress of a fit, reported once per EM iteration (or, for stepwise EM, once per minibatch step).</summary>
/// <param name="Restart">0-based index of the current restart (of <c>Restarts</c>); stepwise EM: the epoch.</param>
/// <param name="Iteration">1-based iteration within the restart; stepwise EM: the step t, counted across epochs.</param>
/// <param name="MeanLogLikelihood">The mean objective (for maximum likelihood the mean log-likelihood) under the parameters this iteration started from; stepwise EM: of the minibatch.</param>
/// <param name="Change">Its change from the previous iteration (+∞ on the first).</param>
/// <param name="Elapsed">Time since the fit started.</param>
/// <param name="PointsVisited">Points the E-steps of the fit have processed so far, every pass and restart included: divided by <paramref name="Elapsed"/>, the fit's rate.</param>
public readonly record struct FitProgress(int Restart, int Iteration, double MeanLogLikelihood, double Change, TimeSpan Elapsed, long PointsVisited = 0);

/// <summary>An iteration whose mean log-likelihood fell by more than rounding can explain (EM guarantees it never falls).</summary>
/// <param name="Iteration">The iteration (index into the history) whose value is lower than the one before it.</param>
/// <param name="Decrease">How much it fell (positive).</param>
public readonly record struct LikelihoodDecrease(int Iteration, double Decrease);

/// <summary>Why a component was re-seeded.</summary>
public enum ReseedReason
{
    /// <summary>The component's responsibilities summed to (almost) nothing.</summary>
    LostItsMass,

    /// <summary>The M-step's covariance was not positive definite even with reg_covar.</summary>
    CovarianceNotPositiveDefinite,
}

/// <summary>
/// A component that was re-seeded: its mean moved to the data point worst explained by the current
/// model, its covariance reset to the data's own (plus reg_covar), its weight to one point's share.
/// </summary>
/// <param name="Restart">0-based restart in which it happened.</param>
/// <param name="Iteration">The M-step (1-based iteration) that produced the unusable parameters.</param>
/// <param name="Component">0-based component index.</param>
/// <param name="Reason">Why.</param>
public readonly record struct ComponentReseed(int Restart, int Iteration, int Component, ReseedReason Reason);
