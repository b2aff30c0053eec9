namespace EmKernels.Tests.Infrastructure;

/// <summary>A known Gaussian mixture (diagonal spreads, means well apart) and samples drawn from it.</summary>
public sealed record SyntheticMixture(int Components, int Features, double[] Weights, double[] Means, double[] Deviations)
{
    /// <summary>Means on a coarse random lattice <paramref name="separation"/> deviations apart at least, deviations in [0.5, 1.5].</summary>
    public static SyntheticMixture Create(Random random, int components, int features, double separation, double offset = 0)
    {
        double[] weights = new double[components];
        double total = 0;
        for (int k = 0; k < components; k++)
        {
            weights[k] = 0.5 + random.NextDouble();
            total += weights[k];
        }

        for (int k = 0; k < components; k++)
        {
            weights[k] /= total;
        }

        double[] means = new double[components * features];
        double[] deviations = new double[components * features];
        for (int k = 0; k < components; k++)
        {
            for (int d = 0; d < features; d++)
            {
                // Component k sits at k·separation·1.5 along feature 0 (so any two are far apart), anywhere along the others.
                means[k * features + d] = offset + (d == 0 ? k * separation * 1.5 : separation * (random.NextDouble() - 0.5));
                deviations[k * features + d] = 0.5 + random.NextDouble();
            }
        }

        return new SyntheticMixture(components, features, weights, means, deviations);
    }

    /// <summary>N points, row-major, and the component each came from.</summary>
    public (double[] Points, int[] Labels) Sample(Random random, int points)
    {
        double[] x = new double[points * Features];
        int[] labels = new int[points];
        for (int n = 0; n < points; n++)
        {
            double u = random.NextDouble();
            int k = 0;
            for (double c = Weights[0]; c <= u && k < Components - 1; c += Weights[++k])
            {
            }

            labels[n] = k;
            for (int d = 0; d < Features; d++)
            {
                x[n * Features + d] = Means[k * Features + d] + Deviations[k * Features + d] * Normal(random);
            }
        }

        return (x, labels);
    }

    public static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
