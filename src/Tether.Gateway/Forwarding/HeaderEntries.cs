using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Tether.Gateway.Forwarding;

/// <summary>
/// <c>foreach (var header in HeaderEntries.Of(headers))</c>: enumerates an <see cref="IHeaderDictionary"/> without
/// boxing an enumerator when it is a <see cref="HeaderDictionary"/> (the "tether" engine's request headers), whose
/// struct enumerator the interface would box on every request. Any other dictionary (Kestrel's) goes through the
/// interface as before.
/// </summary>
internal readonly struct HeaderEntries(IHeaderDictionary headers)
{
    public static HeaderEntries Of(IHeaderDictionary headers) => new(headers);

    public Enumerator GetEnumerator() => new(headers);

    public struct Enumerator
    {
        private readonly IEnumerator<KeyValuePair<string, StringValues>>? _other;
        private HeaderDictionary.Enumerator _fast;

        public Enumerator(IHeaderDictionary headers)
        {
            if (headers is HeaderDictionary dictionary)
            {
                _fast = dictionary.GetEnumerator();
                _other = null;
            }
            else
            {
                _fast = default;
                _other = headers.GetEnumerator();
            }
        }

        public readonly KeyValuePair<string, StringValues> Current => _other is null ? _fast.Current : _other.Current;

        public bool MoveNext() => _other is null ? _fast.MoveNext() : _other.MoveNext();
    }
}
