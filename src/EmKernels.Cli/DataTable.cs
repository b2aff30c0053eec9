using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using CsvHelper;

namespace EmKernels.Cli;

/// <summary>
/// A numeric table read from a CSV or .npy file (or the embedded data set): named columns, row-major
/// finite values, and the file line of every row so that messages can point at it.
/// </summary>
internal sealed partial class DataTable
{
    /// <summary>What the embedded default data set is called in messages and in the model file.</summary>
    public const string EmbeddedName = "the embedded Old Faithful data";

    private DataTable(string source, string[] columns, double[] values, int[] lines)
    {
        Source = source;
        Columns = columns;
        Values = values;
        Lines = lines;
    }

    /// <summary>The file name, or <see cref="EmbeddedName"/>.</summary>
    public string Source { get; }

    /// <summary>Column names: the header's, or x1 … xD when the file has none.</summary>
    public string[] Columns { get; }

    /// <summary>Rows × columns values, row-major; all finite.</summary>
    public double[] Values { get; }

    /// <summary>The 1-based line (CSV) or row (.npy) of each row, for messages.</summary>
    public int[] Lines { get; }

    public int Rows => Lines.Length;

    public double this[int row, int column] => Values[row * Columns.Length + column];

    /// <summary>Reads FILE: .npy by its magic bytes, CSV (separator detected among , ; tab |; tab for .tsv) otherwise; null means the embedded Old Faithful data.</summary>
    public static DataTable Read(string? path)
    {
        if (path is null)
        {
            using Stream embedded = typeof(DataTable).Assembly.GetManifestResourceStream("faithful.csv")
                ?? throw new InvalidOperationException("The embedded data set is missing from the assembly.");
            using var embeddedReader = new StreamReader(embedded);
            return ReadCsv(embeddedReader, EmbeddedName, ',');
        }

        FileStream stream;
        try
        {
            stream = File.OpenRead(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new UsageException($"cannot read '{path}': {e.Message}");
        }

        using (stream)
        {
            Span<byte> magic = stackalloc byte[6];
            int got = stream.ReadAtLeast(magic, 6, throwOnEndOfStream: false);
            stream.Position = 0;
            if (got == 6 && magic.SequenceEqual(NpyMagic))
            {
                return ReadNpy(stream, path);
            }

            using var reader = new StreamReader(stream, Encoding.UTF8);
            return ReadCsv(reader, path, path.EndsWith(".tsv", StringComparison.OrdinalIgnoreCase) ? '\t' : null);
        }
    }

    private static ReadOnlySpan<byte> NpyMagic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

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

        int[] chosen = columns.Split(',').Select(c => ColumnIndex(c.Trim())).ToArray();
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

        return new DataTable(Source, chosen.Select(j => Columns[j]).ToArray(), values, Lines);
    }

    /// <summary>The 0-based index of a column given by name (exact, then ignoring case) or by 1-based number.</summary>
    public int ColumnIndex(string token)
    {
        int index = Array.IndexOf(Columns, token);
        if (index < 0)
        {
            index = Array.FindIndex(Columns, c => string.Equals(c, token, StringComparison.OrdinalIgnoreCase));
        }

        if (index < 0 && int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out int number) && number >= 1 && number <= Columns.Length)
        {
            index = number - 1;
        }

        return index >= 0
            ? index
            : throw new UsageException($"{Source} has no column '{token}'; its columns are {string.Join(", ", Columns)} (or give 1 … {Columns.Length}).");
    }

    private static DataTable ReadCsv(TextReader reader, string source, char? separator)
    {
        var options = new CsvReaderOptions
        {
            HasHeader = false, // decided below: a first line with any cell that is not a number is the header
            Separator = separator, // null: detected among , ; tab and |
            SkipEmptyLines = true,
            CommentPrefix = '#',
            TrimWhitespace = true,
            TrackLineNumbers = true,
            MalformedData = CsvMalformedDataHandling.Throw,
        };
        string[]? columns = null;
        bool header = false;
        var values = new List<double>();
        var lines = new List<int>();
        try
        {
            using var csv = CsvReader.Create(reader, options, leaveOpen: true);
            while (csv.Read())
            {
                int line = (int)csv.LineNumber;
                if (columns is null)
                {
                    string[] first = Enumerable.Range(0, csv.FieldCount).Select(csv.GetString).ToArray();
                    if (first.Any(cell => !double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
                    {
                        columns = first.Select((name, j) => name.Length > 0 ? name : $"x{j + 1}").ToArray();
                        header = true;
                        continue;
                    }

                    columns = Enumerable.Range(1, first.Length).Select(j => $"x{j}").ToArray();
                }

                if (csv.FieldCount != columns.Length)
                {
                    throw new UsageException($"{source}, line {line}: {csv.FieldCount} fields, but the {(header ? "header" : "first row")} has {columns.Length}.");
                }

                for (int j = 0; j < columns.Length; j++)
                {
                    values.Add(ParseCell(csv.GetString(j), source, line, columns[j]));
                }

                lines.Add(line);
            }
        }
        catch (CsvFormatException e)
        {
            throw new UsageException($"{source}, line {e.LineNumber}: malformed CSV ({FirstLine(e.Message)})");
        }

        if (columns is null || lines.Count == 0)
        {
            throw new UsageException(columns is null ? $"{source} is empty." : $"{source} has a header line but no data rows.");
        }

        return new DataTable(source, columns, [.. values], [.. lines]);
    }

    private static double ParseCell(string cell, string source, int line, string column)
    {
        if (cell.Length == 0)
        {
            throw new UsageException($"{source}, line {line}, column '{column}': the cell is empty; missing values are not supported.");
        }

        if (!double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
        {
            throw new UsageException($"{source}, line {line}, column '{column}': '{cell}' is not a number.");
        }

        if (!double.IsFinite(value))
        {
            throw new UsageException($"{source}, line {line}, column '{column}': '{cell}' is not a finite number; missing values are not supported.");
        }

        return value;
    }

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();

    /// <summary>NumPy's .npy format, versions 1–3: a 1-D or 2-D array of little- or big-endian floats, integers or booleans.</summary>
    private static DataTable ReadNpy(Stream stream, string source)
    {
        var reader = new BinaryReader(stream);
        reader.ReadBytes(6);
        int major = reader.ReadByte();
        reader.ReadByte();
        if (major is < 1 or > 3)
        {
            throw new UsageException($"{source}: .npy format version {major} is not supported (1, 2 or 3).");
        }

        long headerLength = major == 1 ? reader.ReadUInt16() : reader.ReadUInt32();
        if (headerLength > stream.Length)
        {
            throw new UsageException($"{source}: the .npy header is truncated.");
        }

        string header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(reader.ReadBytes((int)headerLength));
        Match descr = NpyDescr().Match(header);
        Match order = NpyFortran().Match(header);
        Match shape = NpyShape().Match(header);
        if (!descr.Success || !order.Success || !shape.Success)
        {
            throw new UsageException($"{source}: cannot read the .npy header {header.Trim()}.");
        }

        bool bigEndian = descr.Groups[1].Value == ">";
        char kind = descr.Groups[2].Value[0];
        int size = int.Parse(descr.Groups[3].Value, CultureInfo.InvariantCulture);
        bool supported = kind switch
        {
            'f' => size is 4 or 8,
            'i' or 'u' => size is 1 or 2 or 4 or 8,
            _ => size == 1,
        };
        if (!supported)
        {
            throw new UsageException($"{source}: .npy element type '{descr.Groups[1].Value}{kind}{size}' is not supported (floats f4/f8, integers, booleans).");
        }

        long[] dims = shape.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        if (dims.Length is < 1 or > 2)
        {
            throw new UsageException($"{source}: a .npy array of {dims.Length} dimensions; expected 1 (one column) or 2 (rows × columns).");
        }

        long rows = dims[0], cols = dims.Length == 2 ? dims[1] : 1;
        if (rows == 0 || cols == 0)
        {
            throw new UsageException($"{source} holds no data (shape {rows} × {cols}).");
        }

        if (rows * cols > Array.MaxLength)
        {
            throw new UsageException($"{source}: {rows} × {cols} values are too many for one fit.");
        }

        byte[] raw = reader.ReadBytes(checked((int)(rows * cols * size)));
        if (raw.Length != rows * cols * size)
        {
            throw new UsageException($"{source}: the file is truncated ({raw.Length} of {rows * cols * size} data bytes).");
        }

        bool fortran = order.Groups[1].Value == "True";
        int n = (int)rows, d = (int)cols;
        double[] values = new double[n * d];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < d; j++)
            {
                int element = fortran ? j * n + i : i * d + j;
                double value = Element(raw.AsSpan(element * size, size), kind, bigEndian);
                if (!double.IsFinite(value))
                {
                    throw new UsageException($"{source}, row {i + 1}, column {j + 1}: {value} is not a finite number; missing values are not supported.");
                }

                values[i * d + j] = value;
            }
        }

        return new DataTable(source, Enumerable.Range(1, d).Select(j => $"x{j}").ToArray(), values, Enumerable.Range(1, n).ToArray());
    }

    private static double Element(ReadOnlySpan<byte> bytes, char kind, bool bigEndian)
    {
        Span<byte> b = stackalloc byte[bytes.Length];
        bytes.CopyTo(b);
        if (bigEndian != !BitConverter.IsLittleEndian)
        {
            b.Reverse();
        }

        return (kind, b.Length) switch
        {
            ('f', 4) => BitConverter.ToSingle(b),
            ('f', _) => BitConverter.ToDouble(b),
            ('i', 1) => (sbyte)b[0],
            ('i', 2) => BitConverter.ToInt16(b),
            ('i', 4) => BitConverter.ToInt32(b),
            ('i', _) => BitConverter.ToInt64(b),
            ('u', 2) => BitConverter.ToUInt16(b),
            ('u', 4) => BitConverter.ToUInt32(b),
            ('u', 8) => BitConverter.ToUInt64(b),
            _ => b[0],
        };
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([<>|=]?)([fiub])(\d+)'")]
    private static partial Regex NpyDescr();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex NpyFortran();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex NpyShape();
}
