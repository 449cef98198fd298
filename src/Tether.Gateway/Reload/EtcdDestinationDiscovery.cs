using System.Text;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Tether.Configuration;
using Tether.Upstream.Destinations;
using Tether.Upstream.Discovery;

namespace Tether.Gateway.Reload;

/// <summary>
/// clusters.&lt;name&gt;.destinationsFrom.etcd: every key under the prefix is one destination, written by a backend
/// (or a deploy tool) with a lease. A put adds it, a delete (or the lease expiring, which deletes the key) drains
/// it as a vanished DNS address drains. Losing etcd keeps the last list; on reconnect the prefix is read whole
/// again, so nothing missed in between is lost.
/// </summary>
internal sealed partial class EtcdDestinationDiscovery(EtcdConfig etcd, ILogger log) : IDestinationDiscovery
{
    // Keys read under one prefix, at most: bounds the table a misbehaving writer can grow.
    private const int MaxDestinations = 1024;

    private static readonly TimeSpan _maxBackoff = TimeSpan.FromSeconds(5);

    public IDisposable Start(ClusterState cluster)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        var stopping = new CancellationTokenSource();
        _ = RunAsync(cluster, cluster.Config.DestinationsFrom!.Etcd, stopping.Token);
        return new Stopper(stopping);
    }

    private async Task RunAsync(ClusterState cluster, string prefix, CancellationToken cancellationToken)
    {
        var location = EtcdChannels.FromConfig(etcd);
        var channels = EtcdChannels.Create(location);
        var current = 0;
        var backoff = TimeSpan.FromMilliseconds(100);
        var key = ByteString.CopyFromUtf8(prefix);
        var rangeEnd = RangeEnd(prefix);
        var source = "etcd " + prefix;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var channel = channels[current];
                try
                {
                    var headers = await EtcdChannels.AuthenticateAsync(channel, location, cancellationToken).ConfigureAwait(false);
                    var range = await new KV.KVClient(channel).RangeAsync(
                        new RangeRequest { Key = key, RangeEnd = rangeEnd, Limit = MaxDestinations }, headers, cancellationToken: cancellationToken).ConfigureAwait(false);
                    var table = new Dictionary<string, DestinationConfig>(StringComparer.Ordinal);
                    foreach (var kv in range.Kvs)
                    {
                        Put(table, kv, prefix);
                    }

                    cluster.ApplyDiscovered([.. table.Values], source);
                    using var call = new Watch.WatchClient(channel).Watch(headers, cancellationToken: cancellationToken);
                    await call.RequestStream.WriteAsync(new WatchRequest
                    {
                        CreateRequest = new WatchCreateRequest { Key = key, RangeEnd = rangeEnd, StartRevision = range.Header.Revision + 1 },
                    }, cancellationToken).ConfigureAwait(false);
                    await foreach (var response in call.ResponseStream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                    {
                        backoff = TimeSpan.FromMilliseconds(100);
                        if (response.Canceled || response.CompactRevision > 0)
                        {
                            break; // read the prefix whole again
                        }

                        foreach (var change in response.Events)
                        {
                            var name = change.Kv.Key.ToStringUtf8();
                            if (change.Type == Mvccpb.Event.Types.EventType.Put)
                            {
                                Put(table, change.Kv, prefix);
                            }
                            else
                            {
                                table.Remove(name);
                            }
                        }

                        cluster.ApplyDiscovered([.. table.Values], source);
                    }
                }
                catch (Exception ex) when (ex is RpcException or IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
                {
                    Log.Lost(log, cluster.Name, prefix, ex.Message, backoff.TotalMilliseconds);
                    current = (current + 1) % channels.Length;
                    await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
                    backoff = backoff * 2 > _maxBackoff ? _maxBackoff : backoff * 2;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled } or ObjectDisposedException)
        {
            // The cluster was retired or the gateway stopped.
        }
        finally
        {
            foreach (var channel in channels)
            {
                channel.Dispose();
            }
        }
    }

    // A value is "10.0.0.5:8080" (weight 1) or "10.0.0.5:8080 3" (weight 3); one that does not parse is logged and skipped.
    private void Put(Dictionary<string, DestinationConfig> table, Mvccpb.KeyValue kv, string prefix)
    {
        var name = kv.Key.ToStringUtf8();
        var text = kv.Value.ToStringUtf8().Trim();
        var parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var weight = 1;
        if (parts.Length is < 1 or > 2 || (parts.Length == 2 && (!int.TryParse(parts[1], out weight) || weight is < 1 or > 1000))
            || !AddressParser.TryParseDestination(parts.Length > 0 ? parts[0] : "", weight, out var destination, out _) || destination.Srv)
        {
            Log.BadValue(log, prefix, name, text);
            table.Remove(name);
            return;
        }

        table[name] = destination;
    }

    // The end of the range of keys that start with `prefix`: the prefix with its last byte plus one.
    private static ByteString RangeEnd(string prefix)
    {
        var bytes = Encoding.UTF8.GetBytes(prefix);
        bytes[^1]++;
        return ByteString.CopyFrom(bytes);
    }

    private sealed class Stopper(CancellationTokenSource stopping) : IDisposable
    {
        public void Dispose()
        {
            stopping.Cancel();
            stopping.Dispose();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4053, EventName = "EtcdDestinationsLost", Level = LogLevel.Warning,
            Message = "cluster={Cluster}: etcd {Prefix}: {Detail}; its last destinations stay; retrying in {Milliseconds}ms")]
        public static partial void Lost(ILogger logger, string cluster, string prefix, string detail, double milliseconds);

        [LoggerMessage(EventId = 4054, EventName = "EtcdDestinationInvalid", Level = LogLevel.Warning,
            Message = "etcd {Prefix}: key {Key} holds \"{Value}\", not a destination (write \"10.0.0.5:8080\" or \"10.0.0.5:8080 2\" for weight 2); skipped")]
        public static partial void BadValue(ILogger logger, string prefix, string key, string value);
    }
}
