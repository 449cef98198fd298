using System.Globalization;

namespace Tether.Doctor.Host;

/// <summary>The "Max open files" line of /proc/self/limits (soft and hard; null = unlimited).</summary>
public sealed record OpenFilesLimit(long? Soft, long? Hard)
{
    public static OpenFilesLimit? Read(HostFiles files)
    {
        ArgumentNullException.ThrowIfNull(files);
        foreach (var line in (files.Read("proc/self/limits") ?? "").Split('\n'))
        {
            if (!line.StartsWith("Max open files", StringComparison.Ordinal))
            {
                continue;
            }

            var fields = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 2)
            {
                return new OpenFilesLimit(Parse(fields[0]), Parse(fields[1]));
            }
        }

        return null;
    }

    private static long? Parse(string text) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null;
}
