using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace EmKernels.Bench;

/// <summary>
/// <c>probe [--threads T]</c>: measures this machine's fp64 FMA peak and memory bandwidth and prints one JSON line
/// {"fma_gflops", "bandwidth_gbs", "threads"}. How: FMA — each thread runs 12 independent Vector512 (else widest)
/// multiply-add chains for ~0.5 s (2 flops per lane per FMA; 12 chains hide the FMA latency); bandwidth — each
/// thread sums its half of a 1 GiB array, best of 5 passes (reads only, as EM's passes over the data are).
/// </summary>
internal static class ProbeCommand
{
    public static int Run(string[] args)
    {
        int threads = args.Length > 2 && args[1] == "--threads" ? int.Parse(args[2], CultureInfo.InvariantCulture) : Environment.ProcessorCount;
        double gflops = Fma(threads);
        double bandwidth = Bandwidth(threads);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"fma_gflops\": {gflops:F1}, \"bandwidth_gbs\": {bandwidth:F1}, \"threads\": {threads}}}"));
        return 0;
    }

    private static double Fma(int threads)
    {
        long[] lanesFmas = new long[threads];
        var clock = Stopwatch.StartNew();
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t => lanesFmas[t] = FmaChains(TimeSpan.FromMilliseconds(500)));
        double seconds = clock.Elapsed.TotalSeconds;
        return 2.0 * lanesFmas.Sum() / seconds / 1e9;
    }

    private static long FmaChains(TimeSpan duration)
    {
        long rounds = 0;
        double sink = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            sink += Burst(10_000);
            rounds += 10_000;
        }

        return sink == 42 ? 0 : rounds * 12 * Vector512<double>.Count;
    }

    // No calls inside, so the 12 accumulators stay in registers (live across a call they were spilled:
    // measured 46 GFLOP/s that way).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static double Burst(int count)
    {
        var a = Vector512.Create(1.0000001);
        var b = Vector512.Create(1e-9);
        Vector512<double> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        Vector512<double> c6 = default, c7 = default, c8 = default, c9 = default, c10 = default, c11 = default;
        for (int i = 0; i < count; i++)
        {
            c0 = Vector512.FusedMultiplyAdd(c0, a, b); c1 = Vector512.FusedMultiplyAdd(c1, a, b); c2 = Vector512.FusedMultiplyAdd(c2, a, b);
            c3 = Vector512.FusedMultiplyAdd(c3, a, b); c4 = Vector512.FusedMultiplyAdd(c4, a, b); c5 = Vector512.FusedMultiplyAdd(c5, a, b);
            c6 = Vector512.FusedMultiplyAdd(c6, a, b); c7 = Vector512.FusedMultiplyAdd(c7, a, b); c8 = Vector512.FusedMultiplyAdd(c8, a, b);
            c9 = Vector512.FusedMultiplyAdd(c9, a, b); c10 = Vector512.FusedMultiplyAdd(c10, a, b); c11 = Vector512.FusedMultiplyAdd(c11, a, b);
        }

        return Vector512.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }

    private static double Bandwidth(int threads)
    {
        double[] data = new double[128 * 1024 * 1024];
        Array.Fill(data, 1.0);
        double best = 0;
        for (int pass = 0; pass < 5; pass++)
        {
            var clock = Stopwatch.StartNew();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
            {
                int length = data.Length / threads;
                Sum(data.AsSpan(t * length, length));
            });
            best = Math.Max(best, data.Length * 8.0 / clock.Elapsed.TotalSeconds / 1e9);
        }

        return best;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static double Sum(ReadOnlySpan<double> values)
    {
        ref double start = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(values);
        Vector512<double> s0 = default, s1 = default, s2 = default, s3 = default;
        int i = 0;
        for (; i + 32 <= values.Length; i += 32)
        {
            s0 += Vector512.LoadUnsafe(ref start, (nuint)i);
            s1 += Vector512.LoadUnsafe(ref start, (nuint)(i + 8));
            s2 += Vector512.LoadUnsafe(ref start, (nuint)(i + 16));
            s3 += Vector512.LoadUnsafe(ref start, (nuint)(i + 24));
        }

        return Vector512.Sum(s0 + s1 + s2 + s3);
    }
}
