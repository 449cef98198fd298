namespace Tether.Configuration.Binding;

/// <summary>Finds the known key an unknown one was probably meant to be ("idleTimout" → "idleTimeout").</summary>
internal static class KeySuggester
{
    /// <summary>The closest of <paramref name="candidates"/>, or null if none is close enough to be a typo.</summary>
    public static string? Closest(string unknown, IReadOnlyList<string> candidates)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in candidates)
        {
            var distance = Distance(unknown.ToLowerInvariant(), candidate.ToLowerInvariant());
            if (distance < bestDistance)
            {
                best = candidate;
                bestDistance = distance;
            }
        }

        // A typo: at most a third of the longer name differs, at least 2 ("idleTimout", "adress").
        var allowed = best is null ? 0 : Math.Max(2, Math.Max(unknown.Length, best.Length) / 3);
        if (bestDistance <= allowed)
        {
            return best;
        }

        // A shortened name: "timeout" for "idleTimeout", "maxIdle" for "maxIdlePerDestination".
        if (unknown.Length >= 4)
        {
            foreach (var candidate in candidates)
            {
                if (candidate.Contains(unknown, StringComparison.OrdinalIgnoreCase))
                {
                    return candidate;
                }
            }
        }

        return null;
    }

    /// <summary>Levenshtein distance: insertions, deletions and substitutions.</summary>
    internal static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitution, Math.Min(previous[j] + 1, current[j - 1] + 1));
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
