using System.Text;

namespace Tether.Doctor.Http;

/// <summary>Writes the doctor's one kind of request: a bodyless HTTP/1.1 request that asks to keep the connection.</summary>
internal static class Http1Request
{
    public static byte[] Format(string method, ProbeTarget target)
    {
        var text = new StringBuilder()
            .Append(method).Append(' ').Append(target.PathAndQuery).Append(" HTTP/1.1\r\n")
            .Append("Host: ").Append(target.Authority).Append("\r\n")
            .Append("User-Agent: tether-doctor\r\n")
            .Append("Accept: */*\r\n")
            .Append("\r\n")
            .ToString();
        return Encoding.ASCII.GetBytes(text);
    }
}
