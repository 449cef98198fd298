using Tether.Doctor.Endpoint;

namespace Tether.Doctor.Chain;

/// <summary>What a destination showed: its measured idle timeout and the Keep-Alive timeout it advertises, if any.</summary>
public sealed record DestinationIdle(IdleTimeoutEstimate Measured, TimeSpan? Advertised);
