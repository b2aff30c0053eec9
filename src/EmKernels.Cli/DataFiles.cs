using EmKernels.IO;

namespace EmKernels.Cli;

/// <summary>Opens data files for the commands: a file that cannot be opened or read as a table is a <see cref="UsageException"/> naming it.</summary>
internal static class DataFiles
{
    public static FileDataSource<double> Open(string path, TextWriter? notes, bool missing = false) => Open<double>(path, notes, missing);

    /// <summary>
    /// Opens FILE; what the reader decided by itself that changes the table (R's row names left out) is noted on <paramref name="notes"/>.
    /// With <paramref name="missing"/>, a CSV's empty, NA and NaN cells are missing values (NaN).
    /// </summary>
    public static FileDataSource<T> Open<T>(string path, TextWriter? notes, bool missing = false)
        where T : unmanaged, System.Numerics.IBinaryFloatingPointIeee754<T>
    {
        try
        {
            FileDataSource<T> source = FileDataSource<T>.Open(path, missing);
            if (source is CsvDataSource<T> { HasRowNames: true })
            {
                notes?.WriteLine($"emk: note: {path}: the first column has no name in the header, as R's write.csv writes row names; it is read as row names and left out.");
            }

            return source;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new UsageException($"cannot read '{path}': {e.Message}");
        }
        catch (DataFormatException e)
        {
            throw new UsageException(e.Message);
        }
    }
}
