using System.Runtime.CompilerServices;
using System.Globalization;
using EmKernels.IO;

namespace EmKernels.Cli;

/// <summary>
/// A numeric table read into memory from a CSV, .npy or Parquet file (or the embedded data set), through the
/// same readers a streamed fit uses (EmKernels.IO): named columns, row-major finite values, and where every
/// row is in the file, so that messages can point at it.
/// </summary>
internal sealed class DataTable
{
    /// <summary>What the embedded default data set is called in messages and in the model file.</summary>
    public const string EmbeddedName = "the embedded Old Faithful data";

    private readonly Func<int, string> _locate;

    private DataTable(string source, string[] columns, double[] values, int rows, Func<int, string> locate)
    {
        Source = source;
        Columns = columns;
        Values = values;
        Rows = rows;
        _locate = locate;
    }

    /// <summary>The file name, or <see cref="EmbeddedName"/>.</summary>
    public string Source { get; }

    /// <summary>Column names: the header's, or x1 … xD when the file has none.</summary>
    public string[] Columns { get; }

    /// <summary>Rows × columns values, row-major; all finite.</summary>
    /// <summary>The values as the engine's in-memory source in double, made once and shared by the fits of a selection.</summary>
    public EmKernels.Engine.InMemoryDataSource<double> Source64 => LazyInitializer.EnsureInitialized(ref _source64, () => new EmKernels.Engine.InMemoryDataSource<double>(Values, Rows, Columns.Length));

    private EmKernels.Engine.InMemoryDataSource<double>? _source64;

    public double[] Values { get; }

    public int Rows { get; }

    public double this[int row, int column] => Values[row * Columns.Length + column];

    /// <summary>Where row <paramref name="row"/> is in the file: "line 12" (CSV) or "row 13" (.npy, Parquet).</summary>
    public string Locate(int row) => _locate(row);

    /// <summary>Reads FILE (by content: .npy, Parquet, else CSV with the separator detected); null means the embedded Old Faithful data.</summary>
    public static DataTable Read(string? path, TextWriter? notes = null, bool missing = false)
    {
        using FileDataSource<double> source = path is null ? Embedded() : DataFiles.Open(path, notes, missing);
        return Materialize(source, path ?? EmbeddedName, missing);
    }

    /// <summary>The embedded data set as a CSV source.</summary>
    public static FileDataSource<double> Embedded()
    {
        using Stream embedded = typeof(DataTable).Assembly.GetManifestResourceStream("faithful.csv")
            ?? throw new InvalidOperationException("The embedded data set is missing from the assembly.");
        using var copy = new MemoryStream();
        embedded.CopyTo(copy);
        return CsvDataSource<double>.FromBytes(copy.ToArray(), EmbeddedName, ',');
    }

    /// <summary>
    /// The chosen columns, by name or 1-based number, comma-separated ("waiting,eruptions", "2,1"); null
    /// or empty keeps every column.
    /// </summary>
    public DataTable Select(string? columns)
    {
        if (string.IsNullOrWhiteSpace(columns))
        {
            return this;
        }

        int[] chosen = columns.Split(',').Select(c => ColumnIndex(Columns, c.Trim(), Source)).ToArray();
        return Select(chosen);
    }

    /// <summary>The given columns (0-based), in that order.</summary>
    public DataTable Select(int[] chosen)
    {
        int d = Columns.Length;
        double[] values = new double[Rows * chosen.Length];
        for (int i = 0; i < Rows; i++)
        {
            for (int j = 0; j < chosen.Length; j++)
            {
                values[i * chosen.Length + j] = Values[i * d + chosen[j]];
            }
        }

        return new DataTable(Source, chosen.Select(j => Columns[j]).ToArray(), values, Rows, _locate);
    }

    /// <summary>The 0-based index of a column given by name (exact, then ignoring case) or by 1-based number.</summary>
    public int ColumnIndex(string token) => ColumnIndex(Columns, token, Source);

    /// <summary>The 0-based index of a column of <paramref name="columns"/> given by name (exact, then ignoring case) or by 1-based number.</summary>
    public static int ColumnIndex(IReadOnlyList<string> columns, string token, string source)
    {
        int index = columns.ToList().IndexOf(token);
        if (index < 0)
        {
            index = columns.ToList().FindIndex(c => string.Equals(c, token, StringComparison.OrdinalIgnoreCase));
        }

        if (index < 0 && int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out int number) && number >= 1 && number <= columns.Count)
        {
            index = number - 1;
        }

        return index >= 0
            ? index
            : throw new UsageException($"{source} has no column '{Quoted.Of(token)}'; its columns are {Quoted.List(columns)} (or give 1 … {columns.Count}).");
    }

    /// <summary>Every row of the source in memory, row-major, checked finite.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static DataTable Materialize<T>(FileDataSource<T> source, string name, bool missing = false)
        where T : unmanaged, System.Numerics.IBinaryFloatingPointIeee754<T>
    {
        int d = source.Features;
        if (source.Points * d > Array.MaxLength)
        {
            throw new UsageException($"{name}: {source.Points} × {d} values are too many to hold in memory at once; fit it with --out-of-core.");
        }

        int n = (int)source.Points;
        double[] values = new double[n * d];
        int chunk = Math.Max(1, (1 << 20) / d);
        T[] buffer = new T[(long)Math.Min(chunk, n) * d];
        try
        {
            for (int start = 0; start < n; start += chunk)
            {
                int count = Math.Min(chunk, n - start);
                source.Read(start, count, buffer, count, default, default);
                for (int j = 0; j < d; j++)
                {
                    for (int i = 0; i < count; i++)
                    {
                        values[(start + i) * d + j] = double.CreateTruncating(buffer[j * count + i]);
                    }
                }
            }
        }
        catch (DataFormatException e)
        {
            throw new UsageException(e.Message);
        }

        Func<int, string> locate;
        if (source is CsvDataSource<T> csv)
        {
            long[] lines = new long[n];
            csv.ReadLineNumbers(0, lines);
            locate = row => $"line {lines[row]}";
        }
        else
        {
            locate = row => $"row {row + 1}";
        }

        string[] columns = source.Columns.Select(j => source.ColumnNames[j]).ToArray();
        for (int i = 0; i < values.Length; i++)
        {
            if (!double.IsFinite(values[i]) && !(missing && double.IsNaN(values[i])))
            {
                throw new UsageException($"{name}, {locate(i / d)}, column '{Quoted.Of(columns[i % d])}': {values[i].ToString(CultureInfo.InvariantCulture)} is not a finite number; missing values are not supported.");
            }
        }

        return new DataTable(name, columns, values, n, locate);
    }
}
