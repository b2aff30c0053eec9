using System.Globalization;
using EmKernels;
using EmKernels.Kernels;

// emk — for now a demonstration of the kernels: `emk fit` fits a two-component diagonal-covariance
// Gaussian mixture to the embedded Old Faithful data (272 eruptions × [duration, waiting time]) by
// running EM directly on the kernels. The full estimator and CLI options arrive with the Gaussian
// mixture and CLI issues; this loop is deliberately minimal.
if (args.Length == 0 || args[0] != "fit" || args.Length > 1)
{
    Console.Error.WriteLine("usage: emk fit    (fits the embedded Old Faithful data set)");
    return 2;
}

double[] rows = LoadFaithful();
int n = rows.Length / 2, d = 2, k = 2;
var x = FeatureMajorMatrix<double>.FromRowMajor(rows, n, d);

// Start from two data rows (first and last) with the data's variance and equal weights.
double[] means = [rows[0], rows[1], rows[^2], rows[^1]];
double[] variances = new double[k * d];
for (int f = 0; f < d; f++)
{
    double mean = 0, square = 0;
    for (int i = 0; i < n; i++)
    {
        mean += x[i, f] / n;
    }

    for (int i = 0; i < n; i++)
    {
        square += (x[i, f] - mean) * (x[i, f] - mean) / n;
    }

    variances[f] = variances[d + f] = square;
}

double[] logWeights = [Math.Log(0.5), Math.Log(0.5)];
double[] precisions = new double[k * d], offsets = new double[k], block = new double[k * n], logLikelihoods = new double[n];
double[] mass = new double[k], first = new double[k * d], second = new double[k * d];
double previous = double.NegativeInfinity;
int iteration = 0;
const double RegCovar = 1e-6;
for (; iteration < 200; iteration++)
{
    // E-step: log ρ = log w + log N(x | μ, diag σ²), then responsibilities and the mean log-likelihood.
    GaussianKernels.DiagonalParameters<double>(variances, k, d, logWeights, precisions, offsets);
    GaussianKernels.DiagonalLogDensity<double>(x.Tile(0, n), d, n, x.Stride, k, means, precisions, offsets, block);
    double meanLogLikelihood = MixtureKernels.Responsibilities<double>(block, k, n, logLikelihoods) / n;
    if (iteration % 5 == 0)
    {
        Console.WriteLine($"iteration {iteration,3}: mean log-likelihood {meanLogLikelihood:F6}");
    }

    if (meanLogLikelihood - previous < 1e-9)
    {
        previous = meanLogLikelihood;
        break;
    }

    previous = meanLogLikelihood;

    // M-step from moments about the current means.
    Array.Clear(mass);
    Array.Clear(first);
    Array.Clear(second);
    GaussianKernels.DiagonalSufficientStatistics<double>(x.Tile(0, n), d, n, x.Stride, block, k, default, means, mass, first, second);
    for (int j = 0; j < k; j++)
    {
        logWeights[j] = Math.Log(mass[j] / n);
        for (int f = 0; f < d; f++)
        {
            double offset = first[j * d + f] / mass[j];
            means[j * d + f] += offset;
            variances[j * d + f] = second[j * d + f] / mass[j] - offset * offset + RegCovar;
        }
    }
}

Console.WriteLine($"converged after {iteration} iterations: mean log-likelihood {previous:F6}");
Console.WriteLine("component  weight   mean(eruptions) mean(waiting)  var(eruptions) var(waiting)");
for (int j = 0; j < k; j++)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{j,9}  {Math.Exp(logWeights[j]),6:F4}   {means[j * d],15:F4} {means[j * d + 1],13:F4}  {variances[j * d],14:F4} {variances[j * d + 1],12:F4}"));
}

return 0;

static double[] LoadFaithful()
{
    using Stream stream = typeof(Program).Assembly.GetManifestResourceStream("faithful.csv")
        ?? throw new InvalidOperationException("The embedded data set is missing.");
    using var reader = new StreamReader(stream);
    var values = new List<double>();
    reader.ReadLine(); // header
    while (reader.ReadLine() is { Length: > 0 } line)
    {
        foreach (string cell in line.Split(','))
        {
            values.Add(double.Parse(cell, CultureInfo.InvariantCulture));
        }
    }

    return [.. values];
}
