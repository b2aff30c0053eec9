using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using EmKernels.Kernels;

namespace EmKernels.Bench;

/// <summary>
/// <c>hmm-lanes</c>: where the time of the Baum–Welch recursion goes with vector lanes across states (the library's
/// way: each step's α A, A β and α ⊗ next vectorized over the K states, <see cref="MarkovKernels"/>) against lanes
/// across sequences (eight sequences of the same length in the eight lanes of a Vector512: each step K² broadcast
/// multiply-adds per group). Both run the scaled forward pass (normalized each step), the backward pass and the expected
/// transitions' outer products on the same transitions and normalized emissions, one thread, double; the emissions'
/// arrangement for the lanes (time × state × lane) is made before timing. Prints one JSON line per K: nanoseconds per
/// observation both ways, and the log-likelihoods (they must agree).
/// <code>
/// hmm-lanes [--sequences S] [--length T]
/// </code>
/// </summary>
internal static class MarkovLanesCommand
{
    public static int Run(string[] args)
    {
        int sequences = 64, length = 2000;
        for (int i = 1; i + 1 < args.Length; i += 2)
        {
            int value = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            if (args[i] == "--sequences")
            {
                sequences = value / 8 * 8;
            }
            else if (args[i] == "--length")
            {
                length = value;
            }
        }

        if (!Vector512.IsHardwareAccelerated)
        {
            Console.Error.WriteLine("hmm-lanes needs Vector512.");
            return 2;
        }

        foreach (int k in new[] { 2, 4, 8, 16, 32 })
        {
            var random = new Random(k);
            double[] a = new double[k * k];
            for (int i = 0; i < k; i++)
            {
                double sum = 0;
                for (int j = 0; j < k; j++)
                {
                    a[i * k + j] = (i == j ? 5 : 0) + random.NextDouble();
                    sum += a[i * k + j];
                }

                for (int j = 0; j < k; j++)
                {
                    a[i * k + j] /= sum;
                }
            }

            double[] transposed = new double[k * k];
            for (int i = 0; i < k * k; i++)
            {
                transposed[(i % k) * k + i / k] = a[i];
            }

            // ρ_t(j) per sequence, time-major (t·K + j), and the same for groups of 8 sequences as (t·K + j)·8 + lane.
            double[][] rho = new double[sequences][];
            for (int s = 0; s < sequences; s++)
            {
                rho[s] = new double[length * k];
                for (int t = 0; t < length; t++)
                {
                    double sum = 0;
                    for (int j = 0; j < k; j++)
                    {
                        rho[s][t * k + j] = Math.Exp(-4 * random.NextDouble());
                        sum += rho[s][t * k + j];
                    }

                    for (int j = 0; j < k; j++)
                    {
                        rho[s][t * k + j] /= sum;
                    }
                }
            }

            double[][] lanes = new double[sequences / 8][];
            for (int g = 0; g < sequences / 8; g++)
            {
                lanes[g] = new double[length * k * 8];
                for (int t = 0; t < length; t++)
                {
                    for (int j = 0; j < k; j++)
                    {
                        for (int l = 0; l < 8; l++)
                        {
                            lanes[g][((t * k) + j) * 8 + l] = rho[g * 8 + l][t * k + j];
                        }
                    }
                }
            }

            var states = new StatesWay(k, length);
            var groups = new LanesWay(k, length);
            double statesLikelihood = 0, lanesLikelihood = 0;
            double statesTime = Best(() =>
            {
                statesLikelihood = 0;
                for (int s = 0; s < sequences; s++)
                {
                    statesLikelihood += states.Run(rho[s], a, transposed);
                }
            });
            double lanesTime = Best(() =>
            {
                lanesLikelihood = 0;
                for (int g = 0; g < sequences / 8; g++)
                {
                    lanesLikelihood += groups.Run(lanes[g], a);
                }
            });
            double observations = (double)sequences * length;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"k\": {k}, \"ns_per_observation_across_states\": {statesTime * 1e9 / observations:F2}, \"ns_per_observation_across_sequences\": {lanesTime * 1e9 / observations:F2}, " +
                $"\"log_likelihood_states\": {statesLikelihood:R}, \"log_likelihood_lanes\": {lanesLikelihood:R}}}"));
        }

        return 0;
    }

    private static double Best(Action run)
    {
        run();
        double best = double.PositiveInfinity;
        for (int round = 0; round < 5; round++)
        {
            var clock = Stopwatch.StartNew();
            run();
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }

        return best;
    }

    /// <summary>The library's way, as in HiddenMarkovModel's scaled recursion.</summary>
    private sealed class StatesWay(int k, int length)
    {
        private readonly double[] _alpha = new double[k * length];
        private readonly double[] _scale = new double[length];
        private readonly double[] _beta = new double[k];
        private readonly double[] _next = new double[k];
        private readonly double[] _outer = new double[k * k];

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public double Run(double[] rho, double[] a, double[] transposed)
        {
            double logLikelihood = 0;
            for (int t = 0; t < length; t++)
            {
                Span<double> current = _alpha.AsSpan(t * k, k);
                if (t == 0)
                {
                    for (int j = 0; j < k; j++)
                    {
                        current[j] = rho[j] / k;
                    }
                }
                else
                {
                    MarkovKernels.VectorTimesMatrix(_alpha.AsSpan((t - 1) * k, k), a, current);
                    for (int j = 0; j < k; j++)
                    {
                        current[j] *= rho[t * k + j];
                    }
                }

                double c = 0;
                foreach (double v in current)
                {
                    c += v;
                }

                double inverse = 1 / c;
                for (int j = 0; j < k; j++)
                {
                    current[j] *= inverse;
                }

                _scale[t] = c;
                logLikelihood += Math.Log(c);
            }

            Array.Fill(_beta, 1.0);
            Array.Clear(_outer);
            for (int t = length - 2; t >= 0; t--)
            {
                double inverse = 1 / _scale[t + 1];
                for (int j = 0; j < k; j++)
                {
                    _next[j] = rho[(t + 1) * k + j] * _beta[j] * inverse;
                }

                MarkovKernels.VectorTimesMatrix(_next, transposed, _beta);
                MarkovKernels.AddOuterProduct(_alpha.AsSpan(t * k, k), _next, _outer);
            }

            return logLikelihood + (_outer[0] * 0); // the outer products feed the result, so the JIT keeps their work
        }
    }

    /// <summary>Eight sequences in the lanes of a Vector512: α as K vectors per step, K² broadcast multiply-adds.</summary>
    private sealed class LanesWay(int k, int length)
    {
        private readonly Vector512<double>[] _alpha = new Vector512<double>[k * length];
        private readonly Vector512<double>[] _scale = new Vector512<double>[length];
        private readonly Vector512<double>[] _beta = new Vector512<double>[k];
        private readonly Vector512<double>[] _next = new Vector512<double>[k];
        private readonly Vector512<double>[] _outer = new Vector512<double>[k * k];

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public double Run(double[] rho, double[] a)
        {
            ref double r = ref rho[0];
            Vector512<double> logs = Vector512<double>.Zero;
            for (int t = 0; t < length; t++)
            {
                Span<Vector512<double>> current = _alpha.AsSpan(t * k, k);
                Vector512<double> c = Vector512<double>.Zero;
                for (int j = 0; j < k; j++)
                {
                    Vector512<double> e = Vector512.LoadUnsafe(ref r, (nuint)(((t * k) + j) * 8));
                    Vector512<double> sum;
                    if (t == 0)
                    {
                        sum = Vector512.Create(1.0 / k);
                    }
                    else
                    {
                        sum = Vector512<double>.Zero;
                        for (int i = 0; i < k; i++)
                        {
                            sum = Vector512.FusedMultiplyAdd(_alpha[((t - 1) * k) + i], Vector512.Create(a[i * k + j]), sum);
                        }
                    }

                    current[j] = sum * e;
                    c += current[j];
                }

                Vector512<double> inverse = Vector512<double>.One / c;
                for (int j = 0; j < k; j++)
                {
                    current[j] *= inverse;
                }

                _scale[t] = c;
                logs += Vector512.Log(c);
            }

            _beta.AsSpan().Fill(Vector512<double>.One);
            _outer.AsSpan().Clear();
            for (int t = length - 2; t >= 0; t--)
            {
                Vector512<double> inverse = Vector512<double>.One / _scale[t + 1];
                for (int j = 0; j < k; j++)
                {
                    _next[j] = Vector512.LoadUnsafe(ref r, (nuint)((((t + 1) * k) + j) * 8)) * _beta[j] * inverse;
                }

                for (int i = 0; i < k; i++)
                {
                    Vector512<double> sum = Vector512<double>.Zero;
                    Vector512<double> alpha = _alpha[(t * k) + i];
                    for (int j = 0; j < k; j++)
                    {
                        sum = Vector512.FusedMultiplyAdd(Vector512.Create(a[i * k + j]), _next[j], sum);
                        _outer[(i * k) + j] = Vector512.FusedMultiplyAdd(alpha, _next[j], _outer[(i * k) + j]);
                    }

                    _beta[i] = sum;
                }
            }

            return Vector512.Sum(logs) + (_outer[0][0] * 0); // as above: the outer products' work is kept
        }
    }
}
