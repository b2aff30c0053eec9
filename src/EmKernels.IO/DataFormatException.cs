namespace EmKernels.IO;

/// <summary>A data file that cannot be read as points: the message names the file and, where it can, the line or row and the column.</summary>
public sealed class DataFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong and where, starting with the file's name.</param>
    public DataFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public DataFormatException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong and where.</param>
    /// <param name="innerException">The cause.</param>
    public DataFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
