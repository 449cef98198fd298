using System.Net;
using DnsClient;
using DnsClient.Protocol;
using Tether.Configuration;

namespace Tether.Upstream.Discovery;

/// <summary>
/// Asks DNS servers directly (DnsClient), so that answers come with their TTLs and SRV records can be read.
/// With dns.servers set, every name goes to them. Without, A/AAAA names go to the system resolver as before
/// (getaddrinfo: /etc/hosts, nsswitch; no TTLs, so resolveInterval decides) and SRV names to the nameservers of
/// /etc/resolv.conf. No cache of its own: the refresher decides when to ask again, from the TTLs.
/// </summary>
public sealed class DnsRecordResolver : IRecordResolver
{
    // SRV targets resolved per answer, at most: bounds the queries one refresh can make.
    internal const int MaxServiceTargets = 64;

    private readonly LookupClient _client;
    private readonly bool _useSystemResolver;

    public DnsRecordResolver(DnsConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var servers = new List<NameServer>();
        foreach (var text in config.Servers)
        {
            if (AddressParser.TryParseDnsServer(text, out var server))
            {
                servers.Add(new NameServer(server));
            }
        }

        _useSystemResolver = servers.Count == 0;
        var options = servers.Count == 0 ? new LookupClientOptions() : new LookupClientOptions([.. servers]);
        options.UseCache = false;
        options.Timeout = config.Timeout;
        options.Retries = 1;
        options.ThrowDnsErrors = false;
        options.ContinueOnDnsError = true;
        options.UseTcpFallback = true;
        _client = new LookupClient(options);
    }

    public async Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        var answer = await ResolveAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        var addresses = new IPAddress[answer.Endpoints.Count];
        for (var i = 0; i < addresses.Length; i++)
        {
            addresses[i] = answer.Endpoints[i].Address;
        }

        return addresses;
    }

    public async Task<DnsAnswer> ResolveAddressesAsync(string host, CancellationToken cancellationToken)
    {
        if (_useSystemResolver)
        {
            var system = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
            return new DnsAnswer([.. system.Select(a => new ResolvedEndpoint(a, 0, 0))], null);
        }

        var v4 = _client.QueryAsync(host, QueryType.A, QueryClass.IN, cancellationToken);
        var v6 = _client.QueryAsync(host, QueryType.AAAA, QueryClass.IN, cancellationToken);
        var endpoints = new List<ResolvedEndpoint>();
        TimeSpan? ttl = null;
        string? error = null;
        foreach (var response in await Task.WhenAll(v4, v6).ConfigureAwait(false))
        {
            if (response.HasError)
            {
                error ??= response.ErrorMessage;
            }

            foreach (var record in response.Answers)
            {
                if (record is AddressRecord address)
                {
                    endpoints.Add(new ResolvedEndpoint(address.Address, 0, 0));
                    ttl = Min(ttl, address.TimeToLive);
                }
            }
        }

        if (endpoints.Count > 0)
        {
            return new DnsAnswer(endpoints, ttl);
        }

        throw new DnsResponseException(error ?? "no A or AAAA records");
    }

    public async Task<DnsAnswer> ResolveServiceAsync(string name, CancellationToken cancellationToken)
    {
        var response = await _client.QueryAsync(name, QueryType.SRV, QueryClass.IN, cancellationToken).ConfigureAwait(false);
        if (response.HasError)
        {
            throw new DnsResponseException(response.ErrorMessage);
        }

        // RFC 2782: the lowest priority is tried first; higher ones are backups, not load-balanced with it.
        var records = response.Answers.SrvRecords().ToList();
        if (records.Count == 0)
        {
            throw new DnsResponseException("no SRV records");
        }

        var priority = records.Min(r => r.Priority);
        TimeSpan? ttl = null;
        var endpoints = new List<ResolvedEndpoint>();
        foreach (var record in records.Where(r => r.Priority == priority).Take(MaxServiceTargets))
        {
            ttl = Min(ttl, record.TimeToLive);
            var target = record.Target.Value.TrimEnd('.');

            // Servers usually put the targets' addresses in the additional section; ask only for those missing.
            var glue = response.Additionals.OfType<AddressRecord>()
                .Where(a => string.Equals(a.DomainName.Value.TrimEnd('.'), target, StringComparison.OrdinalIgnoreCase)).ToList();
            IEnumerable<(IPAddress Address, int Ttl)> addresses;
            if (glue.Count > 0)
            {
                addresses = glue.Select(a => (a.Address, a.TimeToLive));
            }
            else
            {
                var resolved = await ResolveAddressesAsync(target, cancellationToken).ConfigureAwait(false);
                ttl = resolved.Ttl is { } t ? Min(ttl, (int)t.TotalSeconds) : ttl;
                addresses = resolved.Endpoints.Select(e => (e.Address, int.MaxValue));
            }

            foreach (var (address, addressTtl) in addresses)
            {
                endpoints.Add(new ResolvedEndpoint(address, record.Port, record.Weight, target));
                ttl = Min(ttl, addressTtl);
            }
        }

        return new DnsAnswer(endpoints, ttl);
    }

    private static TimeSpan? Min(TimeSpan? current, int ttlSeconds)
    {
        var ttl = TimeSpan.FromSeconds(Math.Max(0, ttlSeconds));
        return current is { } c && c <= ttl ? c : ttl;
    }
}
