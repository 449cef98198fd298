using Tether.Configuration;

namespace Tether.Testing;

/// <summary>
/// TETHER_TEST_ENGINE=kestrel (or tether) runs the functional suite with every listener on that HTTP/1.1 engine, at
/// start and, through <see cref="Apply(Tether.Gateway.GatewayOptions)"/>, on every reload: "kestrel" compares the
/// suite on Kestrel's HTTP/1.1 server, still selectable for one release. Unset: configs are left as the tests wrote
/// them, so listeners that name no engine get the default ("tether").
/// </summary>
internal static class TestEngine
{
    /// <summary>The engine the environment forces, or null.</summary>
    public static ListenerEngine? Forced =>
        Environment.GetEnvironmentVariable("TETHER_TEST_ENGINE") switch
        {
            { } e when e.Equals("tether", StringComparison.OrdinalIgnoreCase) => ListenerEngine.Tether,
            { } e when e.Equals("kestrel", StringComparison.OrdinalIgnoreCase) => ListenerEngine.Kestrel,
            _ => null,
        };

    /// <summary>Whether listeners that name no engine run on "tether" in this run.</summary>
    public static bool ForcesTether => Forced != ListenerEngine.Kestrel;

    public static TetherConfig Apply(TetherConfig config)
    {
        if (Forced is not { } engine)
        {
            return config;
        }

        var listeners = new List<ListenerConfig>(config.Listeners.Count);
        foreach (var listener in config.Listeners)
        {
            listeners.Add(listener with { Engine = engine });
        }

        return config with { Listeners = listeners };
    }

    /// <summary>The options that apply <see cref="Apply(TetherConfig)"/> to each config the gateway runs, reloads included.</summary>
    public static Tether.Gateway.GatewayOptions Apply(Tether.Gateway.GatewayOptions options) =>
        Forced is not null ? options with { ConfigFilter = Apply } : options;
}
