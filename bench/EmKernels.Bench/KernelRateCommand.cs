using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using EmKernels.Kernels;
using EmKernels.Kernels.Common;

namespace EmKernels.Bench;

/// <summary>
/// <c>kernel-rate [--diag] [--n N] [--d D] [--k K] [--tile B] [--float32]</c>: the E-step and M-step kernels alone,
/// one thread, as the EM loop calls them (B-point tiles, default 256, over N points). Full covariance (default
/// N = 200,000, D = 32) reports useful GFLOP/s: K·N·D(D+1)/2 multiply-adds each (2 flops); <c>--diag</c>
/// (default N = 1,000,000) reports seconds for the diagonal log-density, the responsibilities and the diagonal
/// statistics. A quick development gauge next to the BenchmarkDotNet kernel benchmarks; prints JSON lines,
/// best of 5 passes.
/// </summary>
internal static class KernelRateCommand
{
    public static int Run(string[] args)
    {
        bool diagonal = args.Contains("--diag");
        int d = Option(args, "--d", 32), k = Option(args, "--k", 16), n = Option(args, "--n", diagonal ? 1_000_000 : 200_000);
        int tile = Option(args, "--tile", 256);
        return args.Contains("--float32") ? Measure<float>(n, d, k, tile, diagonal) : Measure<double>(n, d, k, tile, diagonal);
    }

    private static int Option(string[] args, string name, int fallback)
    {
        int at = Array.IndexOf(args, name);
        return at >= 0 ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static int Measure<T>(int n, int d, int k, int tile, bool diagonal)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var random = new Random(1);
        T U(double low, double high) => T.CreateTruncating(low + (high - low) * random.NextDouble());
        var data = new FeatureMajorMatrix<T>(n, d);
        for (int f = 0; f < d; f++)
        {
            foreach (ref T v in data.Feature(f))
            {
                v = U(-2, 2);
            }
        }

        T[] means = Enumerable.Range(0, k * d).Select(_ => U(-1, 1)).ToArray();
        T[] factors = new T[k * d * d];
        for (int c = 0; c < k; c++)
        {
            for (int i = 0; i < d; i++)
            {
                factors[(c * d + i) * d + i] = U(0.5, 2);
                for (int j = i + 1; j < d; j++)
                {
                    factors[(c * d + i) * d + j] = U(-0.3, 0.3);
                }
            }
        }

        T[] offsets = new T[k];
        T[] block = new T[k * tile];
        T[] responsibilities = Enumerable.Range(0, k * tile).Select(_ => U(0, 1)).ToArray();
        double[] mass = new double[k], first = new double[k * d], scatter = new double[k * d * d];
        double flops = 2.0 * k * n * d * (d + 1) / 2;

        // Every kernel is timed the way the EM loop calls it: tile by tile over all N points.
        double OverTiles(Action<int, int> call) => Best(() =>
        {
            for (int start = 0; start < n; start += tile)
            {
                call(start, Math.Min(tile, n - start));
            }
        });

        double Best(Action pass)
        {
            double best = double.PositiveInfinity;
            for (int r = 0; r < 6; r++)
            {
                var clock = Stopwatch.StartNew();
                pass();
                best = r == 0 ? best : Math.Min(best, clock.Elapsed.TotalSeconds);
            }

            return best;
        }

        if (diagonal)
        {
            T[] precisions = Enumerable.Range(0, k * d).Select(_ => U(0.5, 2)).ToArray();
            T[] logLikelihoods = new T[tile];
            T[] work = new T[k * tile];
            double density = OverTiles((start, count) => GaussianKernels.DiagonalLogDensity<T>(data.Tile(start, count), d, count, data.Stride, k, means, precisions, offsets, block.AsSpan(0, k * count)));
            // Responsibilities overwrite their input, so each tile is copied first; the copy alone is timed and taken off.
            double copy = OverTiles((start, count) => block.AsSpan(0, k * count).CopyTo(work));
            double posterior = OverTiles((start, count) =>
            {
                block.AsSpan(0, k * count).CopyTo(work);
                MixtureKernels.Responsibilities<T>(work.AsSpan(0, k * count), k, count, logLikelihoods.AsSpan(0, count));
            }) - copy;
            // The vector exp alone over the same K·N values: the floor under Responsibilities (one exp per value).
            double exponentials = OverTiles((start, count) => ExpOperator.Exp<T>(block.AsSpan(0, k * count), work.AsSpan(0, k * count)));
            double moments = OverTiles((start, count) => GaussianKernels.DiagonalSufficientStatistics<T>(data.Tile(start, count), d, count, data.Stride, responsibilities.AsSpan(0, k * count), k, default, means, mass, first, scatter.AsSpan(0, k * d)));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"DiagonalLogDensity\": {density:G4}, \"Responsibilities\": {posterior:G4}, \"Exp\": {exponentials:G4}, \"DiagonalSufficientStatistics\": {moments:G4}, \"type\": \"{typeof(T).Name}\"}}"));
            return 0;
        }

        double logDensity = OverTiles((start, count) => GaussianKernels.FullLogDensity<T>(data.Tile(start, count), d, count, data.Stride, k, means, factors, offsets, block.AsSpan(0, k * count)));
        double statistics = OverTiles((start, count) => GaussianKernels.FullSufficientStatistics<T>(data.Tile(start, count), d, count, data.Stride, responsibilities.AsSpan(0, k * count), k, default, means, mass, first, scatter));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"kernel\": \"FullLogDensity\", \"type\": \"{typeof(T).Name}\", \"seconds\": {logDensity:G4}, \"gflops\": {flops / logDensity / 1e9:F1}}}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"kernel\": \"FullSufficientStatistics\", \"type\": \"{typeof(T).Name}\", \"seconds\": {statistics:G4}, \"gflops\": {flops / statistics / 1e9:F1}}}"));
        return 0;
    }
}
