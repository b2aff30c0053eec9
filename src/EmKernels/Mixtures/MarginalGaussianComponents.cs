using System.Collections.Concurrent;
using System.Numerics;
using EmKernels.Engine;
using EmKernels.Numerics;

namespace EmKernels.Mixtures;

/// <summary>
/// Gaussian components of any covariance structure on data with missing values (NaN entries), marginalised as in
/// Ghahramani and Jordan (1994): a point with observed entries o and missing entries h has the log-density of its observed
/// sub-vector, log N(x_o | μ_o, Σ_oo), and contributes to the M-step its conditional expectation x̂_h = μ_h + Σ_ho Σ_oo⁻¹
/// (x_o − μ_o) (x̂_o = x_o) and conditional covariance C_hh = Σ_hh − Σ_ho Σ_oo⁻¹ Σ_oh: N_k = Σ r, μ_k = Σ r x̂ / N_k,
/// Σ_k = Σ r [(x̂ − μ_k)(x̂ − μ_k)ᵀ + C] / N_k (+ reg_covar). Rows without a missing value take the Gaussian family's
/// fused kernels as they are; the factors of Σ_oo are made once per (missingness pattern, component) per pass.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
/// <remarks>
/// The parameters and statistics are the Gaussian family's (<see cref="Gaussian"/>). A row must have at least one observed
/// value; infinite values are refused as usual. The fit's frame is not rescaled by powers of two (data beyond 10^±154 with
/// missing values are not supported), so that the per-point Jacobian stays exact whatever the number of observed entries.
/// </remarks>
public sealed class MarginalGaussianComponents<T> : ComponentFamily<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly GaussianComponents<T> _gaussian;
    private readonly int _gaussianLength;
    private readonly double[] _covariances;
    private readonly double[] _means;
    private readonly double[] _shift;
    private readonly ConcurrentDictionary<string, Pattern> _patterns = new(StringComparer.Ordinal);
    private static long s_instances;
    private readonly long _instance = Interlocked.Increment(ref s_instances);
    private int _generation;

    [ThreadStatic]
    private static Scratch? t_scratch;

    /// <summary>Wraps <paramref name="gaussian"/> (its parameters become this family's).</summary>
    /// <param name="gaussian">The Gaussian components (any covariance structure).</param>
    public MarginalGaussianComponents(GaussianComponents<T> gaussian)
        : base(CheckedGaussian(gaussian).Components, gaussian.Features, gaussian.Parameters.Length, gaussian.StatisticsLayout)
    {
        _gaussian = gaussian;
        _gaussianLength = gaussian.Parameters.Length;
        gaussian.Parameters.CopyTo(Parameters);
        int k = gaussian.Components, d = gaussian.Features;
        _covariances = new double[k * d * d];
        _means = new double[k * d];
        _shift = new double[k * d];
    }

    /// <summary>The Gaussian components (synchronised with this family's parameters before each use).</summary>
    public GaussianComponents<T> Gaussian
    {
        get
        {
            Parameters.CopyTo(_gaussian.Parameters);
            return _gaussian;
        }
    }

    /// <summary>The covariance structure.</summary>
    public CovarianceType CovarianceType => _gaussian.CovarianceType;

    /// <summary>K × D means.</summary>
    public Span<double> Means => Parameters[..(Components * Features)];

    /// <summary>The covariances in the structure's layout.</summary>
    public Span<double> Covariances => Parameters[(Components * Features)..];

    /// <inheritdoc/>
    public override bool AllowsMissingValues => true;

    /// <inheritdoc/>
    public override int FreeParameterCount => _gaussian.FreeParameterCount;

    /// <inheritdoc/>
    public override bool SupportsTranslation => true;

    /// <inheritdoc/>
    public override bool AccumulatesMass => true;

    /// <inheritdoc/>
    public override int WorkspaceLength(int tilePoints) => _gaussian.WorkspaceLength(tilePoints);

    /// <inheritdoc/>
    public override void Translate(ReadOnlySpan<double> offset)
    {
        Parameters.CopyTo(_gaussian.Parameters);
        _gaussian.Translate(offset);
        _gaussian.Parameters.CopyTo(Parameters);
    }

    /// <inheritdoc/>
    public override int FrameScaleExponent(DataSummary? summary) => 0;

    /// <inheritdoc/>
    public override void BeginFit(ModelInitialization<T> context) => WithGaussian(g => g.BeginFit(context));

    /// <inheritdoc/>
    public override void ResetComponent(int component, DataSummary summary) => WithGaussian(g => g.ResetComponent(component, summary));

    /// <inheritdoc/>
    public override void Reseed(int component, ReadOnlySpan<double> point)
    {
        Parameters.CopyTo(_gaussian.Parameters);
        _gaussian.Reseed(component, point);
        _gaussian.Parameters.CopyTo(Parameters);
    }

    /// <inheritdoc/>
    public override void WriteShift(Span<double> shift) => _gaussian.WriteShift(shift);

    /// <inheritdoc/>
    public override void ReadShift(ReadOnlySpan<double> shift) => _gaussian.ReadShift(shift);

    /// <inheritdoc/>
    public override double ObjectiveRoundingError() => _gaussian.ObjectiveRoundingError();

    /// <inheritdoc/>
    public override bool TryWriteImpliedStatistics(ReadOnlySpan<double> weights, SufficientStatistics statistics)
    {
        Parameters.CopyTo(_gaussian.Parameters);
        return _gaussian.TryWriteImpliedStatistics(weights, statistics);
    }

    /// <summary>Every value finite or missing (NaN), and every row with at least one observed value.</summary>
    /// <param name="tile">The tile.</param>
    public override void Validate(in DataTile<T> tile)
    {
        int d = Features;
        for (int i = 0; i < tile.Points; i++)
        {
            int observed = 0;
            for (int f = 0; f < d; f++)
            {
                T value = tile[i, f];
                if (T.IsNaN(value))
                {
                    continue;
                }

                if (!T.IsFinite(value))
                {
                    throw new ArgumentException($"The data contain {value} at row {tile.Start + i}, column {f}; every value must be finite or missing (NaN).", "data");
                }

                observed++;
            }

            if (observed == 0)
            {
                throw new ArgumentException($"Row {tile.Start + i} has no observed value; a row needs at least one.", "data");
            }
        }
    }

    /// <inheritdoc/>
    protected override void Prepare(bool reshift)
    {
        Parameters.CopyTo(_gaussian.Parameters);
        _gaussian.PrepareExpectation(LogWeights, reshift);
        int d = Features;
        for (int k = 0; k < Components; k++)
        {
            _gaussian.WriteFullCovariance(k, _covariances.AsSpan(k * d * d, d * d));
        }

        Means.CopyTo(_means);
        _gaussian.WriteShift(_shift);
        _patterns.Clear(); // the factors of every pattern follow the new covariances
        _generation++; // what a thread remembers of a tile holds within one pass
    }

    /// <inheritdoc/>
    public override void LogProbabilities(in DataTile<T> tile, Span<T> destination, Span<T> workspace)
    {
        _gaussian.LogProbabilities(tile, destination, workspace);
        int points = tile.Points, d = Features;
        Scratch scratch = Scratch.For(ref t_scratch, d, points, Components);

        // A missing value makes its row's Gaussian log-densities NaN (the kernels propagate NaN, as their property tests
        // against the scalar references check): finite log-densities of the first component clear the tile at B checks.
        bool missing = !Kernels.Common.Reductions.AllFinite<T>(destination[..points]) && FindMissing(tile, scratch);
        scratch.Remember(_instance, _generation, tile.Start, points, missing);
        if (!missing)
        {
            return; // a complete tile: the Gaussian kernel's values are the log-densities
        }

        Span<double> x = scratch.Row;
        for (int i = 0; i < points; i++)
        {
            if (!scratch.Incomplete[i])
            {
                continue;
            }

            Pattern pattern = PatternOf(tile, i, x);
            for (int k = 0; k < Components; k++)
            {
                destination[(k * points) + i] = T.CreateTruncating(LogWeights[k] + pattern.ObservedLogDensity(k, x, _means, Features, scratch.Solve));
            }
        }
    }

    /// <inheritdoc/>
    public override void Accumulate(in DataTile<T> tile, ReadOnlySpan<T> responsibilities, SufficientStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        int points = tile.Points, d = Features, k = Components;
        Scratch scratch = Scratch.For(ref t_scratch, d, points, Components);

        // The E-step's log-densities of this tile, on this thread and in this pass, found its rows already.
        bool missing = scratch.Recalls(_instance, _generation, tile.Start, points, out bool remembered) ? remembered : FindMissing(tile, scratch);
        if (!missing)
        {
            _gaussian.Accumulate(tile, responsibilities, statistics);
            return;
        }

        // The complete rows through the Gaussian kernels (incomplete ones at zero responsibility, their values at zero) …
        Span<T> values = scratch.Values.AsSpan(0, d * points);
        Span<T> masked = scratch.Responsibilities.AsSpan(0, k * points);
        for (int f = 0; f < d; f++)
        {
            ReadOnlySpan<T> feature = tile.Feature(f);
            for (int i = 0; i < points; i++)
            {
                values[(f * points) + i] = T.IsNaN(feature[i]) ? T.Zero : feature[i];
            }
        }

        for (int j = 0; j < k; j++)
        {
            for (int i = 0; i < points; i++)
            {
                masked[(j * points) + i] = scratch.Incomplete[i] ? T.Zero : responsibilities[(j * points) + i];
            }
        }

        var complete = new DataTile<T>(values, d, points, points, tile.Start, tile.SampleWeights, tile.Labels);
        _gaussian.Accumulate(complete, masked, statistics);

        // … and each incomplete row by its conditional moments, component by component.
        Span<double> mass = statistics.Block(1), first = statistics.Block(2), second = statistics.Block(3);
        Span<double> x = scratch.Row, mean = scratch.Mean, covariance = scratch.Covariance;
        for (int i = 0; i < points; i++)
        {
            if (!scratch.Incomplete[i])
            {
                continue;
            }

            Pattern pattern = PatternOf(tile, i, x);
            double weight = double.CreateTruncating(tile.Weight(i));
            for (int j = 0; j < k; j++)
            {
                double r = weight * double.CreateTruncating(responsibilities[(j * points) + i]);
                if (r == 0)
                {
                    continue;
                }

                pattern.Conditional(j, x, _means, d, mean, covariance, scratch.Solve);
                ReadOnlySpan<double> shift = _shift.AsSpan(j * d, d);
                mass[j] += r;
                for (int a = 0; a < d; a++)
                {
                    first[(j * d) + a] += r * (mean[a] - shift[a]);
                }

                switch (CovarianceType)
                {
                    case CovarianceType.Full:
                    case CovarianceType.Tied:
                        int offset = CovarianceType == CovarianceType.Full ? j * d * d : 0;
                        for (int a = 0; a < d; a++)
                        {
                            for (int b = a; b < d; b++)
                            {
                                second[offset + (a * d) + b] += r * (((mean[a] - shift[a]) * (mean[b] - shift[b])) + covariance[(a * d) + b]);
                            }
                        }

                        break;
                    default:
                        for (int a = 0; a < d; a++)
                        {
                            second[(j * d) + a] += r * (((mean[a] - shift[a]) * (mean[a] - shift[a])) + covariance[(a * d) + a]);
                        }

                        break;
                }
            }
        }
    }

    /// <inheritdoc/>
    public override void Maximize(SufficientStatistics statistics, ReadOnlySpan<bool> held, Span<bool> degenerate)
    {
        Parameters.CopyTo(_gaussian.Parameters);
        _gaussian.Maximize(statistics, held, degenerate);
        _gaussian.Parameters.CopyTo(Parameters);
    }

    /// <summary>
    /// Component <paramref name="component"/>'s conditional mean of a point (D values, in the fit's frame, NaN where missing) given
    /// its observed entries, its conditional covariance (D × D, zero but for the missing block), and its observed log-density
    /// log N(x_o | μ_o, Σ_oo). Call after a pass's preparation (<see cref="ComponentFamily{T}.PrepareExpectation"/>).
    /// </summary>
    internal double ConditionalMoments(ReadOnlySpan<double> point, int component, Span<double> mean, Span<double> covariance)
    {
        int d = Features;
        double[] solve = new double[d];
        Pattern pattern = PatternOf(point);
        pattern.Conditional(component, point, _means, d, mean, covariance, solve);
        return pattern.ObservedLogDensity(component, point, _means, d, solve);
    }

    private void WithGaussian(Action<GaussianComponents<T>> action)
    {
        Parameters.CopyTo(_gaussian.Parameters);
        action(_gaussian);
        _gaussian.Parameters.CopyTo(Parameters);
    }

    private static GaussianComponents<T> CheckedGaussian(GaussianComponents<T> gaussian)
    {
        ArgumentNullException.ThrowIfNull(gaussian);
        return gaussian;
    }

    /// <summary>Marks the tile's rows with a missing value; false if there is none (a vectorized test per feature first).</summary>
    private bool FindMissing(in DataTile<T> tile, Scratch scratch)
    {
        bool complete = true;
        for (int f = 0; f < Features && complete; f++)
        {
            complete = Kernels.Common.Reductions.AllFinite(tile.Feature(f)); // validated: not finite means NaN
        }

        if (complete)
        {
            return false;
        }

        int points = tile.Points;
        bool any = false;
        Array.Clear(scratch.Incomplete, 0, points);
        for (int f = 0; f < Features; f++)
        {
            ReadOnlySpan<T> feature = tile.Feature(f);
            for (int i = 0; i < points; i++)
            {
                if (T.IsNaN(feature[i]))
                {
                    scratch.Incomplete[i] = true;
                    any = true;
                }
            }
        }

        return any;
    }

    /// <summary>Row <paramref name="i"/> of the tile into <paramref name="x"/>, and the factors of its missingness pattern.</summary>
    private Pattern PatternOf(in DataTile<T> tile, int i, Span<double> x)
    {
        for (int f = 0; f < Features; f++)
        {
            x[f] = double.CreateTruncating(tile[i, f]);
        }

        return PatternOf(x);
    }

    private Pattern PatternOf(ReadOnlySpan<double> x)
    {
        Span<char> key = Features <= 256 ? stackalloc char[Features] : new char[Features];
        for (int f = 0; f < Features; f++)
        {
            key[f] = double.IsNaN(x[f]) ? 'm' : 'o';
        }

        string name = new(key);
        if (_patterns.TryGetValue(name, out Pattern? made))
        {
            return made;
        }

        return _patterns.GetOrAdd(name, new Pattern(x, Components, Features, _covariances)); // a racing thread's equal copy is as good
    }

    /// <summary>
    /// The factors of one missingness pattern for every component: the Cholesky factor L of Σ_oo, log det Σ_oo,
    /// M = L⁻¹ Σ_oh and the conditional covariance Σ_hh − Mᵀ M.
    /// </summary>
    private sealed class Pattern
    {
        private readonly int[] _observed;
        private readonly int[] _hidden;
        private readonly double[][] _lower;
        private readonly double[] _logDeterminant;
        private readonly double[][] _projection;
        private readonly double[][] _conditional;

        public Pattern(ReadOnlySpan<double> x, int components, int features, double[] covariances)
        {
            var observed = new List<int>();
            var hidden = new List<int>();
            for (int f = 0; f < features; f++)
            {
                (double.IsNaN(x[f]) ? hidden : observed).Add(f);
            }

            _observed = [.. observed];
            _hidden = [.. hidden];
            int o = _observed.Length, h = _hidden.Length, d = features;
            _lower = new double[components][];
            _logDeterminant = new double[components];
            _projection = new double[components][];
            _conditional = new double[components][];
            for (int k = 0; k < components; k++)
            {
                ReadOnlySpan<double> sigma = covariances.AsSpan(k * d * d, d * d);
                double[] block = new double[o * o];
                for (int a = 0; a < o; a++)
                {
                    for (int b = 0; b < o; b++)
                    {
                        block[(a * o) + b] = sigma[(_observed[a] * d) + _observed[b]];
                    }
                }

                double[] lower = new double[o * o];
                if (!DenseMatrix.TryCholesky(block, o, lower))
                {
                    throw new InvalidOperationException("A covariance's observed block is not positive definite.");
                }

                _lower[k] = lower;
                _logDeterminant[k] = 2 * DenseMatrix.LogDiagonalSum(lower, o);

                // M = L⁻¹ Σ_oh, column by column, and C = Σ_hh − Mᵀ M.
                double[] projection = new double[o * h];
                for (int c = 0; c < h; c++)
                {
                    for (int a = 0; a < o; a++)
                    {
                        double sum = sigma[(_observed[a] * d) + _hidden[c]];
                        for (int b = 0; b < a; b++)
                        {
                            sum -= lower[(a * o) + b] * projection[(b * h) + c];
                        }

                        projection[(a * h) + c] = sum / lower[(a * o) + a];
                    }
                }

                double[] conditional = new double[h * h];
                for (int a = 0; a < h; a++)
                {
                    for (int b = 0; b < h; b++)
                    {
                        double sum = sigma[(_hidden[a] * d) + _hidden[b]];
                        for (int c = 0; c < o; c++)
                        {
                            sum -= projection[(c * h) + a] * projection[(c * h) + b];
                        }

                        conditional[(a * h) + b] = sum;
                    }
                }

                _projection[k] = projection;
                _conditional[k] = conditional;
            }
        }

        /// <summary>y = L⁻¹ (x_o − μ_o) into <paramref name="y"/>; returns yᵀ y.</summary>
        private double Whiten(int k, ReadOnlySpan<double> x, double[] means, int d, Span<double> y)
        {
            int o = _observed.Length;
            double[] lower = _lower[k];
            double squared = 0;
            for (int a = 0; a < o; a++)
            {
                double sum = x[_observed[a]] - means[(k * d) + _observed[a]];
                for (int b = 0; b < a; b++)
                {
                    sum -= lower[(a * o) + b] * y[b];
                }

                y[a] = sum / lower[(a * o) + a];
                squared += y[a] * y[a];
            }

            return squared;
        }

        /// <summary>log N(x_o | μ_k,o, Σ_k,oo).</summary>
        public double ObservedLogDensity(int k, ReadOnlySpan<double> x, double[] means, int d, Span<double> solve)
        {
            double squared = Whiten(k, x, means, d, solve);
            return -0.5 * ((_observed.Length * Math.Log(2 * Math.PI)) + _logDeterminant[k] + squared);
        }

        /// <summary>x̂ (x_o observed, μ_h + Mᵀ y missing) and C (the conditional covariance in the missing block, zero elsewhere).</summary>
        public void Conditional(int k, ReadOnlySpan<double> x, double[] means, int d, Span<double> mean, Span<double> covariance, Span<double> solve)
        {
            Whiten(k, x, means, d, solve);
            int o = _observed.Length, h = _hidden.Length;
            double[] projection = _projection[k], conditional = _conditional[k];
            covariance[..(d * d)].Clear();
            foreach (int f in _observed)
            {
                mean[f] = x[f];
            }

            for (int c = 0; c < h; c++)
            {
                double sum = means[(k * d) + _hidden[c]];
                for (int a = 0; a < o; a++)
                {
                    sum += projection[(a * h) + c] * solve[a];
                }

                mean[_hidden[c]] = sum;
                for (int b = 0; b < h; b++)
                {
                    covariance[(_hidden[c] * d) + _hidden[b]] = conditional[(c * h) + b];
                }
            }
        }
    }

    /// <summary>Per-thread buffers.</summary>
    private sealed class Scratch(int features, int points, int components)
    {
        public bool[] Incomplete { get; } = new bool[points];

        public T[] Values { get; } = new T[features * points];

        public T[] Responsibilities { get; } = new T[components * points];

        public double[] Row { get; } = new double[features];

        public double[] Mean { get; } = new double[features];

        public double[] Covariance { get; } = new double[features * features];

        public double[] Solve { get; } = new double[features];

        public int Features => features;

        private long _owner;
        private int _generation = -1;
        private long _start = -1;
        private int _points = -1;
        private bool _missing;

        /// <summary>
        /// Notes that the tile at <paramref name="start"/> of this family's pass has missing values or not (rows in <see cref="Incomplete"/>).
        /// The scratch is the thread's, shared by every family on it: the owner is part of what is noted.
        /// </summary>
        public void Remember(long owner, int generation, long start, int points, bool missing) =>
            (_owner, _generation, _start, _points, _missing) = (owner, generation, start, points, missing);

        /// <summary>Whether the last tile noted is this one, of this family's pass; then <paramref name="missing"/> says if it has missing values.</summary>
        public bool Recalls(long owner, int generation, long start, int points, out bool missing)
        {
            missing = _missing;
            return owner == _owner && generation == _generation && start == _start && points == _points;
        }

        public static Scratch For(ref Scratch? cached, int features, int points, int components) =>
            cached is { } c && c.Features == features && c.Incomplete.Length >= points && c.Responsibilities.Length >= points * components
                ? c
                : cached = new Scratch(features, Math.Max(points, 256), components);
    }
}
