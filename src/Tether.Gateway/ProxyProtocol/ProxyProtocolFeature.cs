using System.Net;

namespace Tether.Gateway.ProxyProtocol;

/// <summary>Set on a connection whose PROXY header was accepted: what the header said and who really sent it.</summary>
/// <param name="Header">The parsed header; its Source is now the connection's RemoteEndPoint.</param>
/// <param name="Peer">The load balancer's own address (the transport's peer).</param>
internal sealed record ProxyProtocolFeature(ProxyHeader Header, EndPoint? Peer);
