using Tether.Configuration;
using Tether.Gateway.Hosting;

namespace Tether.Gateway.Reload;

/// <summary>
/// Which listener servers a reload keeps, which it starts and which it drains. A listener is kept when its
/// whole config (address, protocols, TLS files, PROXY protocol) is unchanged; any change is a new listener
/// and the old one drains, since Kestrel fixes those at bind time.
/// </summary>
internal sealed class ListenerPlan
{
    private ListenerPlan(ListenerServer?[] kept, List<ListenerServer> removed)
    {
        Kept = kept;
        Removed = removed;
    }

    /// <summary>Per listener of the new config, in its order: the running server kept for it, or null (start one).</summary>
    public IReadOnlyList<ListenerServer?> Kept { get; }

    public IReadOnlyList<ListenerServer> Removed { get; }

    public static ListenerPlan Create(IReadOnlyList<ListenerServer> running, IReadOnlyList<ListenerConfig> wanted)
    {
        ArgumentNullException.ThrowIfNull(running);
        ArgumentNullException.ThrowIfNull(wanted);
        var free = new List<ListenerServer>(running);
        var kept = new ListenerServer?[wanted.Count];
        for (var i = 0; i < wanted.Count; i++)
        {
            var match = free.FindIndex(s => s.Config == wanted[i]);
            if (match >= 0)
            {
                kept[i] = free[match];
                free.RemoveAt(match);
            }
        }

        return new ListenerPlan(kept, free);
    }
}
