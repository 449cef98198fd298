using System.Globalization;
using Tether.Upstream.Destinations;

namespace Tether.Upstream.LoadBalancing;

/// <summary>
/// A consistent-hash ring over one <see cref="DestinationSet"/> (Karger et al.; nginx hash … consistent, HAProxy
/// hash-type consistent). Each destination owns <see cref="PointsPerWeight"/>·weight points, so shares follow
/// weights, and adding or removing a destination moves only the keys of the points it gains or loses.
/// </summary>
internal sealed class HashRing
{
    public const int PointsPerWeight = 100;

    // Keeps a large weight from building a huge ring (weight 1000 would be 100,000 points per destination).
    private const int MaxPointsPerDestination = 10_000;

    private HashRing(ulong[] points, int[] owners)
    {
        Points = points;
        Owners = owners;
    }

    /// <summary>Point positions, ascending.</summary>
    public ulong[] Points { get; }

    /// <summary>Owners[i] is the index in the set of the destination at Points[i].</summary>
    public int[] Owners { get; }

    public static HashRing Build(DestinationState[] items)
    {
        var entries = new List<(ulong Point, int Owner)>();
        Span<char> label = stackalloc char[256];
        for (var i = 0; i < items.Length; i++)
        {
            var points = Math.Min(items[i].Config.Weight * PointsPerWeight, MaxPointsPerDestination);
            var name = items[i].Name;
            for (var p = 0; p < points; p++)
            {
                // "10.0.0.5:9001#17": stable across processes, so every instance builds the same ring.
                if (!label.TryWrite(CultureInfo.InvariantCulture, $"{name}#{p}", out var written))
                {
                    written = 0;
                }

                entries.Add((StableHash.Of(label[..written]), i));
            }
        }

        entries.Sort(static (a, b) => a.Point.CompareTo(b.Point));
        var positions = new ulong[entries.Count];
        var owners = new int[entries.Count];
        for (var i = 0; i < entries.Count; i++)
        {
            (positions[i], owners[i]) = entries[i];
        }

        return new HashRing(positions, owners);
    }

    /// <summary>The index of the first point at or after <paramref name="hash"/>, wrapping to 0.</summary>
    public int Locate(ulong hash)
    {
        var index = Array.BinarySearch(Points, hash);
        if (index < 0)
        {
            index = ~index;
        }

        return index == Points.Length ? 0 : index;
    }
}
