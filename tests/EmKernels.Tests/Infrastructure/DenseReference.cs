namespace EmKernels.Tests.Infrastructure;

/// <summary>Dense linear algebra written out plainly for the tests, independent of the library's: references for the latent-variable models.</summary>
internal static class DenseReference
{
    /// <summary>Sample mean and covariance with divisor N.</summary>
    public static (double[] Mean, double[] Covariance) Moments(double[] x, int n, int d)
    {
        double[] mean = new double[d];
        for (int p = 0; p < n; p++)
        {
            for (int j = 0; j < d; j++)
            {
                mean[j] += x[p * d + j] / n;
            }
        }

        double[] s = new double[d * d];
        for (int p = 0; p < n; p++)
        {
            for (int a = 0; a < d; a++)
            {
                for (int b = 0; b < d; b++)
                {
                    s[a * d + b] += (x[p * d + a] - mean[a]) * (x[p * d + b] - mean[b]) / n;
                }
            }
        }

        return (mean, s);
    }

    /// <summary>The eigenvalues (descending) and eigenvectors (columns) of a symmetric matrix by cyclic Jacobi rotations.</summary>
    public static (double[] Values, double[] Vectors) Eigen(double[] symmetric, int d)
    {
        double[] a = (double[])symmetric.Clone();
        double[] v = new double[d * d];
        for (int i = 0; i < d; i++)
        {
            v[i * d + i] = 1;
        }

        for (int sweep = 0; sweep < 100; sweep++)
        {
            double off = 0;
            for (int p = 0; p < d; p++)
            {
                for (int r = p + 1; r < d; r++)
                {
                    off += a[p * d + r] * a[p * d + r];
                }
            }

            if (off < 1e-30)
            {
                break;
            }

            for (int p = 0; p < d; p++)
            {
                for (int r = p + 1; r < d; r++)
                {
                    if (a[p * d + r] == 0)
                    {
                        continue;
                    }

                    double theta = (a[r * d + r] - a[p * d + p]) / (2 * a[p * d + r]);
                    double t = Math.Sign(theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    if (theta == 0)
                    {
                        t = 1;
                    }

                    double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                    for (int k = 0; k < d; k++)
                    {
                        double akp = a[k * d + p], akr = a[k * d + r];
                        a[k * d + p] = c * akp - s * akr;
                        a[k * d + r] = s * akp + c * akr;
                    }

                    for (int k = 0; k < d; k++)
                    {
                        double apk = a[p * d + k], ark = a[r * d + k];
                        a[p * d + k] = c * apk - s * ark;
                        a[r * d + k] = s * apk + c * ark;
                    }

                    for (int k = 0; k < d; k++)
                    {
                        double vkp = v[k * d + p], vkr = v[k * d + r];
                        v[k * d + p] = c * vkp - s * vkr;
                        v[k * d + r] = s * vkp + c * vkr;
                    }
                }
            }
        }

        int[] order = Enumerable.Range(0, d).OrderByDescending(i => a[i * d + i]).ToArray();
        double[] values = order.Select(i => a[i * d + i]).ToArray();
        double[] vectors = new double[d * d];
        for (int c = 0; c < d; c++)
        {
            for (int k = 0; k < d; k++)
            {
                vectors[k * d + c] = v[k * d + order[c]];
            }
        }

        return (values, vectors);
    }

    /// <summary>A⁻¹ and log det A by Gauss–Jordan elimination with partial pivoting (the test's own, independent of the library).</summary>
    public static (double[] Inverse, double LogDeterminant) Invert(double[] matrix, int d)
    {
        double[] a = (double[])matrix.Clone();
        double[] inverse = new double[d * d];
        for (int i = 0; i < d; i++)
        {
            inverse[i * d + i] = 1;
        }

        double logDeterminant = 0;
        for (int c = 0; c < d; c++)
        {
            int pivot = Enumerable.Range(c, d - c).MaxBy(r => Math.Abs(a[r * d + c]));
            if (pivot != c)
            {
                for (int k = 0; k < d; k++)
                {
                    (a[c * d + k], a[pivot * d + k]) = (a[pivot * d + k], a[c * d + k]);
                    (inverse[c * d + k], inverse[pivot * d + k]) = (inverse[pivot * d + k], inverse[c * d + k]);
                }
            }

            double diagonal = a[c * d + c];
            logDeterminant += Math.Log(Math.Abs(diagonal));
            for (int k = 0; k < d; k++)
            {
                a[c * d + k] /= diagonal;
                inverse[c * d + k] /= diagonal;
            }

            for (int r = 0; r < d; r++)
            {
                if (r != c)
                {
                    double f = a[r * d + c];
                    for (int k = 0; k < d; k++)
                    {
                        a[r * d + k] -= f * a[c * d + k];
                        inverse[r * d + k] -= f * inverse[c * d + k];
                    }
                }
            }
        }

        return (inverse, logDeterminant);
    }
}
