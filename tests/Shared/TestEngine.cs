using Tether.Configuration;

namespace Tether.Testing;

/// <summary>
/// TETHER_TEST_ENGINE=tether runs the functional suite on Tether's own HTTP/1.1 engine: every listener the
/// engine can take gets engine "tether", at start and, through <see cref="Apply(Tether.Gateway.GatewayOptions)"/>, on
/// every reload: all but a PROXY protocol listener on cleartext "http1AndHttp2" (with TLS or HTTP/2 the engine accepts
/// the connections and hands them to Kestrel). Unset or "kestrel": configs are left as the tests wrote them.
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
            var servable = listener.Tls is not null || listener.Protocols != ListenerProtocols.Http1AndHttp2 || listener.ProxyProtocol.Mode == ProxyProtocolMode.Off;
            listeners.Add(servable ? listener with { Engine = ListenerEngine.Tether } : listener);
        }

        return config with { Listeners = listeners };
    }

    /// <summary>The options that apply <see cref="Apply(TetherConfig)"/> to each config the gateway runs, reloads included.</summary>
    public static Tether.Gateway.GatewayOptions Apply(Tether.Gateway.GatewayOptions options) =>
        ForcesTether ? options with { ConfigFilter = Apply } : options;
}
