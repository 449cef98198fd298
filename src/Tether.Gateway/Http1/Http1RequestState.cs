using System.Collections;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.ObjectPool;
using Tether.Gateway.Listeners;
using Tether.Gateway.Protection;
using Tether.Gateway.ProxyProtocol;

namespace Tether.Gateway.Http1;

/// <summary>
/// What a request on an engine connection needs besides the connection itself: the request and response header
/// dictionaries, the feature collection and the <see cref="DefaultHttpContext"/>. Built once and reused, as Kestrel
/// reuses its own per connection, but pooled per engine instead of held per connection: a connection takes one when
/// a request head starts and gives it back when it goes idle, so 5,000 idle connections hold none and 64 busy ones
/// share about 64. Before: four dictionaries and a context allocated per request, 2.2 KB of the engine's 2.3 KB.
/// </summary>
internal sealed class Http1RequestState
{
    /// <summary>What the headers of a connection with no request in hand read as (read-only, empty).</summary>
    public static readonly HeaderDictionary None = new() { IsReadOnly = true };

    public Http1RequestState() => Context = new DefaultHttpContext(Features);

    public HeaderDictionary RequestHeaders { get; } = new();

    public HeaderDictionary ResponseHeaders { get; } = new();

    public Http1FeatureCollection Features { get; } = new();

    public Http1StringCache Strings { get; } = new();

    public DefaultHttpContext Context { get; }

    /// <summary>
    /// The context for the request the features were just bound for. Uninitialize first: Initialize alone keeps the
    /// features the context cached for the request before (its Items, say), since it takes the collection's current
    /// revision as its own.
    /// </summary>
    public DefaultHttpContext StartRequest()
    {
        Context.Uninitialize();
        Context.Initialize(Features);
        return Context;
    }

    /// <summary>The engine's pool: at most <paramref name="retained"/> kept; one more is built when it is empty.</summary>
    public static ObjectPool<Http1RequestState> CreatePool(int retained) =>
        Http1Pools.Create(static () => new Http1RequestState(), static state =>
        {
            state.RequestHeaders.Clear();
            state.ResponseHeaders.Clear();
            state.Features.Unbind();
            state.Context.Uninitialize();
            return true;
        }, retained);
}

/// <summary>
/// The engine's feature collection (Kestrel's HttpProtocol is its own): the features the connection implements and
/// the connection-scoped ones are answered without a table; what a request sets beside them (Items, an override of
/// a known feature) goes in a short list that is emptied when the request ends. Revision moves on every change and on
/// every rebind, so a reused <see cref="DefaultHttpContext"/> never sees a cached feature of an earlier request.
/// </summary>
internal sealed class Http1FeatureCollection : IFeatureCollection
{
    private Http1ServerConnection? _connection;
    private ProxyProtocolFeature? _proxy;
    private DownstreamConnection? _downstream;
    private ClientConnectionFeature? _client;
    private List<KeyValuePair<Type, object?>>? _set;
    private int _revision;

    public bool IsReadOnly => false;

    public int Revision => _revision;

    public object? this[Type key]
    {
        get
        {
            if (_set is { Count: > 0 } set)
            {
                foreach (var entry in set)
                {
                    if (entry.Key == key)
                    {
                        return entry.Value;
                    }
                }
            }

            return Known(key);
        }

        set
        {
            _revision++;
            var list = _set ??= new List<KeyValuePair<Type, object?>>(4);
            for (var i = 0; i < list.Count; i++)
            {
                if (list[i].Key == key)
                {
                    list[i] = new(key, value);
                    return;
                }
            }

            list.Add(new(key, value));
        }
    }

    public void Bind(Http1ServerConnection connection, ProxyProtocolFeature? proxy, DownstreamConnection downstream, ClientConnectionFeature client)
    {
        _connection = connection;
        _proxy = proxy;
        _downstream = downstream;
        _client = client;
        _set?.Clear();
        _revision++;
    }

    public void Unbind()
    {
        _connection = null;
        _proxy = null;
        _downstream = null;
        _client = null;
        _set?.Clear();
        _revision++;
    }

    public TFeature? Get<TFeature>() => (TFeature?)this[typeof(TFeature)];

    public void Set<TFeature>(TFeature? instance) => this[typeof(TFeature)] = instance;

    public IEnumerator<KeyValuePair<Type, object>> GetEnumerator()
    {
        foreach (var type in s_known)
        {
            if (this[type] is { } feature)
            {
                yield return new(type, feature);
            }
        }

        if (_set is { } set)
        {
            foreach (var entry in set.ToArray())
            {
                if (entry.Value is { } value && Array.IndexOf(s_known, entry.Key) < 0)
                {
                    yield return new(entry.Key, value);
                }
            }
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private static readonly Type[] s_known =
    [
        typeof(IHttpRequestFeature), typeof(IHttpResponseFeature), typeof(IHttpResponseBodyFeature), typeof(IHttpConnectionFeature),
        typeof(IHttpRequestLifetimeFeature), typeof(IHttpRequestBodyDetectionFeature), typeof(IHttpUpgradeFeature),
        typeof(IHttpMaxRequestBodySizeFeature), typeof(ProxyProtocolFeature), typeof(DownstreamConnection), typeof(ClientConnectionFeature),
    ];

    private object? Known(Type key)
    {
        if (key == typeof(IHttpRequestFeature) || key == typeof(IHttpResponseFeature) || key == typeof(IHttpResponseBodyFeature)
            || key == typeof(IHttpConnectionFeature) || key == typeof(IHttpRequestLifetimeFeature) || key == typeof(IHttpRequestBodyDetectionFeature)
            || key == typeof(IHttpUpgradeFeature) || key == typeof(IHttpMaxRequestBodySizeFeature))
        {
            return _connection;
        }

        if (key == typeof(ClientConnectionFeature))
        {
            return _client;
        }

        if (key == typeof(DownstreamConnection))
        {
            return _downstream;
        }

        return key == typeof(ProxyProtocolFeature) ? _proxy : null;
    }
}
