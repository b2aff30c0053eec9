using System.Buffers;
using System.Globalization;
using System.Text;

namespace EmKernels.IO;

/// <summary>
/// Text from a file as it may appear in a one-line message: at most <see cref="MaxCharacters"/> characters,
/// control and other invisible characters escaped (<c>\x1B</c>, <c>\u200B</c>), invalid UTF-8 as <c>\xFF</c>, and
/// the length said when it was cut, so that a huge or binary cell can never flood a terminal or a log.
/// </summary>
public static class Excerpt
{
    /// <summary>The most characters of the text a message quotes.</summary>
    public const int MaxCharacters = 40;

    /// <summary>The excerpt of UTF-8 bytes.</summary>
    /// <param name="utf8">The bytes.</param>
    /// <returns>The escaped excerpt, with "… (N bytes)" appended when it was cut.</returns>
    public static string Of(ReadOnlySpan<byte> utf8)
    {
        var text = new StringBuilder();
        int position = 0;
        for (int shown = 0; position < utf8.Length && shown < MaxCharacters; shown++)
        {
            if (Rune.DecodeFromUtf8(utf8[position..], out Rune rune, out int consumed) == OperationStatus.Done)
            {
                Append(text, rune);
                position += consumed;
            }
            else
            {
                text.Append(CultureInfo.InvariantCulture, $"\\x{utf8[position]:X2}");
                position++;
            }
        }

        if (position < utf8.Length)
        {
            text.Append(CultureInfo.InvariantCulture, $"… ({utf8.Length} bytes)");
        }

        return text.ToString();
    }

    /// <summary>The excerpt of a string.</summary>
    /// <param name="value">The text.</param>
    /// <returns>The escaped excerpt, with "… (N characters)" appended when it was cut.</returns>
    public static string Of(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var text = new StringBuilder();
        int position = 0;
        for (int shown = 0; position < value.Length && shown < MaxCharacters; shown++)
        {
            if (Rune.DecodeFromUtf16(value.AsSpan(position), out Rune rune, out int consumed) == OperationStatus.Done)
            {
                Append(text, rune);
                position += consumed;
            }
            else
            {
                text.Append(CultureInfo.InvariantCulture, $"\\u{(int)value[position]:X4}");
                position++;
            }
        }

        if (position < value.Length)
        {
            text.Append(CultureInfo.InvariantCulture, $"… ({value.Length} characters)");
        }

        return text.ToString();
    }

    /// <summary>One character, escaped when it would not print as itself.</summary>
    private static void Append(StringBuilder text, Rune rune)
    {
        bool invisible = Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format
            or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;
        if (rune.Value == '\\')
        {
            text.Append("\\\\");
        }
        else if (!invisible)
        {
            text.Append(rune.ToString());
        }
        else if (rune.Value <= 0xFF)
        {
            text.Append(CultureInfo.InvariantCulture, $"\\x{rune.Value:X2}");
        }
        else
        {
            text.Append(CultureInfo.InvariantCulture, $"\\u{rune.Value:X4}");
        }
    }
}
