using Tether.Configuration;

namespace Tether.Gateway.Reload;

/// <summary>Structural comparison of cluster configs, to decide which clusters a reload may keep warm.</summary>
internal static class ClusterConfigs
{
    /// <summary>
    /// True if a <c>ClusterState</c> built from <paramref name="a"/> would behave exactly like one built
    /// from <paramref name="b"/>. Records compare lists by reference, so the one list (destinations) is
    /// compared item by item and then taken out of the record comparison; every other member is a record or a
    /// value. A list added to <see cref="ClusterConfig"/> later must be handled here too, or such clusters are
    /// rebuilt on every reload (cold pools, never wrong behaviour).
    /// </summary>
    public static bool Equal(ClusterConfig a, ClusterConfig b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (!SameDestinations(a.Destinations, b.Destinations))
        {
            return false;
        }

        return a with { Destinations = [] } == b with { Destinations = [] };
    }

    /// <summary>
    /// The share of client connections worth recycling after a cluster went from <paramref name="before"/>
    /// to <paramref name="after"/>: destinations added or removed over the larger of the two sets. Adding one
    /// to two gives 1/3, the share of load the newcomer should end up with.
    /// </summary>
    public static double ChangedFraction(IReadOnlyList<DestinationConfig> before, IReadOnlyList<DestinationConfig> after)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        var changed = Missing(before, after) + Missing(after, before);
        var size = Math.Max(before.Count, after.Count);
        return size == 0 ? 0 : Math.Min(1.0, (double)changed / size);
    }

    private static bool SameDestinations(IReadOnlyList<DestinationConfig> a, IReadOnlyList<DestinationConfig> b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }

        for (var i = 0; i < a.Count; i++)
        {
            if (a[i] != b[i])
            {
                return false;
            }
        }

        return true;
    }

    // Destinations of `from` (by name) that `to` does not list.
    private static int Missing(IReadOnlyList<DestinationConfig> from, IReadOnlyList<DestinationConfig> to)
    {
        var missing = 0;
        foreach (var d in from)
        {
            var found = false;
            foreach (var e in to)
            {
                if (string.Equals(d.Name, e.Name, StringComparison.OrdinalIgnoreCase))
                {
                    found = true;
                    break;
                }
            }

            if (!found)
            {
                missing++;
            }
        }

        return missing;
    }
}
