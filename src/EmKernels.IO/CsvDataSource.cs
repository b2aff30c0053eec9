using System.Runtime.CompilerServices;
using System.Globalization;
using System.Numerics;
using System.Text;
using EmKernels.Engine;
using Microsoft.Win32.SafeHandles;

namespace EmKernels.IO;

/// <summary>
/// A CSV file of numbers as a data source, read in chunks so that a fit's memory does not grow with the
/// file. Opening it reads it once: it finds the separator (among <c>,</c> <c>;</c> tab and <c>|</c>, the most
/// frequent in the first line; tab for .tsv), decides whether the first line is a header (it is when any
/// of its cells is not a number), checks every cell, and records where every 8,192nd row starts. Reads
/// then parse only the rows asked for, from the nearest recorded row, so several threads can read at once.
/// </summary>
/// <typeparam name="T">float or double: values are parsed as double (correctly rounded) and converted with <c>T.CreateTruncating</c>.</typeparam>
/// <remarks>
/// Rules: UTF-8 (a byte-order mark is skipped); lines end with LF or CRLF and are at most
/// <see cref="MaxLineBytes"/> long; blank lines and lines starting
/// with <c>#</c> are skipped; cells are trimmed; a cell may be quoted (<c>"1.5"</c>, with <c>""</c> for a quote)
/// but may not span lines; every row has as many cells as the header (or the first row); every cell is a
/// finite number. A violation is a <see cref="DataFormatException"/> naming the file, the line and the column.
/// A header whose first cell is empty while every other cell is named is what R's <c>write.csv</c> writes: its
/// first column holds row names, which are not checked or read, and the table's columns start after it
/// (<see cref="HasRowNames"/>).
/// </remarks>
public sealed class CsvDataSource<T> : FileDataSource<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>The most rows between two recorded positions (fewer when they take more than 1 MiB).</summary>
    public const int RowsPerIndexEntry = 8192;

    /// <summary>The longest line read (64 MiB): a longer one is a <see cref="DataFormatException"/>, not an unbounded buffer.</summary>
    public const int MaxLineBytes = 64 << 20;

    /// <summary>A position is recorded at least every this many bytes, so that reading a few wide rows never reads 8,192 of them.</summary>
    private const int IndexEntryBytes = 1 << 20;

    private const int IndexBufferBytes = 1 << 20;

    [ThreadStatic]
    private static byte[]? t_buffer;

    private static ReadOnlySpan<byte> ByteOrderMark => [0xEF, 0xBB, 0xBF];

    [ThreadStatic]
    private static double[]? t_row;

    private readonly Bytes _bytes;
    private readonly byte _separator;
    private readonly string[] _names;
    private readonly int _skipped;
    private readonly int[] _selected;
    private readonly long[] _offsets;
    private readonly long[] _lines;
    private readonly long[] _firstRows;
    private readonly long _rows;
    private readonly long _end;

    private readonly bool _owner;

    private CsvDataSource(Bytes bytes, string name, byte separator, string[] names, int skipped, int[] selected, long[] offsets, long[] lines, long[] firstRows, long rows, long end, bool owner = true)
    {
        _skipped = skipped;
        _firstRows = firstRows;
        _owner = owner;
        _bytes = bytes;
        Name = name;
        _separator = separator;
        _names = names;
        _selected = selected;
        _offsets = offsets;
        _lines = lines;
        _rows = rows;
        _end = end;
    }

    /// <inheritdoc/>
    public override long Points => _rows;

    /// <inheritdoc/>
    public override int Features => _selected.Length;

    /// <inheritdoc/>
    public override string Name { get; }

    /// <summary>The names of every column of the table: the header's, or x1 … xD when it has none (an empty header cell is named by its position too); without the row names' column.</summary>
    public override IReadOnlyList<string> ColumnNames => _names;

    /// <summary>Whether the first column of the file holds row names (its header cell is empty and every other one named, as R's write.csv writes): it is left out of the table.</summary>
    public bool HasRowNames => _skipped == 1;

    /// <inheritdoc/>
    public override IReadOnlyList<int> Columns => _selected;

    /// <summary>The separator found (or given).</summary>
    public char Separator => (char)_separator;

    /// <summary>Opens and indexes a CSV file.</summary>
    /// <param name="path">The file.</param>
    /// <param name="separator">The separator, or null to detect it.</param>
    /// <param name="columns">0-based columns to deliver, in that order, or null for all.</param>
    /// <returns>The source; dispose it to close the file.</returns>
    /// <exception cref="DataFormatException">The file is not a table of finite numbers (the message names the line and column).</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static CsvDataSource<T> Open(string path, char? separator = null, IReadOnlyList<int>? columns = null) => Open(path, separator, columns, missingValues: false);

    /// <summary>
    /// Opens and indexes a CSV file; with <paramref name="missingValues"/>, an empty cell, <c>NA</c> or <c>NaN</c> (any case) is a
    /// missing value, read as NaN (for models that marginalise them); infinities stay refused.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="separator">The separator, or null to detect it.</param>
    /// <param name="columns">0-based columns to deliver, in that order, or null for all.</param>
    /// <param name="missingValues">Whether missing cells are read as NaN rather than refused.</param>
    /// <returns>The source; dispose it to close the file.</returns>
    /// <exception cref="DataFormatException">The file is not a table of finite numbers or missing values (the message names the line and column).</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static CsvDataSource<T> Open(string path, char? separator, IReadOnlyList<int>? columns, bool missingValues)
    {
        ArgumentNullException.ThrowIfNull(path);
        SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        try
        {
            separator ??= path.EndsWith(".tsv", StringComparison.OrdinalIgnoreCase) ? '\t' : null;
            return Index(new Bytes(file, null), path, separator, columns, missingValues);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>A CSV table held in memory (an embedded resource, say), read by the same rules.</summary>
    /// <param name="content">The file's bytes (kept, not copied).</param>
    /// <param name="name">A name for messages.</param>
    /// <param name="separator">The separator, or null to detect it.</param>
    /// <param name="columns">0-based columns to deliver, or null for all.</param>
    /// <returns>The source.</returns>
    /// <exception cref="DataFormatException">The content is not a table of finite numbers.</exception>
    public static CsvDataSource<T> FromBytes(byte[] content, string name, char? separator = null, IReadOnlyList<int>? columns = null)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(name);
        return Index(new Bytes(null, content), name, separator, columns, missing: false);
    }

    /// <inheritdoc/>
    public override FileDataSource<T> WithColumns(IReadOnlyList<int> columns) =>
        new CsvDataSource<T>(_bytes, Name, _separator, _names, _skipped, CheckColumns(columns, _names.Length, Name), _offsets, _lines, _firstRows, _rows, _end, owner: false) { _missing = _missing };

    /// <summary>Whether missing cells (empty, NA, NaN) are read as NaN.</summary>
    public bool MissingValues => _missing;

    private bool _missing;

    /// <inheritdoc/>
    public override string Locate(long row) => $"line {LineOf(row)}";

    /// <summary>The 1-based line of the file that holds data row <paramref name="row"/> (0-based), for messages.</summary>
    /// <param name="row">0 ≤ row &lt; N.</param>
    /// <returns>The line number.</returns>
    public long LineOf(long row)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, _rows);
        long line = -1;
        Scan(row, 1, (_, lineNumber, _) => line = lineNumber);
        return line;
    }

    /// <summary>The 1-based file line of each of the rows [<paramref name="start"/>, <paramref name="start"/> + <paramref name="lines"/>.Length).</summary>
    /// <param name="start">First row.</param>
    /// <param name="lines">Outputs.</param>
    public void ReadLineNumbers(long start, Span<long> lines)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(start + lines.Length, _rows, nameof(lines));
        long[] result = new long[lines.Length];
        for (long chunk = start; chunk < start + lines.Length;)
        {
            int entry = EntryOf(chunk);
            long entryEnd = entry + 1 < _firstRows.Length ? _firstRows[entry + 1] : _rows;
            int take = (int)Math.Min(entryEnd - chunk, start + lines.Length - chunk);
            Scan(chunk, take, (row, line, _) => result[row - start] = line);
            chunk += take;
        }

        result.CopyTo(lines);
    }

    /// <inheritdoc/>
    public override void Read(long start, int count, Span<T> values, int stride, Span<T> sampleWeights, Span<int> labels)
    {
        CheckRead(start, count, values, stride, sampleWeights, labels);
        if (count == 0)
        {
            return;
        }

        int columns = _names.Length;
        double[] row = t_row is { } cached && cached.Length >= columns ? cached : (t_row = new double[columns]);
        ParseRows(start, count, row.AsSpan(0, columns), values, stride);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing && _owner)
        {
            _bytes.Dispose();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ParseRows(long start, int count, Span<double> row, Span<T> values, int stride)
    {
        int index = EntryOf(start);
        long last = start + count - 1;
        int lastIndex = EntryOf(last);
        long from = _offsets[index];
        long to = lastIndex + 1 < _offsets.Length ? _offsets[lastIndex + 1] : _end;
        if (to - from > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "A read of more than 2 GB of text at once.");
        }

        byte[] buffer = t_buffer is { } b && b.Length >= to - from ? b : (t_buffer = new byte[Math.Max(to - from, 4096)]);
        Span<byte> text = buffer.AsSpan(0, (int)(to - from));
        _bytes.ReadExactly(text, from, Name);
        long rowNumber = _firstRows[index];
        long line = _lines[index];
        int position = 0;
        while (rowNumber <= last)
        {
            if (position >= text.Length)
            {
                throw new DataFormatException($"{Name} changed while being read (it has fewer rows than when it was opened).");
            }

            ReadOnlySpan<byte> content = NextLine(text, ref position);
            if (IsSkipped(content))
            {
                line++;
                continue;
            }

            if (rowNumber >= start)
            {
                ParseCells(content, line, row);
                int i = (int)(rowNumber - start);
                for (int j = 0; j < _selected.Length; j++)
                {
                    values[j * stride + i] = T.CreateTruncating(row[_selected[j]]);
                }
            }

            rowNumber++;
            line++;
        }
    }

    /// <summary>Calls <paramref name="visit"/> with (row, line, cells) for rows [start, start + count), without converting.</summary>
    private void Scan(long start, int count, Action<long, long, string[]> visit)
    {
        int index = EntryOf(start);
        long from = _offsets[index];
        long to = index + 1 < _offsets.Length ? _offsets[index + 1] : _end;
        byte[] text = new byte[to - from];
        _bytes.ReadExactly(text, from, Name);
        long rowNumber = _firstRows[index];
        long line = _lines[index];
        int position = 0;
        while (rowNumber < start + count && position < text.Length)
        {
            ReadOnlySpan<byte> content = NextLine(text, ref position);
            if (!IsSkipped(content))
            {
                if (rowNumber >= start)
                {
                    visit(rowNumber, line, []);
                }

                rowNumber++;
            }

            line++;
        }
    }

    /// <summary>The index entry whose rows include <paramref name="row"/>.</summary>
    private int EntryOf(long row)
    {
        int i = Array.BinarySearch(_firstRows, row);
        return i >= 0 ? i : ~i - 1;
    }

    private void ParseCells(ReadOnlySpan<byte> content, long line, Span<double> row)
    {
        int column = 0;
        int position = 0;
        while (true)
        {
            ReadOnlySpan<byte> cell = NextCell(content, ref position, _separator, Name, line, out bool more);
            int j = column - _skipped;
            if (j >= 0 && j < row.Length)
            {
                row[j] = Number(cell, Name, line, _names[j], _missing);
            }

            column++;
            if (!more)
            {
                break;
            }
        }

        if (column != row.Length + _skipped)
        {
            throw new DataFormatException($"{Name}, line {line}: {column} fields, but the {(_names.Length > 0 ? "header or first row" : "first row")} has {row.Length + _skipped}.");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static CsvDataSource<T> Index(Bytes bytes, string name, char? givenSeparator, IReadOnlyList<int>? columns, bool missing)
    {
        long length = bytes.Length;
        var offsets = new List<long>();
        var lines = new List<long>();
        var firstRows = new List<long>();
        byte separator = givenSeparator is { } s ? (byte)s : (byte)0;
        string[]? names = null;
        int skipped = 0;
        bool header = false;
        double[] row = [];
        long rows = 0;
        long lineNumber = 0;
        byte[] buffer = new byte[IndexBufferBytes];
        long bufferStart = 0;
        int filled = 0;
        int position = 0;
        bool bom = false;
        while (true)
        {
            // Find the next line within the buffer, refilling it (and growing it for a very long line) as needed.
            int newline = buffer.AsSpan(position, filled - position).IndexOf((byte)'\n');
            bool atEnd = bufferStart + filled >= length;
            if (newline < 0 && !atEnd)
            {
                int kept = filled - position;
                if (position == 0 && kept == buffer.Length)
                {
                    if (buffer.Length >= MaxLineBytes)
                    {
                        throw new DataFormatException($"{name}, line {lineNumber + 1}: the line is longer than {MaxLineBytes >> 20} MiB, the most this reader takes (is it a text table?).");
                    }

                    Array.Resize(ref buffer, Math.Min(buffer.Length * 2, MaxLineBytes + 1));
                }
                else
                {
                    Array.Copy(buffer, position, buffer, 0, kept);
                    bufferStart += position;
                    position = 0;
                    filled = kept;
                }

                int want = (int)Math.Min(buffer.Length - filled, length - bufferStart - filled);
                bytes.ReadExactly(buffer.AsSpan(filled, want), bufferStart + filled, name);
                filled += want;
                continue;
            }

            if (position >= filled && atEnd)
            {
                break;
            }

            long lineStart = bufferStart + position;
            int lineEnd = newline < 0 ? filled : position + newline;
            ReadOnlySpan<byte> content = buffer.AsSpan(position, lineEnd - position);
            position = newline < 0 ? filled : lineEnd + 1;
            lineNumber++;
            if (!bom && lineStart == 0 && content.StartsWith(ByteOrderMark))
            {
                bom = true;
                content = content[3..];
                lineStart += 3;
            }

            if (!content.IsEmpty && content[^1] == (byte)'\r')
            {
                content = content[..^1];
            }

            if (IsSkipped(content))
            {
                continue;
            }

            if (names is null)
            {
                if (separator == 0)
                {
                    separator = DetectSeparator(content);
                }

                string[] first = Cells(content, separator, name, lineNumber);
                if (first.Any(cell => !double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
                {
                    skipped = first.Length > 1 && first[0].Length == 0 && first.Skip(1).All(cell => cell.Length > 0) ? 1 : 0;
                    names = first.Skip(skipped).Select((cell, j) => cell.Length > 0 ? cell : $"x{j + 1}").ToArray();
                    header = true;
                    row = new double[names.Length];
                    continue;
                }

                names = Enumerable.Range(1, first.Length).Select(j => $"x{j}").ToArray();
                row = new double[names.Length];
            }

            if (firstRows.Count == 0 || rows - firstRows[^1] == RowsPerIndexEntry || lineStart - offsets[^1] >= IndexEntryBytes)
            {
                offsets.Add(lineStart);
                lines.Add(lineNumber);
                firstRows.Add(rows);
            }

            // Every cell is checked once here, so reads never meet a malformed row of an unchanged file.
            int count = 0;
            int cellPosition = 0;
            while (true)
            {
                ReadOnlySpan<byte> cell = NextCell(content, ref cellPosition, separator, name, lineNumber, out bool more);
                if (count >= skipped && count - skipped < names.Length)
                {
                    Number(cell, name, lineNumber, names[count - skipped], missing);
                }

                count++;
                if (!more)
                {
                    break;
                }
            }

            if (count != names.Length + skipped)
            {
                throw new DataFormatException($"{name}, line {lineNumber}: {count} fields, but the {(header ? "header" : "first row")} has {names.Length + skipped}.");
            }

            rows++;
        }

        if (names is null || rows == 0)
        {
            throw new DataFormatException(names is null ? $"{name} is empty." : $"{name} has a header line but no data rows.");
        }

        int[] selected = columns is null ? Enumerable.Range(0, names.Length).ToArray() : CheckColumns(columns, names.Length, name);
        return new CsvDataSource<T>(bytes, name, separator, names, skipped, selected, [.. offsets], [.. lines], [.. firstRows], rows, length) { _missing = missing };
    }

    private static bool IsSkipped(ReadOnlySpan<byte> content)
    {
        ReadOnlySpan<byte> trimmed = content.Trim(" \t"u8);
        return trimmed.IsEmpty || trimmed[0] == (byte)'#';
    }

    private static ReadOnlySpan<byte> NextLine(ReadOnlySpan<byte> text, ref int position)
    {
        int newline = text[position..].IndexOf((byte)'\n');
        int end = newline < 0 ? text.Length : position + newline;
        ReadOnlySpan<byte> content = text[position..end];
        position = newline < 0 ? text.Length : end + 1;
        return !content.IsEmpty && content[^1] == (byte)'\r' ? content[..^1] : content;
    }

    /// <summary>The most frequent of , ; tab | outside quotes in the first line (comma when none occurs).</summary>
    private static byte DetectSeparator(ReadOnlySpan<byte> line)
    {
        ReadOnlySpan<byte> candidates = ",;\t|"u8;
        Span<int> counts = stackalloc int[candidates.Length];
        bool quoted = false;
        foreach (byte b in line)
        {
            if (b == (byte)'"')
            {
                quoted = !quoted;
            }
            else if (!quoted)
            {
                int i = candidates.IndexOf(b);
                if (i >= 0)
                {
                    counts[i]++;
                }
            }
        }

        int best = 0;
        for (int i = 1; i < counts.Length; i++)
        {
            if (counts[i] > counts[best])
            {
                best = i;
            }
        }

        return candidates[best];
    }

    /// <summary>The next cell from <paramref name="position"/>: unquoted and trimmed; <paramref name="more"/> tells whether a separator followed.</summary>
    private static ReadOnlySpan<byte> NextCell(ReadOnlySpan<byte> line, ref int position, byte separator, string name, long lineNumber, out bool more)
    {
        ReadOnlySpan<byte> rest = line[position..];
        int lead = 0;
        while (lead < rest.Length && (rest[lead] == (byte)' ' || (rest[lead] == (byte)'\t' && separator != (byte)'\t')))
        {
            lead++;
        }

        if (lead < rest.Length && rest[lead] == (byte)'"')
        {
            // A quoted cell ends at a quote not followed by another; "" inside stands for one quote (rare in numbers: the cell is then not a number anyway).
            int i = lead + 1;
            while (true)
            {
                int quote = rest[i..].IndexOf((byte)'"');
                if (quote < 0)
                {
                    throw new DataFormatException($"{name}, line {lineNumber}: malformed CSV (a quoted cell is not closed on its line).");
                }

                i += quote + 1;
                if (i < rest.Length && rest[i] == (byte)'"')
                {
                    i++;
                    continue;
                }

                break;
            }

            ReadOnlySpan<byte> inner = rest[(lead + 1)..(i - 1)];
            int after = i;
            while (after < rest.Length && rest[after] != separator)
            {
                if (rest[after] is not ((byte)' ' or (byte)'\t'))
                {
                    throw new DataFormatException($"{name}, line {lineNumber}: malformed CSV (text after a closing quote).");
                }

                after++;
            }

            more = after < rest.Length;
            position += more ? after + 1 : rest.Length;
            return inner.Trim(" \t"u8);
        }

        int end = rest.IndexOf(separator);
        more = end >= 0;
        ReadOnlySpan<byte> cell = more ? rest[..end] : rest;
        position += more ? end + 1 : rest.Length;
        return separator == (byte)'\t' ? cell.Trim((byte)' ') : cell.Trim(" \t"u8);
    }

    private static string[] Cells(ReadOnlySpan<byte> line, byte separator, string name, long lineNumber)
    {
        var cells = new List<string>();
        int position = 0;
        while (true)
        {
            ReadOnlySpan<byte> cell = NextCell(line, ref position, separator, name, lineNumber, out bool more);
            cells.Add(Encoding.UTF8.GetString(cell).Replace("\"\"", "\"", StringComparison.Ordinal));
            if (!more)
            {
                return [.. cells];
            }
        }
    }

    private static double Number(ReadOnlySpan<byte> cell, string name, long line, string column, bool missing)
    {
        if (missing && (cell.IsEmpty || Ascii.EqualsIgnoreCase(cell, "NA"u8) || Ascii.EqualsIgnoreCase(cell, "NaN"u8)))
        {
            return double.NaN;
        }

        if (cell.IsEmpty)
        {
            throw new DataFormatException($"{name}, line {line}, column '{Excerpt.Of(column)}': the cell is empty; missing values are not supported.");
        }

        if (!double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
        {
            throw new DataFormatException($"{name}, line {line}, column '{Excerpt.Of(column)}': '{Excerpt.Of(cell)}' is not a number.");
        }

        if (!double.IsFinite(value))
        {
            throw new DataFormatException($"{name}, line {line}, column '{Excerpt.Of(column)}': '{Excerpt.Of(cell)}' is not a finite number; missing values are not supported.");
        }

        return value;
    }

    /// <summary>The bytes of a file (read by position) or of an array.</summary>
    private sealed class Bytes(SafeFileHandle? file, byte[]? content) : IDisposable
    {
        public long Length => file is not null ? RandomAccess.GetLength(file) : content!.Length;

        public void ReadExactly(Span<byte> destination, long offset, string name)
        {
            if (content is not null)
            {
                content.AsSpan((int)offset, destination.Length).CopyTo(destination);
                return;
            }

            int done = 0;
            while (done < destination.Length)
            {
                int got = RandomAccess.Read(file!, destination[done..], offset + done);
                if (got == 0)
                {
                    throw new DataFormatException($"{name} changed while being read (it is shorter than when it was opened).");
                }

                done += got;
            }
        }

        public void Dispose() => file?.Dispose();
    }
}
