using System.Collections;

namespace Tether.Commands;

internal static class EnvironmentVariables
{
    public static IReadOnlyDictionary<string, string?> Read()
    {
        var result = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            result[(string)entry.Key] = entry.Value as string;
        }

        return result;
    }
}
