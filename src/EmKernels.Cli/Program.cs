using System.Diagnostics;
using System.Globalization;
using EmKernels.Mixtures;

// emk — for now one command: `emk fit` fits a two-component full-covariance Gaussian mixture to the
// embedded Old Faithful data (272 eruptions × [duration, waiting time]) and prints the model.
// Files, options, predict/score/sample/select arrive with the command-line tool issue.
if (args.Length != 1 || args[0] != "fit")
{
    Console.Error.WriteLine("usage: emk fit    (fits the embedded Old Faithful data set)");
    return 2;
}

double[] rows = LoadFaithful(out string[] columns);
int n = rows.Length / columns.Length, d = columns.Length;
var clock = Stopwatch.StartNew();
var model = new GaussianMixture<double>(new GaussianMixtureOptions { Components = 2, CovarianceType = CovarianceType.Full, Seed = 0 })
    .Fit(rows, n, d);
clock.Stop();

var invariant = CultureInfo.InvariantCulture;
Console.WriteLine(string.Create(invariant, $"Old Faithful ({n} × {d}): Gaussian mixture, K = 2, full covariance"));
Console.WriteLine(string.Create(invariant,
    $"mean log-likelihood {model.MeanLogLikelihood:F6}   BIC {model.Bic(rows, n):F2}   AIC {model.Aic(rows, n):F2}   iterations {model.Iterations}   converged {model.Converged}   {clock.Elapsed.TotalMilliseconds:F1} ms"));
Console.WriteLine(string.Create(invariant, $"{"component",9}  {"weight",7}  {"mean " + columns[0],16} {"mean " + columns[1],13}  {"sd " + columns[0],14} {"sd " + columns[1],11}  {"correlation",11}"));
for (int k = 0; k < 2; k++)
{
    ReadOnlySpan<double> c = model.Covariances.Slice(k * 4, 4);
    Console.WriteLine(string.Create(invariant,
        $"{k,9}  {model.Weights[k],7:F4}  {model.Means[k * 2],16:F4} {model.Means[k * 2 + 1],13:F4}  {Math.Sqrt(c[0]),14:F4} {Math.Sqrt(c[3]),11:F4}  {c[1] / Math.Sqrt(c[0] * c[3]),11:F4}"));
}

return 0;

static double[] LoadFaithful(out string[] columns)
{
    using Stream stream = typeof(Program).Assembly.GetManifestResourceStream("faithful.csv")
        ?? throw new InvalidOperationException("The embedded data set is missing.");
    using var reader = new StreamReader(stream);
    columns = reader.ReadLine()!.Split(',');
    var values = new List<double>();
    while (reader.ReadLine() is { Length: > 0 } line)
    {
        foreach (string cell in line.Split(','))
        {
            values.Add(double.Parse(cell, CultureInfo.InvariantCulture));
        }
    }

    return [.. values];
}
