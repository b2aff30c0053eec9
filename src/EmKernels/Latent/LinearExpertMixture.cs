using System.Numerics;
using EmKernels.Engine;
using EmKernels.Kernels;
using EmKernels.Numerics;

namespace EmKernels.Latent;

/// <summary>How the probability of each expert depends on the inputs.</summary>
public enum ExpertGating
{
    /// <summary>Constant mixing weights w_k: a mixture of linear regressions (flexmix's <c>FLXMRglm</c>, mixtools' <c>regmixEM</c>).</summary>
    Constant,

    /// <summary>
    /// A softmax gate g_k(x) = exp(xᵀv_k) / Σ_j exp(xᵀv_j) on the same design row as the experts, v_{K−1} = 0 (the reference
    /// class): a mixture of experts (Jordan and Jacobs 1994).
    /// </summary>
    Softmax,
}

/// <summary>
/// K linear-regression experts y | x, k ~ N(xᵀβ_k, σ²_k) with constant or softmax gating, as a model of the EM engine. Each
/// point is a row of inputs followed by its response y (the data's last column); the design row x is the inputs, after a 1
/// when the model has an intercept, so P = inputs + 1 with an intercept and D = inputs + 1.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
/// <remarks>
/// <para>E-step: log ρ_k = log π_k(x) − ½ log(2πσ²_k) − (y − xᵀβ_k)² / (2σ²_k) and responsibilities by log-sum-exp; the
/// objective is the mean conditional log-likelihood (1/Σw) Σ w log p(y | x). The statistics are, per expert, N_k = Σ w r,
/// Σ w r x xᵀ, Σ w r x e and Σ w r e², with e = y − xᵀc_k the residual about the shift c_k (the coefficients when the pass
/// started), so the residual sum of squares of the new coefficients is a difference of numbers of the residuals' size,
/// not of y's.</para>
/// <para>M-step: the experts by weighted least squares, β_k = c_k + (Σ w r x xᵀ)⁻¹ Σ w r x e, σ²_k = (Σ w r e² − δᵀ Σ w r x e)
/// / N_k (the maximum-likelihood variance of the new coefficients); constant weights w_k = N_k / Σ N. A softmax gate has no
/// closed-form maximizer: each iteration takes exactly one Newton (IRLS) step on Σ w r log g(V) from the current V, with the
/// gradient Σ w (r_j − g_j) x and the Hessian −Σ w g_j (δ_jl − g_l) x xᵀ accumulated in the same pass — a generalized M-step,
/// which the drivers check for monotonicity like any other (a step that would need a singular Hessian keeps the gate).</para>
/// <para>The flat parameter vector is the gate (K weights, or the K × P gating rows), then the K × P coefficients, then
/// the K variances.</para>
/// </remarks>
public sealed class LinearExpertMixture<T> : IMixtureModel<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly double[] _gate;
    private readonly double[] _coefficients;
    private readonly double[] _variances;
    private readonly double[] _shift;
    private readonly double[] _logWeights;
    private readonly double[] _constants;
    private readonly double[] _lower;
    private readonly double[] _solution;
    private readonly double[] _matrix;
    private double[]? _initial;

    /// <summary>K experts on P regressors (the design's columns, the intercept's included), with unit variances and zero coefficients.</summary>
    /// <param name="gating">Constant or softmax gating.</param>
    /// <param name="components">K (≥ 1; ≥ 2 for a softmax gate to mean anything).</param>
    /// <param name="regressors">P (≥ 1; ≥ 2 with an intercept to have any input).</param>
    /// <param name="intercept">Whether the design's column 0 is a 1 the model adds (not a column of the data).</param>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range, or the gating is unknown.</exception>
    public LinearExpertMixture(ExpertGating gating, int components, int regressors, bool intercept = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(components, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(regressors, 1);
        if (!Enum.IsDefined(gating))
        {
            throw new ArgumentOutOfRangeException(nameof(gating), gating, "Unknown gating.");
        }

        Gating = gating;
        Components = components;
        Regressors = regressors;
        Intercept = intercept;
        int k = components, p = regressors, j = GateRows;
        _gate = new double[gating == ExpertGating.Constant ? k : k * p];
        if (gating == ExpertGating.Constant)
        {
            Array.Fill(_gate, 1.0 / k);
        }

        _coefficients = new double[k * p];
        _variances = Enumerable.Repeat(1.0, k).ToArray();
        _shift = new double[k * p];
        _logWeights = new double[k];
        _constants = new double[k];
        int largest = Math.Max(p, j * p);
        _lower = new double[largest * largest];
        _solution = new double[largest];
        _matrix = new double[largest * largest];
        var blocks = new List<StatisticsBlock>
        {
            new("shift", k * p, IsShift: true),
            new("mass", k),
            new("design-scatter", k * p * p),
            new("design-residual", k * p),
            new("residual-squares", k),
        };
        if (gating == ExpertGating.Softmax)
        {
            blocks.Add(new StatisticsBlock("gate-gradient", j * p));
            blocks.Add(new StatisticsBlock("gate-hessian", j * p * j * p));
        }

        StatisticsLayout = new StatisticsLayout($"linear-experts-{gating.ToString().ToLowerInvariant()}/1", [.. blocks]);
    }

    /// <summary>Constant or softmax gating.</summary>
    public ExpertGating Gating { get; }

    /// <inheritdoc/>
    public int Components { get; }

    /// <summary>P, the regressors (the design's columns).</summary>
    public int Regressors { get; }

    /// <summary>Whether the design's column 0 is a 1 the model adds.</summary>
    public bool Intercept { get; }

    /// <summary>D: the inputs (P, or P − 1 with an intercept), then the response.</summary>
    public int Features => Regressors - (Intercept ? 1 : 0) + 1;

    /// <summary>The design row of point <paramref name="i"/> of a tile (with the intercept's 1 first when there is one).</summary>
    private void DesignRow(in DataTile<T> tile, int i, Span<double> phi)
    {
        int offset = Intercept ? 1 : 0;
        if (Intercept)
        {
            phi[0] = 1;
        }

        for (int c = offset; c < phi.Length; c++)
        {
            phi[c] = double.CreateTruncating(tile[i, c - offset]);
        }
    }

    /// <summary>How each run starts: <see cref="StartFromData"/> (the default) or the parameters the model holds.</summary>
    public bool StartFromData { get; set; } = true;

    /// <summary>Constant gating: the K weights w_k; softmax: the K × P gating rows v_k (row K − 1 is 0).</summary>
    public Span<double> Gate => _gate;

    /// <summary>β_k, K × P row-major.</summary>
    public Span<double> Coefficients => _coefficients;

    /// <summary>σ²_k, K.</summary>
    public Span<double> Variances => _variances;

    /// <inheritdoc/>
    public int FreeParameterCount => (Components * (Regressors + 1)) + (Gating == ExpertGating.Constant ? Components - 1 : GateRows * Regressors);

    /// <inheritdoc/>
    public StatisticsLayout StatisticsLayout { get; }

    /// <inheritdoc/>
    public int ParameterLength => _gate.Length + _coefficients.Length + _variances.Length;

    /// <summary>Not translation-equivariant (moving x moves the intercept's meaning): the frame is the data's own.</summary>
    public bool SupportsTranslation => false;

    private int GateRows => Components - 1;

    /// <inheritdoc/>
    public void Translate(ReadOnlySpan<double> offset) => throw new NotSupportedException("A mixture of regressions is evaluated in the data's own coordinates.");

    /// <inheritdoc/>
    public void WriteParameters(Span<double> destination)
    {
        _gate.CopyTo(destination);
        _coefficients.CopyTo(destination[_gate.Length..]);
        _variances.CopyTo(destination[(_gate.Length + _coefficients.Length)..]);
    }

    /// <inheritdoc/>
    public void ReadParameters(ReadOnlySpan<double> source)
    {
        source[.._gate.Length].CopyTo(_gate);
        source.Slice(_gate.Length, _coefficients.Length).CopyTo(_coefficients);
        source.Slice(_gate.Length + _coefficients.Length, _variances.Length).CopyTo(_variances);
    }

    /// <summary>Checks parameters before a fit from them: finite, variances positive, weights a distribution, the gate's last row 0.</summary>
    /// <exception cref="ArgumentException">A value is invalid; the message says which.</exception>
    internal void CheckParameters()
    {
        if (!_coefficients.All(double.IsFinite))
        {
            throw new ArgumentException("Every coefficient must be finite.", "coefficients");
        }

        if (!_variances.All(v => v > 0 && double.IsFinite(v)))
        {
            throw new ArgumentException("Every variance must be positive and finite.", "variances");
        }

        if (Gating == ExpertGating.Constant)
        {
            if (!_gate.All(w => w >= 0 && double.IsFinite(w)) || Math.Abs(_gate.Sum() - 1) > 1e-6)
            {
                throw new ArgumentException("The weights must be non-negative and sum to 1.", "weights");
            }
        }
        else if (!_gate.All(double.IsFinite) || _gate.AsSpan(GateRows * Regressors).ContainsAnyExcept(0.0))
        {
            throw new ArgumentException("The gating rows must be finite, and the last (the reference class) all 0.", "gating");
        }
    }

    /// <inheritdoc/>
    public int WorkspaceLength(int tilePoints) => 3 * Components * tilePoints;

    /// <inheritdoc/>
    public void Validate(in DataTile<T> tile) => TileChecks.RequireFinite(tile);

    /// <inheritdoc/>
    public bool Initialize(ModelInitialization<T> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!StartFromData)
        {
            if (context.Restart == 0)
            {
                _initial = new double[ParameterLength];
                WriteParameters(_initial);
            }

            ReadParameters(_initial!);
            return true;
        }

        // Each expert by least squares on P + 2 distinct random rows; every variance the residual variance of least squares
        // on all rows; equal weights, or gating rows drawn from N(0, 0.5²).
        int k = Components, p = Regressors;
        long n = context.Summary.Points;
        Random random = context.Random;
        int take = (int)Math.Min(p + 2, n);
        long[][] rows = new long[k][];
        for (int j = 0; j < k; j++)
        {
            rows[j] = DistinctRows(random, n, take);
        }

        double[] all = new double[(p * p) + p + 2];
        double[][] subsets = Enumerable.Range(0, k).Select(_ => new double[(p * p) + p]).ToArray();
        double[] phi = new double[p];
        context.ForEachTile((in DataTile<T> tile) =>
        {
            for (int i = 0; i < tile.Points; i++)
            {
                double w = double.CreateTruncating(tile.Weight(i));
                DesignRow(tile, i, phi);
                double y = double.CreateTruncating(tile[i, tile.Features - 1]);
                AddNormalEquations(all, phi, y, w);
                all[(p * p) + p] += w * y * y;
                all[(p * p) + p + 1] += w;
                for (int j = 0; j < k; j++)
                {
                    if (Array.IndexOf(rows[j], tile.Start + i) >= 0)
                    {
                        AddNormalEquations(subsets[j], phi, y, 1);
                    }
                }
            }
        });
        double[] overall = LeastSquares(all, p) ?? new double[p];
        double residual = all[(p * p) + p];
        for (int c = 0; c < p; c++)
        {
            residual -= overall[c] * all[(p * p) + c];
        }

        double weight = all[(p * p) + p + 1];
        double variance = residual / weight;
        if (!(variance > 0) || !double.IsFinite(variance))
        {
            variance = Math.Max(all[(p * p) + p] / weight, 1e-300);
        }

        for (int j = 0; j < k; j++)
        {
            (LeastSquares(subsets[j], p) ?? overall).CopyTo(_coefficients, j * p);
            _variances[j] = variance;
        }

        if (Gating == ExpertGating.Constant)
        {
            Array.Fill(_gate, 1.0 / k);
        }
        else
        {
            Array.Clear(_gate);
            for (int i = 0; i < GateRows * p; i++)
            {
                _gate[i] = 0.5 * StandardNormal.Next(random);
            }
        }

        return false;
    }

    /// <inheritdoc/>
    public void PrepareExpectation(bool reshift)
    {
        for (int k = 0; k < Components; k++)
        {
            _constants[k] = -0.5 * Math.Log(2 * Math.PI * _variances[k]);
            if (Gating == ExpertGating.Constant)
            {
                _logWeights[k] = Math.Log(_gate[k]);
            }
        }

        if (reshift)
        {
            _coefficients.CopyTo(_shift, 0);
        }
    }

    /// <inheritdoc/>
    public void AdoptShift(SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        statistics.Shift.CopyTo(_shift);
    }

    /// <inheritdoc/>
    public void ResetStatistics(SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        _shift.CopyTo(statistics.Shift);
        statistics.Clear();
    }

    /// <inheritdoc/>
    public double Posterior(in DataTile<T> tile, Span<T> responsibilities, Span<T> pointLogLikelihoods, Span<T> workspace)
    {
        int k = Components, points = tile.Points;
        Span<T> logRho = responsibilities[..(k * points)];
        LogProbabilities(tile, logRho, workspace.Slice(k * points, k * points));
        return MixtureKernels.Responsibilities<T>(logRho, k, points, pointLogLikelihoods, tile.SampleWeights);
    }

    /// <summary>
    /// log ρ_kn for the tile (K × B), and with softmax gating the gate probabilities g_kn into <paramref name="gates"/> (K × B).
    /// </summary>
    private void LogProbabilities(in DataTile<T> tile, Span<T> logRho, Span<T> gates)
    {
        int k = Components, p = Regressors, points = tile.Points;
        ReadOnlySpan<T> y = tile.Feature(tile.Features - 1);
        Span<double> phi = stackalloc double[p];
        for (int i = 0; i < points; i++)
        {
            DesignRow(tile, i, phi);
            double maxA = double.NegativeInfinity;
            if (Gating == ExpertGating.Softmax)
            {
                for (int j = 0; j < k; j++)
                {
                    double a = 0;
                    for (int c = 0; c < p; c++)
                    {
                        a += _gate[j * p + c] * phi[c];
                    }

                    gates[j * points + i] = T.CreateTruncating(a);
                    maxA = Math.Max(maxA, a);
                }

                double sum = 0;
                for (int j = 0; j < k; j++)
                {
                    sum += Math.Exp(double.CreateTruncating(gates[j * points + i]) - maxA);
                }

                double logNormalizer = maxA + Math.Log(sum);
                for (int j = 0; j < k; j++)
                {
                    double logGate = double.CreateTruncating(gates[j * points + i]) - logNormalizer;
                    gates[j * points + i] = T.CreateTruncating(Math.Exp(logGate));
                    logRho[j * points + i] = T.CreateTruncating(logGate);
                }
            }

            double yi = double.CreateTruncating(y[i]);
            for (int j = 0; j < k; j++)
            {
                double mean = 0;
                for (int c = 0; c < p; c++)
                {
                    mean += _coefficients[j * p + c] * phi[c];
                }

                double residual = yi - mean;
                double logPi = Gating == ExpertGating.Constant ? _logWeights[j] : double.CreateTruncating(logRho[j * points + i]);
                logRho[j * points + i] = T.CreateTruncating(logPi + _constants[j] - (residual * residual / (2 * _variances[j])));
            }
        }
    }

    /// <inheritdoc/>
    public double Expectation(in DataTile<T> tile, SufficientStatistics? statistics, Span<T> workspace, Span<T> pointObjectives)
    {
        int k = Components, p = Regressors, points = tile.Points;
        Span<T> r = workspace[..(k * points)];
        Span<T> gates = workspace.Slice(k * points, k * points);
        LogProbabilities(tile, r, gates);
        double objective = MixtureKernels.Responsibilities<T>(r, k, points, pointObjectives, tile.SampleWeights);
        if (statistics is null)
        {
            return objective;
        }

        Span<double> mass = statistics.Block(1), scatter = statistics.Block(2), residuals = statistics.Block(3), squares = statistics.Block(4);
        Span<double> gradient = Gating == ExpertGating.Softmax ? statistics.Block(5) : default;
        Span<double> hessian = Gating == ExpertGating.Softmax ? statistics.Block(6) : default;
        Span<double> phi = stackalloc double[p];
        int jp = GateRows * p;
        for (int i = 0; i < points; i++)
        {
            double w = double.CreateTruncating(tile.Weight(i));
            DesignRow(tile, i, phi);
            double yi = double.CreateTruncating(tile[i, tile.Features - 1]);
            for (int j = 0; j < k; j++)
            {
                double omega = w * double.CreateTruncating(r[j * points + i]);
                if (omega == 0)
                {
                    continue;
                }

                double e = yi;
                for (int c = 0; c < p; c++)
                {
                    e -= _shift[j * p + c] * phi[c];
                }

                mass[j] += omega;
                squares[j] += omega * e * e;
                Span<double> a = scatter.Slice(j * p * p, p * p);
                for (int c = 0; c < p; c++)
                {
                    double oc = omega * phi[c];
                    residuals[j * p + c] += oc * e;
                    for (int b = c; b < p; b++)
                    {
                        a[c * p + b] += oc * phi[b];
                    }
                }
            }

            if (Gating != ExpertGating.Softmax || w == 0)
            {
                continue;
            }

            // The gate's Newton step: Σ w (r_j − g_j) x and Σ w g_j (δ_jl − g_l) x xᵀ (the upper triangle of −H).
            for (int j = 0; j < GateRows; j++)
            {
                double gj = double.CreateTruncating(gates[j * points + i]);
                double rj = double.CreateTruncating(r[j * points + i]);
                for (int c = 0; c < p; c++)
                {
                    gradient[j * p + c] += w * (rj - gj) * phi[c];
                }

                for (int l = j; l < GateRows; l++)
                {
                    double gl = double.CreateTruncating(gates[l * points + i]);
                    double factor = w * gj * ((j == l ? 1 : 0) - gl);
                    for (int c = 0; c < p; c++)
                    {
                        int row = (j * p) + c;
                        for (int b = l == j ? c : 0; b < p; b++)
                        {
                            hessian[(row * jp) + (l * p) + b] += factor * phi[c] * phi[b];
                        }
                    }
                }
            }
        }

        return objective;
    }

    /// <inheritdoc/>
    public bool Maximize(SufficientStatistics statistics, MaximizationContext context)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        int k = Components, p = Regressors;
        ReadOnlySpan<double> shift = statistics.Block(0), mass = statistics.Block(1), scatter = statistics.Block(2), residuals = statistics.Block(3), squares = statistics.Block(4);
        double total = 0;
        foreach (double m in mass)
        {
            total += m;
        }

        Span<double> a = _matrix.AsSpan(0, p * p);
        for (int j = 0; j < k; j++)
        {
            if (!(mass[j] > 1e-300))
            {
                continue; // an expert without points keeps its parameters
            }

            for (int c = 0; c < p; c++)
            {
                for (int b = c; b < p; b++)
                {
                    a[c * p + b] = scatter[(j * p * p) + (c * p) + b];
                    a[b * p + c] = a[c * p + b];
                }
            }

            if (!DenseMatrix.TryCholesky(a, p, _lower))
            {
                continue; // its points do not determine its coefficients: they stay (a generalized M-step)
            }

            Span<double> delta = _solution.AsSpan(0, p);
            residuals.Slice(j * p, p).CopyTo(delta);
            DenseMatrix.CholeskySolve(_lower, p, delta);
            double explained = 0;
            for (int c = 0; c < p; c++)
            {
                _coefficients[j * p + c] = shift[j * p + c] + delta[c];
                explained += delta[c] * residuals[j * p + c];
            }

            double variance = (squares[j] - explained) / mass[j];
            if (variance > 0 && double.IsFinite(variance))
            {
                _variances[j] = variance;
            }
        }

        if (Gating == ExpertGating.Constant)
        {
            for (int j = 0; j < k; j++)
            {
                _gate[j] = mass[j] / total;
            }
        }
        else
        {
            GateStep(statistics.Block(5), statistics.Block(6));
        }

        return false;
    }

    /// <summary>One Newton step of the gate: V += (−H)⁻¹ ∇ (the gate stays where −H is not positive definite).</summary>
    private void GateStep(ReadOnlySpan<double> gradient, ReadOnlySpan<double> hessian)
    {
        int n = GateRows * Regressors;
        Span<double> negativeHessian = _matrix.AsSpan(0, n * n);
        for (int a = 0; a < n; a++)
        {
            for (int b = a; b < n; b++)
            {
                negativeHessian[a * n + b] = hessian[a * n + b];
                negativeHessian[b * n + a] = hessian[a * n + b];
            }
        }

        if (!DenseMatrix.TryCholesky(negativeHessian, n, _lower))
        {
            return;
        }

        Span<double> step = _solution.AsSpan(0, n);
        gradient.CopyTo(step);
        DenseMatrix.CholeskySolve(_lower, n, step);
        for (int i = 0; i < n; i++)
        {
            _gate[i] += step[i];
        }
    }

    /// <inheritdoc/>
    public double ObjectiveCorrection() => 0;

    /// <summary>Stepwise EM would need implied statistics, which a regression mixture (whose inputs are data) does not give: false.</summary>
    /// <param name="statistics">Unused.</param>
    /// <returns>False.</returns>
    public bool TryWriteImpliedStatistics(SufficientStatistics statistics) => false;

    /// <summary>The gate probabilities π_k(x) of design rows (N × P row-major): N × K, row-major.</summary>
    /// <param name="design">N × P values.</param>
    /// <param name="points">N.</param>
    /// <returns>N × K probabilities.</returns>
    internal double[] GateProbabilities(ReadOnlySpan<double> design, int points)
    {
        int k = Components, p = Regressors;
        double[] result = new double[points * k];
        for (int i = 0; i < points; i++)
        {
            if (Gating == ExpertGating.Constant)
            {
                _gate.CopyTo(result, i * k);
                continue;
            }

            double max = double.NegativeInfinity;
            for (int j = 0; j < k; j++)
            {
                double a = 0;
                for (int c = 0; c < p; c++)
                {
                    a += _gate[j * p + c] * design[i * p + c];
                }

                result[i * k + j] = a;
                max = Math.Max(max, a);
            }

            double sum = 0;
            for (int j = 0; j < k; j++)
            {
                sum += Math.Exp(result[i * k + j] - max);
            }

            double log = max + Math.Log(sum);
            for (int j = 0; j < k; j++)
            {
                result[i * k + j] = Math.Exp(result[i * k + j] - log);
            }
        }

        return result;
    }

    private static void AddNormalEquations(double[] target, ReadOnlySpan<double> phi, double y, double w)
    {
        int p = phi.Length;
        for (int c = 0; c < p; c++)
        {
            for (int b = c; b < p; b++)
            {
                target[c * p + b] += w * phi[c] * phi[b];
            }

            target[(p * p) + c] += w * phi[c] * y;
        }
    }

    /// <summary>The least-squares coefficients from normal equations (upper triangle of XᵀX, then Xᵀy); null when XᵀX is singular.</summary>
    private static double[]? LeastSquares(double[] normal, int p)
    {
        double[] a = new double[p * p];
        for (int c = 0; c < p; c++)
        {
            for (int b = c; b < p; b++)
            {
                a[c * p + b] = normal[c * p + b];
                a[b * p + c] = normal[c * p + b];
            }
        }

        double[] lower = new double[p * p];
        if (!DenseMatrix.TryCholesky(a, p, lower))
        {
            return null;
        }

        double[] solution = normal.AsSpan(p * p, p).ToArray();
        DenseMatrix.CholeskySolve(lower, p, solution);
        return solution;
    }

    private static long[] DistinctRows(Random random, long n, int count)
    {
        var chosen = new HashSet<long>();
        long[] rows = new long[count];
        for (int i = 0; i < count; i++)
        {
            long row;
            do
            {
                row = random.NextInt64(n);
            }
            while (!chosen.Add(row));
            rows[i] = row;
        }

        return rows;
    }
}
