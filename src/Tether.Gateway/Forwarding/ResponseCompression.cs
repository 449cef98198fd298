using System.IO.Compression;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Tether.Configuration;

namespace Tether.Gateway.Forwarding;

/// <summary>
/// One route's response compression (<see cref="CompressionConfig"/>), decided once the backend's head is on
/// Kestrel's response: never for HEAD, 1xx/204/304, a range (206 or Content-Range), a response already encoded
/// (Content-Encoding) or marked <c>Cache-Control: no-transform</c>, a type not listed, or a known length below
/// minSize. A listed type of enough size says <c>Vary: Accept-Encoding</c> whether or not this client accepted,
/// so a cache keeps the two apart. Routes without compression have no instance: the forwarder's cost is a null check.
/// </summary>
internal sealed class ResponseCompression
{
    private readonly string[] _algorithms;
    private readonly string[] _types;
    private readonly long _minSize;
    private readonly CompressionLevel _level;

    private ResponseCompression(CompressionConfig config)
    {
        _algorithms = [.. config.Algorithms];
        // "text/*" is kept as "text/", a prefix; "application/json" as it is, matched whole.
        _types = [.. config.ContentTypes.Select(t => t.EndsWith("/*", StringComparison.Ordinal) ? t[..^1] : t)];
        _minSize = config.MinSize;
        _level = config.Level switch
        {
            CompressionLevelName.Optimal => CompressionLevel.Optimal,
            CompressionLevelName.SmallestSize => CompressionLevel.SmallestSize,
            _ => CompressionLevel.Fastest,
        };
    }

    public static ResponseCompression? Create(CompressionConfig config) => config.Enabled ? new ResponseCompression(config) : null;

    /// <summary>Starts compressing the response if it qualifies (setting Content-Encoding, Vary, dropping
    /// Content-Length so Kestrel streams it, chunked on HTTP/1.1); null to send it as it is.</summary>
    public CompressedBody? Begin(HttpContext context)
    {
        var response = context.Response;
        if (!IsCompressible(context.Request, response))
        {
            return null;
        }

        var headers = response.Headers;
        if (!Mentions(headers.Vary, HeaderNames.AcceptEncoding) && !Mentions(headers.Vary, "*"))
        {
            headers.Vary = StringValues.Concat(headers.Vary, HeaderNames.AcceptEncoding);
        }

        var encoding = Negotiate(context.Request.Headers.AcceptEncoding);
        if (encoding is null)
        {
            return null;
        }

        headers.ContentEncoding = encoding;
        response.ContentLength = null;
        // The bytes differ from the backend's: a strong validator would claim they are the same (nginx weakens it too).
        var etag = headers.ETag;
        if (etag.Count == 1 && etag[0] is { Length: > 0 } tag && tag[0] == '"')
        {
            headers.ETag = "W/" + tag;
        }

        return new CompressedBody(response.BodyWriter, encoding, _level);
    }

    private bool IsCompressible(HttpRequest request, HttpResponse response)
    {
        var status = response.StatusCode;
        if (status < 200 || status is 204 or 206 or 304 || HttpMethods.IsHead(request.Method))
        {
            return false;
        }

        var headers = response.Headers;
        if (headers.ContentEncoding.Count > 0 || headers.ContentRange.Count > 0 || HasNoTransform(headers.CacheControl))
        {
            return false;
        }

        if (response.ContentLength is { } length && length < _minSize)
        {
            return false;
        }

        return TypeListed(headers.ContentType);
    }

    private static bool HasNoTransform(StringValues cacheControl) => Mentions(cacheControl, "no-transform");

    // A header's values mention the token (a substring test: "no-transform", "accept-encoding" and "*" do not
    // occur inside other Cache-Control directives or Vary field names).
    private static bool Mentions(StringValues values, string token)
    {
        foreach (var value in values)
        {
            if (value is not null && value.Contains(token, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private bool TypeListed(StringValues contentType)
    {
        if (contentType.Count != 1 || contentType[0] is not { } value)
        {
            return false;
        }

        var media = value.AsSpan();
        var semicolon = media.IndexOf(';');
        media = (semicolon >= 0 ? media[..semicolon] : media).Trim();
        foreach (var type in _types)
        {
            var matches = type[^1] == '/'
                ? media.Length > type.Length && media.StartsWith(type, StringComparison.OrdinalIgnoreCase)
                : media.Equals(type, StringComparison.OrdinalIgnoreCase);
            if (matches)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The configured algorithm the client gives the highest q-value (RFC 9110 §12.5.3; "*" stands for
    /// any not named, q=0 refuses); a tie goes to the configured order. Null if none is acceptable.</summary>
    internal string? Negotiate(StringValues acceptEncoding)
    {
        string? best = null;
        var bestQ = 0.0;
        foreach (var algorithm in _algorithms)
        {
            var q = QualityOf(acceptEncoding, algorithm);
            if (q > bestQ)
            {
                best = algorithm;
                bestQ = q;
            }
        }

        return best;
    }

    private static double QualityOf(StringValues acceptEncoding, string algorithm)
    {
        double? named = null;
        double? any = null;
        foreach (var header in acceptEncoding)
        {
            if (header is null)
            {
                continue;
            }

            foreach (var range in header.AsSpan().Split(','))
            {
                var element = header.AsSpan()[range].Trim();
                var semicolon = element.IndexOf(';');
                var coding = (semicolon >= 0 ? element[..semicolon] : element).TrimEnd();
                var q = semicolon >= 0 ? ParseQuality(element[(semicolon + 1)..]) : 1.0;
                if (coding.Equals(algorithm, StringComparison.OrdinalIgnoreCase))
                {
                    named = q;
                }
                else if (coding is "*")
                {
                    any = q;
                }
            }
        }

        return named ?? any ?? 0.0;
    }

    // "q=0.5" among parameters; a malformed weight counts as 0 (not acceptable), the cautious reading.
    private static double ParseQuality(ReadOnlySpan<char> parameters)
    {
        foreach (var range in parameters.Split(';'))
        {
            var parameter = parameters[range].Trim();
            if (parameter.Length >= 2 && (parameter[0] is 'q' or 'Q') && parameter[1] == '=')
            {
                return double.TryParse(parameter[2..], System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out var q) && q is >= 0 and <= 1 ? q : 0.0;
            }
        }

        return 1.0;
    }
}

/// <summary>
/// The compressing writer one response's body goes through: a <see cref="PipeWriter"/> over a GZip or Brotli
/// stream over Kestrel's body writer. Each flush of the forwarder flushes the encoder too (a sync flush), so a
/// streamed body keeps streaming. Bounded: the pipe's pooled segments and the encoder's own window.
/// </summary>
internal sealed class CompressedBody
{
    private readonly Stream _encoder;
    private bool _done;

    public CompressedBody(PipeWriter body, string encoding, CompressionLevel level)
    {
        var target = body.AsStream(leaveOpen: true);
        _encoder = encoding == CompressionAlgorithms.Brotli
            ? new BrotliStream(target, level, leaveOpen: true)
            : new GZipStream(target, level, leaveOpen: true);
        Writer = PipeWriter.Create(_encoder, new StreamPipeWriterOptions(leaveOpen: true));
    }

    public PipeWriter Writer { get; }

    /// <summary>Writes what is buffered and the encoding's trailer; the caller then flushes Kestrel's writer.</summary>
    public async ValueTask CompleteAsync()
    {
        _done = true;
        await Writer.CompleteAsync().ConfigureAwait(false);
        await _encoder.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>After a failure: release the encoder without caring whether its last bytes reach anyone.</summary>
    public void Abandon()
    {
        if (_done)
        {
            return;
        }

        _done = true;
        try
        {
            Writer.Complete();
            _encoder.Dispose();
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
            // The response is already broken; the encoder's memory is what mattered.
        }
    }
}
