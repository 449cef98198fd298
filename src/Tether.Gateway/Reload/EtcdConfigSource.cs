using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;

namespace Tether.Gateway.Reload;

/// <summary>
/// etcd (v3 API, gRPC) as the config source: reads <c>&lt;prefix&gt;/config</c>, then watches it and hands each new
/// revision to <see cref="TetherGateway.ApplyDocumentAsync"/> (validate, then swap; an invalid revision changes
/// nothing). When etcd cannot be reached the last good config keeps serving and the source retries with a doubling
/// backoff (0.2 s to 10 s), moving to the next endpoint each time; on reconnect it reads the key again, so a
/// revision written while it was away is not missed.
/// </summary>
public sealed partial class EtcdConfigSource : IAsyncDisposable
{
    private static readonly TimeSpan _minBackoff = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan _maxBackoff = TimeSpan.FromSeconds(10);

    // A config document larger than this is refused rather than parsed (etcd's own default request limit is 1.5 MiB).
    private const int MaxDocumentBytes = 4 * 1024 * 1024;

    private readonly EtcdLocation _location;
    private readonly ILogger _log;
    private readonly GrpcChannel[] _channels;
    private readonly CancellationTokenSource _stopping = new();
    private int _current;
    private Task? _watching;

    public EtcdConfigSource(EtcdLocation location, ILogger log)
    {
        ArgumentNullException.ThrowIfNull(location);
        _location = location;
        _log = log;
        _channels = EtcdChannels.Create(location, MaxDocumentBytes + (64 * 1024));
    }

    /// <summary>The config document and its revision (the key's mod_revision), from any endpoint that answers.</summary>
    public async Task<(string Json, long Revision)> ReadAsync(CancellationToken cancellationToken)
    {
        Exception? last = null;
        for (var i = 0; i < _channels.Length; i++)
        {
            try
            {
                return await ReadFromAsync(Channel, cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException ex) when (!cancellationToken.IsCancellationRequested)
            {
                last = ex;
                NextEndpoint();
            }
        }

        throw new IOException($"etcd: no endpoint answered ({last?.Message})", last);
    }

    /// <summary>Watches the key from after <paramref name="revision"/> and applies each new revision to <paramref name="gateway"/>.</summary>
    public void Start(TetherGateway gateway, long revision) => _watching = WatchLoopAsync(gateway, revision, _stopping.Token);

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_watching is not null)
        {
            try
            {
                await _watching.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
            {
                // Stopped.
            }
        }

        foreach (var channel in _channels)
        {
            channel.Dispose();
        }

        _stopping.Dispose();
    }

    private GrpcChannel Channel => _channels[_current];

    private void NextEndpoint() => _current = (_current + 1) % _channels.Length;

    private async Task WatchLoopAsync(TetherGateway gateway, long applied, CancellationToken cancellationToken)
    {
        var backoff = _minBackoff;
        var lost = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var headers = await AuthenticateAsync(Channel, cancellationToken).ConfigureAwait(false);
                if (lost)
                {
                    // Back: what was written while we were away is read first.
                    var (json, revision) = await ReadFromAsync(Channel, cancellationToken).ConfigureAwait(false);
                    Log.Reconnected(_log, Channel.Target, revision);
                    lost = false;
                    if (revision > applied)
                    {
                        await gateway.ApplyDocumentAsync(json, Trigger(revision), revision, cancellationToken).ConfigureAwait(false);
                        applied = revision;
                    }
                }

                using var call = new Watch.WatchClient(Channel).Watch(headers, cancellationToken: cancellationToken);
                await call.RequestStream.WriteAsync(new WatchRequest
                {
                    CreateRequest = new WatchCreateRequest { Key = ByteString.CopyFromUtf8(_location.ConfigKey), StartRevision = applied + 1 },
                }, cancellationToken).ConfigureAwait(false);
                await foreach (var response in call.ResponseStream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                {
                    backoff = _minBackoff;
                    if (response.CompactRevision > 0 || response.Canceled)
                    {
                        // The revisions after ours were compacted away: read the key as it is now, then watch again.
                        throw new RpcException(new Status(StatusCode.OutOfRange, $"watch canceled ({response.CancelReason}); reading the key again"));
                    }

                    foreach (var change in response.Events)
                    {
                        if (change.Type != Mvccpb.Event.Types.EventType.Put)
                        {
                            Log.Deleted(_log, _location.ConfigKey, change.Kv.ModRevision);
                            continue;
                        }

                        var revision = change.Kv.ModRevision;
                        await gateway.ApplyDocumentAsync(change.Kv.Value.ToStringUtf8(), Trigger(revision), revision, cancellationToken).ConfigureAwait(false);
                        applied = revision;
                    }
                }

                throw new RpcException(new Status(StatusCode.Unavailable, "the watch stream ended"));
            }
            catch (Exception ex) when (ex is RpcException or IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
            {
                Log.Lost(_log, Channel.Target, ex.Message, backoff.TotalMilliseconds, applied);
                lost = true;
                NextEndpoint();
                await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
                backoff = backoff * 2 > _maxBackoff ? _maxBackoff : backoff * 2;
            }
        }
    }

    private static string Trigger(long revision) => $"etcd revision {revision}";

    private async Task<(string Json, long Revision)> ReadFromAsync(GrpcChannel channel, CancellationToken cancellationToken)
    {
        var headers = await AuthenticateAsync(channel, cancellationToken).ConfigureAwait(false);
        var response = await new KV.KVClient(channel)
            .RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8(_location.ConfigKey) }, headers, cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        if (response.Kvs.Count == 0)
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"key {_location.ConfigKey} not found; put the config document (JSON) there"));
        }

        var kv = response.Kvs[0];
        if (kv.Value.Length > MaxDocumentBytes)
        {
            throw new RpcException(new Status(StatusCode.ResourceExhausted, $"{_location.ConfigKey} is {kv.Value.Length} bytes, more than {MaxDocumentBytes}"));
        }

        return (kv.Value.ToStringUtf8(), kv.ModRevision);
    }

    private Task<Metadata?> AuthenticateAsync(GrpcChannel channel, CancellationToken cancellationToken) =>
        EtcdChannels.AuthenticateAsync(channel, _location, cancellationToken);

    private static partial class Log
    {
        [LoggerMessage(EventId = 4050, EventName = "EtcdLost", Level = LogLevel.Warning,
            Message = "etcd {Endpoint}: {Detail}; the config of revision {Revision} keeps serving; retrying in {Milliseconds}ms")]
        public static partial void Lost(ILogger logger, string endpoint, string detail, double milliseconds, long revision);

        [LoggerMessage(EventId = 4051, EventName = "EtcdReconnected", Level = LogLevel.Information,
            Message = "etcd {Endpoint}: reconnected; the config key is at revision {Revision}")]
        public static partial void Reconnected(ILogger logger, string endpoint, long revision);

        [LoggerMessage(EventId = 4052, EventName = "EtcdConfigDeleted", Level = LogLevel.Warning,
            Message = "etcd: {Key} was deleted at revision {Revision}; the running config stays (a deleted key is not an empty config)")]
        public static partial void Deleted(ILogger logger, string key, long revision);
    }
}
