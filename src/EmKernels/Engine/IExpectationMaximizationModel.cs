using System.Numerics;

namespace EmKernels.Engine;

/// <summary>
/// The contract between a model and the EM drivers (<see cref="ExpectationMaximization"/>,
/// <see cref="StepwiseExpectationMaximization{T}"/>, evaluation): an E-step over one feature-major tile
/// that adds into the model's <see cref="SufficientStatistics"/> and returns the tile's share of the
/// objective, an M-step from statistics, and the objective the drivers monitor. A model owns all its
/// parameters (mixing weights included) and its policy for degenerate parameters; the drivers own the
/// loop, the data, the threads, restarts, convergence and the monotonicity check, and do no arithmetic
/// of their own beyond the convergence test.
/// </summary>
/// <typeparam name="T">float or double: the type the data are held and computed in.</typeparam>
/// <remarks>
/// <para>One pass of a driver is: <see cref="PrepareExpectation"/>, then <see cref="Expectation"/> on
/// every tile (from several threads at once, each with its own statistics and workspace; a model must not
/// change its state in <see cref="Expectation"/>), then, for a training pass, <see cref="Maximize"/> on the
/// merged statistics of all tiles. The objective of a pass is (Σ over tiles of what <see cref="Expectation"/>
/// returned + <see cref="ObjectiveCorrection"/>) / Σ w: the mean log-likelihood for maximum likelihood,
/// log-likelihood + log-prior for MAP estimates, the ELBO for variational models. EM never decreases it,
/// and the drivers report any iteration where it does.</para>
/// <para>Every value a pass produces depends only on the model's parameters and the points, never on how
/// tiles were grouped into threads, chunks or processes: the drivers fix the tiles by global point index
/// and reduce statistics in a fixed order, which makes fits bitwise reproducible.</para>
/// </remarks>
public interface IExpectationMaximizationModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>D, the number of features every tile has.</summary>
    int Features { get; }

    /// <summary>Free parameters, as BIC and AIC count them.</summary>
    int FreeParameterCount { get; }

    /// <summary>The layout of this model's statistics; fixed for the model's lifetime.</summary>
    StatisticsLayout StatisticsLayout { get; }

    /// <summary>Length of the flat parameter vector of <see cref="WriteParameters"/>; fixed for the model's lifetime.</summary>
    int ParameterLength { get; }

    /// <summary>
    /// Whether the model is translation-equivariant: moving the data and the model by the same vector
    /// changes nothing (Gaussian components). The drivers then fit in a centred frame — the data minus their
    /// mean, with the model moved by <see cref="Translate"/> — so that data far from the origin keep their
    /// precision, and move the model back at the end.
    /// </summary>
    bool SupportsTranslation { get; }

    /// <summary>
    /// Moves the model by <paramref name="offset"/>: afterwards it assigns to x + offset what it assigned to x.
    /// Called only when <see cref="SupportsTranslation"/> is true.
    /// </summary>
    /// <param name="offset">D values.</param>
    void Translate(ReadOnlySpan<double> offset);

    /// <summary>
    /// The power of two s by which the frame divides the data — x' = (x − c)·2^−s, sample weights likewise
    /// normalized by the drivers — chosen by the model so that its arithmetic neither overflows nor underflows
    /// for data of any finite magnitude (Gaussian components: when the data's spread, or the regularization, is
    /// beyond about 2^±128 in double or 2^±32 in float). 0, the default, keeps the data's scale. Scaling by a power
    /// of two is exact, so the fit is the same computation in other units.
    /// </summary>
    /// <param name="summary">
    /// For a fit, the data's summary (<see cref="DataSummary.Log2Spread"/> is their spread in the user's units);
    /// null when a fitted model is evaluated: choose from the parameters.
    /// </param>
    /// <returns>s; a model that returns anything but 0 implements <see cref="ScaleFrame"/>.</returns>
    int FrameScaleExponent(DataSummary? summary) => 0;

    /// <summary>
    /// Re-expresses the model for data multiplied by 2^<paramref name="exponent"/>: afterwards it assigns to
    /// 2^e·x what it assigned to x (Gaussian components: means × 2^e, covariances and any absolute constant such
    /// as a regularization × 2^2e). A density on D dimensions then gives every point 2^−eD times its former
    /// density; the drivers add D·e·ln 2 back, so objectives are always in the user's units. Called only when
    /// <see cref="FrameScaleExponent"/> returned a nonzero s: with −s entering the frame, +s leaving it.
    /// </summary>
    /// <param name="exponent">e.</param>
    void ScaleFrame(int exponent)
    {
    }

    /// <summary>
    /// The sample weights of the points the model will see are multiplied by 2^<paramref name="exponent"/> (the drivers
    /// normalize weights by a power of two so that their mean is about 1): a model whose objective or M-step has terms
    /// that are not sums over points — a prior — weights those terms alike, so that a weight of w still counts as w
    /// copies of its point. With −k entering the frame, +k leaving it; nothing to do by default.
    /// </summary>
    /// <param name="exponent">e.</param>
    void ScaleWeights(int exponent)
    {
    }

    /// <summary>Writes the parameters as a flat vector (layout defined by the model), for keeping the best restart, checkpoints and broadcasts.</summary>
    /// <param name="destination"><see cref="ParameterLength"/> values.</param>
    void WriteParameters(Span<double> destination);

    /// <summary>Sets the parameters from a vector written by <see cref="WriteParameters"/> (of this model or an identical one).</summary>
    /// <param name="source"><see cref="ParameterLength"/> values.</param>
    void ReadParameters(ReadOnlySpan<double> source);

    /// <summary>Elements of <typeparamref name="T"/> of per-thread scratch that <see cref="Expectation"/> needs for a tile of <paramref name="tilePoints"/> points.</summary>
    /// <param name="tilePoints">The largest tile B a driver will pass.</param>
    /// <returns>The workspace length.</returns>
    int WorkspaceLength(int tilePoints);

    /// <summary>
    /// Throws an <see cref="ArgumentException"/> naming the first value of the tile that is not valid data
    /// for the model (its global row and its column), with the parameter name "data". Called by the drivers
    /// once per fit, before anything else touches the data.
    /// </summary>
    /// <param name="tile">A tile of the data in the user's coordinates.</param>
    void Validate(in DataTile<T> tile);

    /// <summary>
    /// Chooses starting parameters for one run of EM. Called once per restart, in the fit's frame, before
    /// the first pass; <see cref="ModelInitialization{T}.Restart"/> is 0 for the first.
    /// </summary>
    /// <param name="context">The data (in the fit's frame), their summary and the restart's random source.</param>
    /// <returns>True when the start does not depend on the random source (given parameters): the drivers then run once.</returns>
    bool Initialize(ModelInitialization<T> context);

    /// <summary>
    /// Once before every pass: turns the current parameters into the form the E-step needs. With
    /// <paramref name="reshift"/> the statistics of the following passes are taken about a new shift chosen
    /// from the current parameters (for Gaussian components, the current means, which keeps second moments
    /// accurate); without it, about the shift used before, so that they can be merged with statistics of
    /// earlier passes (stepwise EM).
    /// </summary>
    /// <param name="reshift">Whether to move the statistics' shift to the current parameters.</param>
    void PrepareExpectation(bool reshift);

    /// <summary>
    /// Takes the shift of <paramref name="statistics"/> as the one the following statistics are taken about
    /// (until a pass with reshift): a stepwise fit resumed from a checkpoint continues about its own shift.
    /// </summary>
    /// <param name="statistics">Statistics of this model's layout.</param>
    void AdoptShift(SufficientStatistics statistics);

    /// <summary>Sets <paramref name="statistics"/> (of this model's layout) to zero about the model's current shift.</summary>
    /// <param name="statistics">Statistics to reset.</param>
    void ResetStatistics(SufficientStatistics statistics);

    /// <summary>
    /// Writes into <paramref name="statistics"/> the statistics that a unit weight of data distributed
    /// exactly as the model would give — E_θ of the statistics of one point, about the current shift — so
    /// that the M-step of them gives the current parameters back (up to regularization). Stepwise EM starts
    /// from them (s₀, Cappé and Moulines 2009). Returns false if the model cannot.
    /// </summary>
    /// <param name="statistics">Statistics of this model's layout; overwritten.</param>
    /// <returns>Whether they were written.</returns>
    bool TryWriteImpliedStatistics(SufficientStatistics statistics);

    /// <summary>
    /// The E-step over one tile under the prepared parameters: adds the tile's expected sufficient
    /// statistics into <paramref name="statistics"/> (when not null), writes each point's share of the
    /// objective (for a mixture its log-likelihood ℓ_n) into <paramref name="pointObjectives"/>, and returns
    /// Σ_n w_n ℓ_n. Must not change the model: drivers call it from several threads at once.
    /// </summary>
    /// <param name="tile">The points, in the fit's frame.</param>
    /// <param name="statistics">Statistics to add into (about the current shift), or null for evaluation only.</param>
    /// <param name="workspace">Scratch of at least <see cref="WorkspaceLength"/> elements, 64-byte aligned, contents undefined.</param>
    /// <param name="pointObjectives">B outputs.</param>
    /// <returns>The tile's weighted objective Σ w ℓ.</returns>
    double Expectation(in DataTile<T> tile, SufficientStatistics? statistics, Span<T> workspace, Span<T> pointObjectives);

    /// <summary>
    /// The M-step: new parameters from the statistics of all points — in closed form, or a generalized
    /// step that only has to improve the objective. Degenerate parameters (a component without mass, a
    /// covariance that is not positive definite) are handled by the model's own policy, reported through
    /// <paramref name="context"/>.
    /// </summary>
    /// <param name="statistics">The merged statistics of the pass.</param>
    /// <param name="context">The pass's context: total weight, the worst-explained points (candidates for re-seeding), a sink for reports.</param>
    /// <returns>True when the step changed the model discontinuously (a re-seed), so that the objective of the next pass is not comparable with this one's.</returns>
    bool Maximize(SufficientStatistics statistics, MaximizationContext context);

    /// <summary>
    /// The part of the objective that is not a sum over points, under the parameters of the last
    /// <see cref="PrepareExpectation"/>: 0 for maximum likelihood, the log-prior for MAP estimates, −KL
    /// terms of the global parameters for variational models.
    /// </summary>
    /// <returns>The correction, in the same units as the sum of <see cref="Expectation"/>'s results.</returns>
    double ObjectiveCorrection();

    /// <summary>
    /// How far rounding may move the objective (per unit weight) under the parameters of the last
    /// <see cref="PrepareExpectation"/>, beyond the 64 ε (1 + |objective|) the drivers allow any sum: for Gaussian
    /// components ε·D·κ, κ the largest condition number of a covariance (estimated from its Cholesky pivots),
    /// because the Mahalanobis term of an ill-conditioned covariance carries that much rounding. The drivers
    /// report a decrease of the objective only beyond both; 0 by default.
    /// </summary>
    /// <returns>The allowance.</returns>
    double ObjectiveRoundingError() => 0;

    /// <summary>
    /// Whether the points form sequences whose E-step needs each sequence whole (hidden Markov models): the drivers then
    /// cut passes only at sequence boundaries (<see cref="DataSource{T}.SequenceLengths"/>; without lengths, all points
    /// are one sequence), and every tile handed to <see cref="Expectation"/> holds whole sequences
    /// (<see cref="DataTile{T}.SequenceLengths"/>): several short ones up to the usual tile size, or one longer
    /// sequence alone, so tiles may exceed the tile size given to <see cref="WorkspaceLength"/>'s caller — it is
    /// asked for the longest tile. False by default.
    /// </summary>
    bool UsesSequences => false;

    /// <summary>
    /// Whether the model takes missing values — NaN entries of a point, the other entries observed — and marginalises them
    /// (<see cref="Mixtures.MissingValues.Marginalize"/>). The drivers then summarise each feature over its observed entries,
    /// and initializations see the missing entries replaced by their feature's observed mean (the EM iterations marginalise
    /// them). False by default: a NaN is invalid data.
    /// </summary>
    bool AllowsMissingValues => false;

    /// <summary>
    /// Whether the statistics <see cref="Expectation"/> adds are the data's own — they do not depend on the
    /// parameters (the count, Σ x and Σ x xᵀ of factor analysis, Φᵀ Φ and Φᵀ y of a regression) — so that the
    /// E-step of every iteration is a function of them: <see cref="Maximize"/> takes its expectations from the
    /// statistics and <see cref="ObjectiveOfStatistics"/> gives the objective. The batch driver then passes over
    /// the data once per fit, and each iteration costs what the model's algebra on the statistics costs,
    /// independent of N. The drivers then take the objective of every pass that accumulates statistics from
    /// <see cref="ObjectiveOfStatistics"/>, so such a model's <see cref="Expectation"/> need only write point
    /// objectives when its statistics argument is null (evaluation). False by default.
    /// </summary>
    bool StatisticsIndependentOfParameters => false;

    /// <summary>
    /// Under the model's current parameters (no <see cref="PrepareExpectation"/> need precede it), the objective
    /// Σ w ℓ of the points whose statistics are given: what the sum of <see cref="Expectation"/>'s results over those
    /// points would be. Called only when <see cref="StatisticsIndependentOfParameters"/> is true; the batch driver
    /// calls it once per iteration, before <see cref="Maximize"/> on the same statistics.
    /// </summary>
    /// <param name="statistics">Statistics of this model's layout (all points of a pass, merged).</param>
    /// <returns>Σ w ℓ.</returns>
    /// <exception cref="NotSupportedException">The model's statistics depend on its parameters.</exception>
    double ObjectiveOfStatistics(SufficientStatistics statistics) =>
        throw new NotSupportedException("This model's statistics depend on its parameters: its objective is the sum of its E-step's results.");
}

/// <summary>
/// A model whose latent variable is a component index: the posterior of each point over the K components
/// (its responsibilities) is what prediction and clustering use.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public interface IMixtureModel<T> : IExpectationMaximizationModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>K, the number of components.</summary>
    int Components { get; }

    /// <summary>
    /// Under the prepared parameters, writes the responsibilities r_kn (K × B, component-major) of the
    /// tile's points and their log-likelihoods ℓ_n; returns Σ w ℓ. Must not change the model.
    /// </summary>
    /// <param name="tile">The points, in the fit's frame.</param>
    /// <param name="responsibilities">K × B outputs (may be the start of <paramref name="workspace"/>).</param>
    /// <param name="pointLogLikelihoods">B outputs.</param>
    /// <param name="workspace">Scratch of at least <see cref="IExpectationMaximizationModel{T}.WorkspaceLength"/> elements.</param>
    /// <returns>Σ w ℓ.</returns>
    double Posterior(in DataTile<T> tile, Span<T> responsibilities, Span<T> pointLogLikelihoods, Span<T> workspace);
}
