using System.Numerics;
using EmKernels.Engine;

namespace EmKernels.IO;

/// <summary>
/// A data source backed by a file: its columns have names, its rows have places in the file that messages
/// can name, and it holds the file open until disposed. <see cref="Open(string)"/> chooses the format by content.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public abstract class FileDataSource<T> : DataSource<T>, IDisposable
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private protected FileDataSource()
    {
    }

    /// <summary>The first six bytes of a .npy file (a C# u8 literal would encode \x93 as two UTF-8 bytes).</summary>
    private static ReadOnlySpan<byte> NpyMagic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>The names of every column of the file (not only the delivered ones).</summary>
    public abstract IReadOnlyList<string> ColumnNames { get; }

    /// <summary>The 0-based columns of the file that are delivered, in order.</summary>
    public abstract IReadOnlyList<int> Columns { get; }

    /// <summary>Where data row <paramref name="row"/> (0-based) is in the file, for messages: "line 12" (CSV) or "row 13".</summary>
    /// <param name="row">0 ≤ row &lt; N.</param>
    /// <returns>The place.</returns>
    public abstract string Locate(long row);

    /// <summary>The same file delivering other columns, sharing what it can with this source (its index, its open file); dispose both.</summary>
    /// <param name="columns">0-based columns of the file, in the order to deliver them.</param>
    /// <returns>The view.</returns>
    public abstract FileDataSource<T> WithColumns(IReadOnlyList<int> columns);

    /// <summary>
    /// Opens a data file by its content: a NumPy .npy array (magic bytes <c>\x93NUMPY</c>), a Parquet file (magic
    /// <c>PAR1</c>), otherwise CSV (tab-separated for a .tsv name).
    /// </summary>
    /// <param name="path">The file.</param>
    /// <returns>The source; dispose it to close the file.</returns>
    /// <exception cref="DataFormatException">The file cannot be read as a table of numbers (the message says where and why).</exception>
    /// <exception cref="IOException">The file cannot be opened.</exception>
    public static FileDataSource<T> Open(string path) => Open(path, missingValues: false);

    /// <summary>
    /// Opens FILE by its content (.npy, Parquet, else CSV); with <paramref name="missingValues"/>, a CSV's empty, NA and NaN cells
    /// are read as NaN (missing values; .npy and Parquet hold NaN as themselves).
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="missingValues">Whether missing CSV cells are read as NaN rather than refused.</param>
    /// <returns>The source; dispose it to close the file.</returns>
    /// <exception cref="DataFormatException">The file cannot be read as a table of numbers (the message says where and why).</exception>
    /// <exception cref="IOException">The file cannot be opened.</exception>
    public static FileDataSource<T> Open(string path, bool missingValues)
    {
        ArgumentNullException.ThrowIfNull(path);
        Span<byte> magic = stackalloc byte[6];
        int got;
        using (FileStream stream = File.OpenRead(path))
        {
            got = stream.ReadAtLeast(magic, 6, throwOnEndOfStream: false);
        }

        if (got == 6 && magic.SequenceEqual(NpyMagic))
        {
            return NpyDataSource<T>.Open(path);
        }

        if (got >= 4 && magic[..4].SequenceEqual("PAR1"u8))
        {
            return ParquetDataSource<T>.Open(path);
        }

        return CsvDataSource<T>.Open(path, null, null, missingValues);
    }

    /// <summary>Closes the file (a column view closes nothing).</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Closes the file.</summary>
    /// <param name="disposing">Whether called from <see cref="Dispose()"/>.</param>
    protected abstract void Dispose(bool disposing);

    /// <summary>Checks chosen columns against the file's.</summary>
    private protected static int[] CheckColumns(IReadOnlyList<int> columns, int available, string name)
    {
        ArgumentNullException.ThrowIfNull(columns);
        if (columns.Count == 0)
        {
            throw new ArgumentException("At least one column must be chosen.", nameof(columns));
        }

        foreach (int column in columns)
        {
            if (column < 0 || column >= available)
            {
                throw new ArgumentOutOfRangeException(nameof(columns), column, $"{name} has columns 0 … {available - 1}.");
            }
        }

        return [.. columns];
    }
}
