namespace Tether.Configuration;

/// <summary>A minimum data rate with a grace period (Kestrel MinDataRate). <c>BytesPerSecond</c> 0 = off.</summary>
public sealed record DataRateConfig
{
    /// <summary>Kestrel's default for both directions: 240 bytes/s.</summary>
    public int BytesPerSecond { get; init; } = 240;

    /// <summary>How long a transfer may run below the rate before it counts (covers TCP slow start).</summary>
    public TimeSpan Grace { get; init; } = TimeSpan.FromSeconds(5);

    public bool IsOff => BytesPerSecond == 0;
}

/// <summary>HTTP/2 limits on client connections (Kestrel Http2Limits).</summary>
public sealed record Http2LimitsConfig
{
    /// <summary>SETTINGS_MAX_CONCURRENT_STREAMS; nginx http2_max_concurrent_streams.</summary>
    public int MaxStreamsPerConnection { get; init; } = 100;

    /// <summary>Bytes a client may send on one stream before Tether reads them (768 KiB, Kestrel's default).</summary>
    public int InitialStreamWindowSize { get; init; } = 768 * 1024;

    /// <summary>Bytes a client may send on all streams of a connection before Tether reads them (1 MiB).</summary>
    public int InitialConnectionWindowSize { get; init; } = 1024 * 1024;

    /// <summary>
    /// Frames a client may send in one second that carry no request progress (SETTINGS, PING, RST_STREAM,
    /// PRIORITY, WINDOW_UPDATE beyond what the responses earn, empty DATA/HEADERS/CONTINUATION, unknown types)
    /// before its connection is closed with GOAWAY ENHANCE_YOUR_CALM. 0 = no limit.
    /// </summary>
    public int MaxControlFramesPerSecond { get; init; } = 1000;
}

public enum ProxyProtocolMode
{
    /// <summary>No PROXY header is read; one that arrives is an invalid request.</summary>
    Off,

    /// <summary>A header is read if one comes from a trusted network; connections without one are served as they are.</summary>
    Optional,

    /// <summary>Every connection must start with a header from a trusted network.</summary>
    Required,
}

/// <summary>Accepting the PROXY protocol (v1 text, v2 binary) on a listener.</summary>
public sealed record ProxyProtocolConfig
{
    public ProxyProtocolMode Mode { get; init; } = ProxyProtocolMode.Off;

    /// <summary>CIDRs ("10.0.0.0/8") or addresses of the load balancers allowed to send a header.</summary>
    public NetworkListConfig TrustedNetworks { get; init; } = NetworkListConfig.Empty;

    /// <summary>Time a peer has to send the whole header.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>Which PROXY protocol header, if any, Tether writes at the start of each backend connection.</summary>
public enum ProxyProtocolVersion
{
    Off,
    V1,
    V2,
}

/// <summary>
/// A list of networks as written ("10.0.0.0/8"), compared by content so two configs with the same lists are
/// equal (records compare lists by reference otherwise). Written in code as a collection: <c>["10.0.0.0/8"]</c>.
/// </summary>
[System.Runtime.CompilerServices.CollectionBuilder(typeof(NetworkListConfig), nameof(Create))]
public sealed class NetworkListConfig : IReadOnlyList<string>, IEquatable<NetworkListConfig>
{
    private readonly string[] _items;

    private NetworkListConfig(string[] items) => _items = items;

    public static NetworkListConfig Empty { get; } = new([]);

    public int Count => _items.Length;

    public string this[int index] => _items[index];

    public static NetworkListConfig Create(ReadOnlySpan<string> items) => items.IsEmpty ? Empty : new(items.ToArray());

    public bool Equals(NetworkListConfig? other) => other is not null && _items.AsSpan().SequenceEqual(other._items);

    public override bool Equals(object? obj) => Equals(obj as NetworkListConfig);

    public override int GetHashCode()
    {
        var hash = default(HashCode);
        foreach (var item in _items)
        {
            hash.Add(item, StringComparer.Ordinal);
        }

        return hash.ToHashCode();
    }

    public IEnumerator<string> GetEnumerator() => ((IEnumerable<string>)_items).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => _items.GetEnumerator();

    public override string ToString() => "[" + string.Join(", ", _items) + "]";
}
