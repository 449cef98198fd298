using System.Buffers;
using System.Net;
using System.Text;
using Tether.Gateway.ProxyProtocol;

namespace Tether.Gateway.Tests.ProxyProtocol;

public class ProxyHeaderParserTests
{
    private static readonly byte[] _v2Signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    private static ProxyParseStatus Parse(byte[] bytes, out ProxyHeader header, out long consumed, out string error) =>
        ProxyHeaderParser.TryParse(new ReadOnlySequence<byte>(bytes), out header, out consumed, out error);

    private static ProxyParseStatus Parse(string text, out ProxyHeader header, out long consumed) =>
        Parse(Encoding.ASCII.GetBytes(text), out header, out consumed, out _);

    [Fact]
    public void V1_tcp4_names_the_client_and_leaves_the_request_bytes()
    {
        const string head = "PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\n";
        Assert.Equal(ProxyParseStatus.Parsed, Parse(head + "GET / HTTP/1.1\r\n", out var header, out var consumed));
        Assert.Equal(head.Length, consumed);
        Assert.Equal(1, header.Version);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.0.2.10"), 56324), header.Source);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.51.100.1"), 443), header.Destination);
    }

    [Fact]
    public void V1_tcp6()
    {
        Assert.Equal(ProxyParseStatus.Parsed, Parse("PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n", out var header, out _));
        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::1"), 1), header.Source);
        Assert.Equal(65535, header.Destination!.Port);
    }

    [Fact]
    public void V1_unknown_keeps_the_transport_address()
    {
        Assert.Equal(ProxyParseStatus.Parsed, Parse("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", out var header, out var consumed));
        Assert.Null(header.Source);
        Assert.Equal(35, consumed);
    }

    [Theory]
    [InlineData("PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\n")] // bare LF
    [InlineData("PROXY TCP4 192.0.2.10 198.51.100.1 56324\r\n")] // a field missing
    [InlineData("PROXY TCP4 192.0.2.10 198.51.100.1 56324 443 9\r\n")] // a field too many
    [InlineData("PROXY TCP4 2001:db8::1 198.51.100.1 1 2\r\n")] // family mismatch
    [InlineData("PROXY TCP6 192.0.2.10 2001:db8::2 1 2\r\n")]
    [InlineData("PROXY TCP4 192.0.2.10 198.51.100.1 65536 2\r\n")] // port too large
    [InlineData("PROXY TCP4 192.0.2.10 198.51.100.1 080 2\r\n")] // leading zero
    [InlineData("PROXY TCP4 1 198.51.100.1 1 2\r\n")] // not a dotted quad
    [InlineData("PROXY TCP4  192.0.2.10 198.51.100.1 1 2\r\n")] // two spaces
    [InlineData("PROXY UDP4 192.0.2.10 198.51.100.1 1 2\r\n")]
    public void V1_malformed_is_invalid(string text)
    {
        Assert.Equal(ProxyParseStatus.Invalid, Parse(Encoding.ASCII.GetBytes(text), out _, out _, out var error));
        Assert.NotEmpty(error);
    }

    [Fact]
    public void V1_longer_than_107_bytes_without_a_line_end_is_invalid_not_incomplete()
    {
        var text = "PROXY TCP6 " + new string('1', 120);
        Assert.Equal(ProxyParseStatus.Invalid, Parse(Encoding.ASCII.GetBytes(text), out _, out _, out var error));
        Assert.Contains("107", error, StringComparison.Ordinal);
        Assert.Equal(ProxyParseStatus.Incomplete, Parse(text[..106], out _, out _));
    }

    [Theory]
    [InlineData("P")]
    [InlineData("PROX")]
    [InlineData("PROXY TCP4 192.0.2.10")]
    public void A_prefix_of_a_header_asks_for_more(string text) => Assert.Equal(ProxyParseStatus.Incomplete, Parse(text, out _, out _));

    [Theory]
    [InlineData("GET / HTTP/1.1\r\n")]
    [InlineData("POST / HTTP/1.1\r\n")]
    [InlineData("PRI * HTTP/2.0\r\n")]
    [InlineData("\u0016\u0003\u0001")] // a TLS ClientHello
    public void Other_first_bytes_are_not_a_header(string text)
    {
        Assert.Equal(ProxyParseStatus.NotProxy, Parse(text, out _, out var consumed));
        Assert.Equal(0, consumed);
    }

    [Fact]
    public void V2_tcp4_proxy()
    {
        var bytes = V2(0x21, 0x11, [192, 0, 2, 10, 198, 51, 100, 1, 0xDC, 0x04, 0x01, 0xBB], extra: "GET"u8.ToArray());
        Assert.Equal(ProxyParseStatus.Parsed, Parse(bytes, out var header, out var consumed, out _));
        Assert.Equal(28, consumed);
        Assert.Equal(2, header.Version);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.0.2.10"), 56324), header.Source);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.51.100.1"), 443), header.Destination);
    }

    [Fact]
    public void V2_tcp6_with_tlvs_consumes_them()
    {
        var addresses = new byte[36 + 7];
        IPAddress.Parse("2001:db8::1").TryWriteBytes(addresses, out _);
        IPAddress.Parse("2001:db8::2").TryWriteBytes(addresses.AsSpan(16), out _);
        addresses[32] = 0x30;
        addresses[33] = 0x39; // 12345
        addresses[35] = 80;
        addresses[36] = 0x04; // PP2_TYPE_NOOP, 4 bytes
        addresses[38] = 4;
        Assert.Equal(ProxyParseStatus.Parsed, Parse(V2(0x21, 0x21, addresses), out var header, out var consumed, out _));
        Assert.Equal(16 + 43, consumed);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::1"), 12345), header.Source);
    }

    [Fact]
    public void V2_local_keeps_the_transport_address()
    {
        Assert.Equal(ProxyParseStatus.Parsed, Parse(V2(0x20, 0x00, []), out var header, out var consumed, out _));
        Assert.Null(header.Source);
        Assert.Equal(16, consumed);
    }

    [Fact]
    public void V2_incomplete_until_the_whole_length_arrived()
    {
        var bytes = V2(0x21, 0x11, new byte[12]);
        for (var n = 1; n < bytes.Length; n++)
        {
            Assert.Equal(ProxyParseStatus.Incomplete, Parse(bytes[..n], out _, out _, out _));
        }
    }

    [Theory]
    [InlineData(0x11, 0x11)] // version 1 in the binary form
    [InlineData(0x22, 0x11)] // command 2
    [InlineData(0x21, 0x41)] // family 4
    public void V2_unknown_version_command_or_family_is_invalid(byte versionCommand, byte family) =>
        Assert.Equal(ProxyParseStatus.Invalid, Parse(V2(versionCommand, family, new byte[12]), out _, out _, out _));

    [Fact]
    public void V2_shorter_than_its_addresses_is_invalid() =>
        Assert.Equal(ProxyParseStatus.Invalid, Parse(V2(0x21, 0x21, new byte[12]), out _, out _, out _));

    [Fact]
    public void V2_oversized_is_invalid_before_the_body_arrives()
    {
        var preamble = V2(0x21, 0x11, [])[..16];
        preamble[14] = 0xFF;
        preamble[15] = 0xFF;
        Assert.Equal(ProxyParseStatus.Invalid, Parse(preamble, out _, out _, out var error));
        Assert.Contains("longer than", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_header_split_across_segments_parses()
    {
        var bytes = V2(0x21, 0x11, [10, 0, 0, 1, 10, 0, 0, 2, 0, 1, 0, 2]);
        var first = new Segment(bytes.AsMemory(0, 5));
        var last = first.Append(bytes.AsMemory(5));
        var sequence = new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        Assert.Equal(ProxyParseStatus.Parsed, ProxyHeaderParser.TryParse(sequence, out var header, out _, out _));
        Assert.Equal(IPAddress.Parse("10.0.0.1"), header.Source!.Address);
    }

    [Theory]
    [InlineData("192.0.2.10", 5000, "198.51.100.1", 80)]
    [InlineData("2001:db8::1", 1, "2001:db8::2", 65535)]
    public void Writer_output_parses_back(string source, int sourcePort, string destination, int destinationPort)
    {
        var s = new IPEndPoint(IPAddress.Parse(source), sourcePort);
        var d = new IPEndPoint(IPAddress.Parse(destination), destinationPort);
        foreach (var bytes in new[] { ProxyHeaderWriter.WriteV1(s, d), ProxyHeaderWriter.WriteV2(s, d) })
        {
            Assert.Equal(ProxyParseStatus.Parsed, Parse(bytes, out var header, out var consumed, out _));
            Assert.Equal(bytes.Length, consumed);
            Assert.Equal(s, header.Source);
            Assert.Equal(d, header.Destination);
        }
    }

    [Fact]
    public void Writer_writes_a_v4_client_of_a_dual_stack_socket_as_tcp4()
    {
        var s = new IPEndPoint(IPAddress.Parse("::ffff:192.0.2.10"), 5000);
        var d = new IPEndPoint(IPAddress.Parse("::ffff:127.0.0.1"), 80);
        Assert.Equal("PROXY TCP4 192.0.2.10 127.0.0.1 5000 80\r\n", Encoding.ASCII.GetString(ProxyHeaderWriter.WriteV1(s, d)));
        Assert.Equal(0x11, ProxyHeaderWriter.WriteV2(s, d)[13]);
    }

    [Fact]
    public void Writer_without_addresses_writes_unknown_and_local()
    {
        Assert.Equal("PROXY UNKNOWN\r\n", Encoding.ASCII.GetString(ProxyHeaderWriter.WriteV1(null, null)));
        var local = ProxyHeaderWriter.WriteV2(null, null);
        Assert.Equal(0x20, local[12]);
        Assert.Equal(ProxyParseStatus.Parsed, Parse(local, out var header, out _, out _));
        Assert.Null(header.Source);
    }

    private static byte[] V2(byte versionCommand, byte family, byte[] addresses, byte[]? extra = null)
    {
        extra ??= [];
        var bytes = new byte[16 + addresses.Length + extra.Length];
        _v2Signature.CopyTo(bytes, 0);
        bytes[12] = versionCommand;
        bytes[13] = family;
        bytes[14] = (byte)(addresses.Length >> 8);
        bytes[15] = (byte)addresses.Length;
        addresses.CopyTo(bytes, 16);
        extra.CopyTo(bytes, 16 + addresses.Length);
        return bytes;
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
