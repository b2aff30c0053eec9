using System.Runtime.CompilerServices;
using EmKernels.Numerics;

namespace EmKernels.Mixtures;

/// <summary>
/// Model-based hierarchical agglomeration with unconstrained (VVV) Gaussian clusters (Fraley 1998; mclust's <c>hc</c> with
/// <c>modelName = "VVV"</c>, <c>use = "SVD"</c>, as <c>Mclust</c> calls it to start EM): the data are standardized and
/// rotated to their scaled principal coordinates, then from N singletons the pair of clusters whose merge costs the
/// criterion least is merged, N − 1 times. Deterministic: no random start, the same partitions for every K.
/// </summary>
/// <remarks>
/// The criterion of a cluster of n points with scatter W and trace t is n log(β(t + α)/n) for n ≤ p', and
/// n log(det(W/n) + β(t + α)/n) beyond (α = max(tr W_Z / (N p'), ε), β = 1). mclust 6.0.0's Fortran stores the factor of a
/// merged cluster's scatter wrongly (its first row in every row), which changes the determinants of later merges between
/// clusters of several points; <see cref="MclustStoredFactors"/> reproduces that (mclust's merges and costs to rounding:
/// the parity fixtures run so), and the exact criterion is the alternative. The default is mclust's, so that a fit started
/// from it starts where mclust's does.
/// </remarks>
public sealed class HierarchicalAgglomeration
{
    private readonly int[] _merges;

    private HierarchicalAgglomeration(int points, int dimensions, double[] transformed, double alpha, int[] merges, double[] costs)
    {
        Points = points;
        Dimensions = dimensions;
        TransformedData = transformed;
        Alpha = alpha;
        _merges = merges;
        MergeCosts = costs;
    }

    /// <summary>N.</summary>
    public int Points { get; }

    /// <summary>p' = min(N, D): the principal coordinates the clustering ran in.</summary>
    public int Dimensions { get; }

    /// <summary>The data in scaled principal coordinates Z = U S^½ (N × p', row-major; each column's largest-magnitude entry positive).</summary>
    public IReadOnlyList<double> TransformedData { get; }

    /// <summary>α, the criterion's regularization: max(tr W_Z / (N p'), ε).</summary>
    public double Alpha { get; }

    /// <summary>The cost of each of the N − 1 merges, in order.</summary>
    public IReadOnlyList<double> MergeCosts { get; }

    /// <summary>Merge t as the names (a, b), a &lt; b, of the two clusters merged: a cluster is named by its smallest point index; the merged one is then named a.</summary>
    /// <param name="merge">0-based t &lt; N − 1.</param>
    /// <returns>(a, b).</returns>
    public (int A, int B) Merge(int merge) => (_merges[2 * merge], _merges[2 * merge + 1]);

    /// <summary>Whether mclust 6.0.0's stored-factor determinants were used (the default), or the exact criterion.</summary>
    public bool MclustStoredFactors { get; private init; }

    /// <summary>The partition into <paramref name="groups"/> clusters after the first N − G merges, numbered 0 … G − 1 in the order of their first point (mclust's <c>hclass</c>).</summary>
    /// <param name="groups">G in 1 … N.</param>
    /// <returns>N labels.</returns>
    /// <exception cref="ArgumentOutOfRangeException">G is out of range.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int[] Partition(int groups)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(groups, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(groups, Points);
        int[] parent = Enumerable.Range(0, Points).ToArray();
        int Find(int i)
        {
            while (parent[i] != i)
            {
                parent[i] = parent[parent[i]];
                i = parent[i];
            }

            return i;
        }

        for (int t = 0; t < Points - groups; t++)
        {
            parent[Find(_merges[2 * t + 1])] = Find(_merges[2 * t]);
        }

        int[] labels = new int[Points];
        var numbers = new Dictionary<int, int>();
        for (int i = 0; i < Points; i++)
        {
            int root = Find(i);
            if (!numbers.TryGetValue(root, out int label))
            {
                label = numbers.Count;
                numbers[root] = label;
            }

            labels[i] = label;
        }

        return labels;
    }

    /// <summary>Runs the agglomeration on row-major data.</summary>
    /// <param name="data">N × D finite values, row-major.</param>
    /// <param name="points">N (≥ 2).</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="mclustStoredFactors">Reproduce mclust 6.0.0's stored-factor determinants (true, the default) or use the exact criterion.</param>
    /// <returns>The merges.</returns>
    /// <exception cref="ArgumentException">The shape does not fit, a value is not finite, or a column is constant.</exception>
    public static HierarchicalAgglomeration Vvv(ReadOnlySpan<double> data, int points, int features, bool mclustStoredFactors = true) =>
        Vvv(data, points, features, mclustStoredFactors, Environment.ProcessorCount);

    /// <summary><see cref="Vvv(ReadOnlySpan{double}, int, int, bool)"/> on at most <paramref name="threads"/> threads (the merges are the same on any number).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static HierarchicalAgglomeration Vvv(ReadOnlySpan<double> data, int points, int features, bool mclustStoredFactors, int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(points, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        if ((long)points * features != data.Length || !data.ToArray().All(double.IsFinite))
        {
            throw new ArgumentException($"Expected {points} × {features} finite values.", nameof(data));
        }

        (double[] z, int p) = ScaledPrincipalCoordinates(data, points, features);
        int n = points;
        double trace = 0;
        double[] mean = new double[p];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < p; j++)
            {
                mean[j] += z[i * p + j] / n;
            }
        }

        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < p; j++)
            {
                trace += (z[i * p + j] - mean[j]) * (z[i * p + j] - mean[j]);
            }
        }

        double alpha = Math.Max(trace / (n * p), 2.220446049250313e-16);
        using var state = new Agglomerator(z, n, p, alpha, mclustStoredFactors, threads);
        (int[] merges, double[] costs) = state.Run();
        return new HierarchicalAgglomeration(n, p, z, alpha, merges, costs) { MclustStoredFactors = mclustStoredFactors };
    }

    /// <summary>Z = U S^½ of the standardized data's thin SVD X_s = U S Vᵀ (as X_s V S^−½), columns by decreasing singular value, each column's largest-magnitude entry positive.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (double[] Z, int P) ScaledPrincipalCoordinates(ReadOnlySpan<double> data, int n, int d)
    {
        double[] x = new double[n * d];
        for (int j = 0; j < d; j++)
        {
            double mean = 0;
            for (int i = 0; i < n; i++)
            {
                mean += data[i * d + j];
            }

            mean /= n;
            double squares = 0;
            for (int i = 0; i < n; i++)
            {
                squares += (data[i * d + j] - mean) * (data[i * d + j] - mean);
            }

            double sd = Math.Sqrt(squares / (n - 1));
            if (!(sd > 0))
            {
                throw new ArgumentException($"Column {j} is constant; the agglomeration standardizes every column.", "data");
            }

            for (int i = 0; i < n; i++)
            {
                x[i * d + j] = (data[i * d + j] - mean) / sd;
            }
        }

        // V and S² from the eigen-decomposition of X_sᵀX_s (D × D).
        double[] gram = new double[d * d];
        for (int i = 0; i < n; i++)
        {
            for (int a = 0; a < d; a++)
            {
                for (int b = 0; b < d; b++)
                {
                    gram[a * d + b] += x[i * d + a] * x[i * d + b];
                }
            }
        }

        double[] values = new double[d], vectors = new double[d * d];
        DenseMatrix.SymmetricEigen(gram, d, values, vectors);
        int p = Math.Min(n, d);
        int[] order = Enumerable.Range(0, d).OrderByDescending(j => values[j]).Take(p).ToArray();
        double[] z = new double[n * p];
        for (int c = 0; c < p; c++)
        {
            double scale = Math.Pow(Math.Max(values[order[c]], 0), -0.25); // S^−½ = (s²)^−¼
            double largest = 0;
            for (int i = 0; i < n; i++)
            {
                double sum = 0;
                for (int a = 0; a < d; a++)
                {
                    sum += x[i * d + a] * vectors[a * d + order[c]];
                }

                z[i * p + c] = sum * scale;
                if (Math.Abs(z[i * p + c]) > Math.Abs(largest))
                {
                    largest = z[i * p + c];
                }
            }

            if (largest < 0)
            {
                for (int i = 0; i < n; i++)
                {
                    z[i * p + c] = -z[i * p + c];
                }
            }
        }

        return (z, p);
    }

    /// <summary>The agglomeration's state: clusters, their scatters (as used and as stored), and the pair costs.</summary>
    private sealed class Agglomerator(double[] z, int n, int p, double alpha, bool quirk, int threads) : IDisposable
    {
        private readonly Cluster?[] _clusters = new Cluster?[n];
        private readonly double[] _costs = new double[(long)n * (n - 1) / 2]; // the pairs i < j, row by row

        /// <summary>Where the cost of the pair i &lt; j is in <c>_costs</c>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private long Pair(int i, int j) => ((long)i * ((2L * n) - i - 1) / 2) + (j - i - 1);
        private readonly double[] _fresh = new double[n];
        private readonly Scratch _main = new(p);
        private readonly ThreadLocal<Scratch> _scratch = new(() => new Scratch(p));
        private int _recent = -1;

        /// <summary>2^±600: the running product of <see cref="Determinant"/> is rescaled beyond them.</summary>
        private static readonly double Huge = Math.ScaleB(1.0, 600), Tiny = Math.ScaleB(1.0, -600);

        /// <summary>Below this many pairs a sweep of costs runs on one thread (a parallel loop costs a few microseconds).</summary>
        private const int ParallelPairs = 256;

        private readonly ParallelOptions _parallel = new() { MaxDegreeOfParallelism = threads };

        public void Dispose() => _scratch.Dispose();

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public (int[] Merges, double[] Costs) Run()
        {
            for (int i = 0; i < n; i++)
            {
                _clusters[i] = new Cluster(i, z.AsSpan(i * p, p).ToArray(), p, Math.Log(alpha));
            }

            // Every singleton pair's cost, rows side by side (each cost is computed alone: the same on any thread).
            Parallel.For(0, n, _parallel, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (row) =>
            {
                Scratch scratch = _scratch.Value!;
                for (int j = row + 1; j < n; j++)
                {
                    _costs[Pair(row, j)] = Cost(_clusters[row]!, _clusters[j]!, first: true, scratch);
                }
            });

            // Each active row's cheapest partner to its right (ties to the lower index), so a merge costs O(N) rather than a scan
            // of every pair: the pair chosen is the same, the cheapest in (row, column) order.
            double[] rowMin = new double[n];
            int[] rowArg = new int[n];
            for (int i = 0; i < n; i++)
            {
                Rescan(i, rowMin, rowArg);
            }

            int[] merges = new int[2 * (n - 1)];
            double[] costs = new double[n - 1];
            for (int t = 0; t < n - 1; t++)
            {
                int bestA = -1;
                double best = double.PositiveInfinity;
                for (int i = 0; i < n; i++)
                {
                    if (_clusters[i] is not null && rowArg[i] >= 0 && rowMin[i] < best)
                    {
                        best = rowMin[i];
                        bestA = i;
                    }
                }

                int bestB = rowArg[bestA];
                Cluster a = _clusters[bestA]!, b = _clusters[bestB]!;
                Cluster merged = Merge(a, b, best, first: t == 0);
                _clusters[bestA] = merged;
                _clusters[bestB] = null;
                _recent = bestA;
                merges[2 * t] = bestA;
                merges[2 * t + 1] = bestB;
                costs[t] = best;
                FreshCosts(merged, bestA, n - t - 2);
                for (int o = 0; o < n; o++)
                {
                    if (o != bestA && _clusters[o] is not null)
                    {
                        double cost = _fresh[o];
                        _costs[Pair(Math.Min(o, bestA), Math.Max(o, bestA))] = cost;
                        if (o < bestA)
                        {
                            if (cost < rowMin[o] || (cost == rowMin[o] && bestA < rowArg[o]))
                            {
                                rowMin[o] = cost;
                                rowArg[o] = bestA;
                            }
                            else if (rowArg[o] == bestA)
                            {
                                Rescan(o, rowMin, rowArg);
                            }
                        }
                    }
                }

                Rescan(bestA, rowMin, rowArg);
                for (int i = 0; i < bestB; i++)
                {
                    if (_clusters[i] is not null && rowArg[i] == bestB)
                    {
                        Rescan(i, rowMin, rowArg);
                    }
                }
            }

            return (merges, costs);
        }

        /// <summary>The costs of merging the newest cluster with every other active one, into <c>_fresh</c> (in parallel when there are many).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void FreshCosts(Cluster merged, int name, int others)
        {
            if (others < ParallelPairs || threads == 1)
            {
                for (int o = 0; o < n; o++)
                {
                    if (o != name && _clusters[o] is { } other)
                    {
                        _fresh[o] = Cost(merged, other, first: false, _main);
                    }
                }

                return;
            }

            int chunks = Math.Min(threads * 4, n);
            Parallel.For(0, chunks, _parallel, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (chunk) =>
            {
                Scratch scratch = _scratch.Value!;
                int end = (int)((long)n * (chunk + 1) / chunks);
                for (int o = (int)((long)n * chunk / chunks); o < end; o++)
                {
                    if (o != name && _clusters[o] is { } other)
                    {
                        _fresh[o] = Cost(merged, other, first: false, scratch);
                    }
                }
            });
        }

        /// <summary>Row i's cheapest active partner j &gt; i (−1 when there is none).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Rescan(int i, double[] rowMin, int[] rowArg)
        {
            rowMin[i] = double.PositiveInfinity;
            rowArg[i] = -1;
            if (_clusters[i] is null)
            {
                return;
            }

            long row = Pair(i, i + 1) - (i + 1);
            for (int j = i + 1; j < n; j++)
            {
                if (_clusters[j] is not null && _costs[row + j] < rowMin[i])
                {
                    rowMin[i] = _costs[row + j];
                    rowArg[i] = j;
                }
            }
        }

        /// <summary>The cost of merging A (the most recent cluster, or a singleton at the start) with B.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private double Cost(Cluster a, Cluster b, bool first, Scratch scratch)
        {
            double[] v = scratch.V;
            // Up to p' points the criterion is n log(β(t + α)/n): it needs the trace, not the combined scatter (every
            // singleton pair of the first N²/2 costs, and the small clusters of the early merges). The same arithmetic.
            int count = a.Count + b.Count;
            if (count <= p)
            {
                double f = Math.Sqrt((double)a.Count * b.Count / count);
                for (int j = 0; j < p; j++)
                {
                    v[j] = f * (a.Mean[j] - b.Mean[j]);
                }

                double trace = a.Trace + b.Trace + Dot(v);
                return (count * Math.Log((trace + alpha) / count)) - a.Criterion - b.Criterion;
            }

            double[] e = Combined(a, b, useE: true, first, scratch);
            double t = a.Trace + b.Trace + Dot(v);
            return Criterion(count, e, t, scratch) - a.Criterion - b.Criterion;
        }

        /// <summary>E_A + S_B + v vᵀ (mclust's stored factors; with the exact criterion W_A + W_B + v vᵀ), v = √(n_A n_B / (n_A + n_B)) (m_A − m_B).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private double[] Combined(Cluster a, Cluster b, bool useE, bool first, Scratch scratch)
        {
            double[] v = scratch.V, candidate = scratch.Candidate;
            double f = Math.Sqrt((double)a.Count * b.Count / (a.Count + b.Count));
            for (int j = 0; j < p; j++)
            {
                v[j] = f * (a.Mean[j] - b.Mean[j]);
            }

            double[] left = quirk && !useE ? a.Stored : a.Scatter;
            double[] right = quirk ? b.Stored : b.Scatter;
            for (int r = 0; r < p; r++)
            {
                for (int c = 0; c < p; c++)
                {
                    candidate[r * p + c] = left[r * p + c] + right[r * p + c] + (v[r] * v[c]);
                }
            }

            _ = first;
            return candidate;
        }

        private Cluster Merge(Cluster a, Cluster b, double cost, bool first)
        {
            // The merged scatter "in memory": the one the cost used when one of the two was formed by the previous merge (or at
            // the first merge), else the stored versions of both (mclust's Fortran).
            bool recentPair = first || _recent == a.Name || _recent == b.Name;
            Cluster newer = _recent == b.Name ? b : a, older = ReferenceEquals(newer, a) ? b : a;
            double[] e = recentPair ? Combined(newer, older, useE: true, first, _main).ToArray() : Combined(a, b, useE: false, first, _main).ToArray();
            double t = a.Trace + b.Trace + Dot(_main.V);
            int count = a.Count + b.Count;
            double[] mean = new double[p];
            for (int j = 0; j < p; j++)
            {
                mean[j] = ((a.Count * a.Mean[j]) + (b.Count * b.Mean[j])) / count;
            }

            var merged = new Cluster(Math.Min(a.Name, b.Name), mean, p, cost + a.Criterion + b.Criterion)
            {
                Count = count,
                Trace = t,
                Scatter = e,
            };
            merged.Stored = quirk ? StoredFactor(e, count) : e;
            return merged;
        }

        /// <summary>S = Σ_{r&lt;min(n−1, p')} e_r e_rᵀ, e_r = (0 … 0, c_r … c_p'), c = E[0, :] / √E[0, 0]: mclust's stored copy of the factor's first row.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private double[] StoredFactor(double[] e, int count)
        {
            double[] s = new double[p * p];
            if (!(e[0] > 0))
            {
                return s;
            }

            double root = Math.Sqrt(e[0]);
            int rows = Math.Min(count - 1, p);
            for (int r = 0; r < rows; r++)
            {
                for (int a = r; a < p; a++)
                {
                    for (int b = r; b < p; b++)
                    {
                        s[a * p + b] += e[a] / root * (e[b] / root);
                    }
                }
            }

            return s;
        }

        /// <summary>T(n, E, t) = n log(β(t + α)/n) for n ≤ p', else n log(det(E/n) + β(t + α)/n) (det 0 for a singular E).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private double Criterion(int count, double[] e, double t, Scratch scratch)
        {
            double[] scaled = scratch.Scaled, lower = scratch.Lower;
            double term = (t + alpha) / count;
            if (count <= p)
            {
                return count * Math.Log(term);
            }

            for (int i = 0; i < p * p; i++)
            {
                scaled[i] = e[i] / count;
            }

            return count * Math.Log(Determinant(scaled, lower) + term);
        }

        /// <summary>
        /// det A of a symmetric p × p matrix as the product of its Cholesky pivots (L_jj²: no logarithms), 0 when A is not
        /// positive definite; the running product is rescaled by powers of two when it leaves [2^−600, 2^600], so that only a
        /// determinant beyond double's range over- or underflows.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private double Determinant(double[] a, double[] l)
        {
            double product = 1;
            int exponent = 0;
            for (int j = 0; j < p; j++)
            {
                double pivot = a[j * p + j];
                for (int k = 0; k < j; k++)
                {
                    pivot -= l[j * p + k] * l[j * p + k];
                }

                if (!(pivot > 0) || !double.IsFinite(pivot))
                {
                    return 0;
                }

                double diagonal = Math.Sqrt(pivot);
                for (int i = j + 1; i < p; i++)
                {
                    double value = a[i * p + j];
                    for (int k = 0; k < j; k++)
                    {
                        value -= l[i * p + k] * l[j * p + k];
                    }

                    l[i * p + j] = value / diagonal;
                }

                product *= pivot;
                if (product > Huge || product < Tiny)
                {
                    int scale = Math.ILogB(product);
                    product = Math.ScaleB(product, -scale);
                    exponent += scale;
                }
            }

            return Math.ScaleB(product, exponent);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static double Dot(double[] v)
        {
            double sum = 0;
            foreach (double x in v)
            {
                sum += x * x;
            }

            return sum;
        }
    }

    /// <summary>One thread's work arrays for the costs.</summary>
    private sealed class Scratch(int p)
    {
        public double[] V { get; } = new double[p];

        public double[] Candidate { get; } = new double[p * p];

        public double[] Lower { get; } = new double[p * p];

        public double[] Scaled { get; } = new double[p * p];
    }

    /// <summary>A cluster: its name (smallest point), size, mean, trace, criterion, scatter as used and as stored.</summary>
    private sealed class Cluster(int name, double[] mean, int p, double criterion)
    {
        public int Name { get; } = name;

        public int Count { get; init; } = 1;

        public double[] Mean { get; } = mean;

        public double Trace { get; init; }

        public double Criterion { get; } = criterion;

        public double[] Scatter { get; init; } = new double[p * p];

        public double[] Stored { get; set; } = new double[p * p];
    }
}
