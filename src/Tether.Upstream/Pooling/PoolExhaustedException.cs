namespace Tether.Upstream.Pooling;

/// <summary>No connection could be had: the destination is at its cap and the wait queue is full or timed out.</summary>
public sealed class PoolExhaustedException(string message) : Exception(message);
