namespace EmKernels.Numerics;

/// <summary>
/// A stream of random numbers that is a function of a key alone (SplitMix64 from a hash of the key's parts), so that the
/// draws of a point depend on the seed, the iteration and the point's index — not on the thread, tile, segment or process
/// that makes them. Uniform, standard normal (Box–Muller) and Gamma (Marsaglia and Tsang 2000) draws.
/// </summary>
internal struct CounterRandom
{
    private ulong _state;

    public CounterRandom(ulong seed, long index, ulong stream)
    {
        _state = Mix(Mix(seed ^ 0x243F6A8885A308D3UL) ^ (ulong)index) ^ Mix(stream + 0x13198A2E03707344UL);
    }

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }

    /// <summary>N(0, 1).</summary>
    public double NextNormal()
    {
        double u1 = 1.0 - NextDouble();
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Gamma(<paramref name="shape"/>, 1) for shape &gt; 0.</summary>
    public double NextGamma(double shape)
    {
        if (shape < 1)
        {
            double boost = Math.Pow(1.0 - NextDouble(), 1 / shape);
            return NextGamma(shape + 1) * boost;
        }

        double d = shape - (1.0 / 3), c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x = NextNormal(), v = 1 + (c * x);
            if (v <= 0)
            {
                continue;
            }

            v = v * v * v;
            double u = 1.0 - NextDouble();
            if (Math.Log(u) < (0.5 * x * x) + d - (d * v) + (d * Math.Log(v)))
            {
                return d * v;
            }
        }
    }
}
