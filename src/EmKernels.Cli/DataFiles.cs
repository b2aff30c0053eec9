using EmKernels.IO;

namespace EmKernels.Cli;

/// <summary>Opens data files for the commands: a file that cannot be opened or read as a table is a <see cref="UsageException"/> naming it.</summary>
internal static class DataFiles
{
    public static FileDataSource<double> Open(string path) => Open<double>(path);

    public static FileDataSource<T> Open<T>(string path)
        where T : unmanaged, System.Numerics.IBinaryFloatingPointIeee754<T>
    {
        try
        {
            return FileDataSource<T>.Open(path);
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
