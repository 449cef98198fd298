using Tether.Configuration;

namespace Tether.Testing;

/// <summary>
/// TETHER_TEST_ENGINE=tether runs the functional suite on Tether's own HTTP/1.1 engine: every listener the
/// engine can serve (cleartext HTTP/1.1, no PROXY protocol) gets engine "tether". Unset or "kestrel": configs
/// are left as the tests wrote them.
/// </summary>
internal static class TestEngine
{
    public static bool ForcesTether =>
        string.Equals(Environment.GetEnvironmentVariable("TETHER_TEST_ENGINE"), "tether", StringComparison.OrdinalIgnoreCase);

    public static TetherConfig Apply(TetherConfig config)
    {
        if (!ForcesTether)
        {
            return config;
        }

        var listeners = new List<ListenerConfig>(config.Listeners.Count);
        foreach (var listener in config.Listeners)
        {
            var servable = listener.Protocols == ListenerProtocols.Http1 && listener.Tls is null && listener.ProxyProtocol.Mode == ProxyProtocolMode.Off;
            listeners.Add(servable ? listener with { Engine = ListenerEngine.Tether } : listener);
        }

        return config with { Listeners = listeners };
    }
}
