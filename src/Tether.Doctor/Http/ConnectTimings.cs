namespace Tether.Doctor.Http;

/// <summary>Phases of opening one connection; DNS is zero when the address was resolved before.</summary>
public sealed record ConnectTimings(TimeSpan Dns, TimeSpan TcpConnect, TimeSpan? TlsHandshake);
