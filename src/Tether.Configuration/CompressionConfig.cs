namespace Tether.Configuration;

/// <summary>
/// Response compression on one route (nginx gzip / brotli, HAProxy compression): backend responses of the listed
/// types, at least <see cref="MinSize"/> bytes when their length is known, are compressed with the first of
/// <see cref="Algorithms"/> the client accepts. Never a response that is already encoded, says
/// <c>Cache-Control: no-transform</c>, answers HEAD, is 204/304, or is a range (206, Content-Range).
/// </summary>
public sealed record CompressionConfig
{
    public static readonly IReadOnlyList<string> DefaultAlgorithms = [CompressionAlgorithms.Brotli, CompressionAlgorithms.Gzip];

    public static readonly IReadOnlyList<string> DefaultContentTypes =
        ["text/*", "application/json", "application/javascript", "application/xml", "image/svg+xml"];

    public bool Enabled { get; init; }

    /// <summary>"br" and/or "gzip", in Tether's order of preference; the client's q-values come first.</summary>
    public IReadOnlyList<string> Algorithms { get; init; } = DefaultAlgorithms;

    /// <summary>Media types ("application/json") or whole types ("text/*"); parameters such as charset are ignored.</summary>
    public IReadOnlyList<string> ContentTypes { get; init; } = DefaultContentTypes;

    /// <summary>A response whose Content-Length is below this is sent as it is (a small body gains nothing).</summary>
    public long MinSize { get; init; } = 1024;

    public CompressionLevelName Level { get; init; } = CompressionLevelName.Fastest;
}

public static class CompressionAlgorithms
{
    public const string Brotli = "br";
    public const string Gzip = "gzip";
}

/// <summary>System.IO.Compression's levels: fastest (gzip -1, brotli 1), optimal, smallestSize.</summary>
public enum CompressionLevelName
{
    Fastest,
    Optimal,
    SmallestSize,
}
