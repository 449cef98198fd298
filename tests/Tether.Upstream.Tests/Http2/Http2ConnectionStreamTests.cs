using System.Buffers.Binary;
using Tether.Upstream.Http2;

namespace Tether.Upstream.Tests.Http2;

/// <summary>The SETTINGS rewrite that holds an HTTP/2 backend connection to pool.maxConcurrentStreams.</summary>
public sealed class Http2ConnectionStreamTests
{
    [Fact]
    public async Task A_higher_max_concurrent_streams_is_lowered_to_the_cap()
    {
        var settings = Frame(0x4, 0, Setting(0x1, 4096), Setting(0x3, 1000), Setting(0x4, 65535));
        var data = Frame(0x0, 0x1, new byte[300]);
        var output = await ReadAllAsync([.. settings, .. data], cap: 10, readSize: 7);

        Assert.Equal(settings.Length + data.Length, output.Length);
        Assert.Equal(10u, SettingValue(output, 0x3));
        Assert.Equal(4096u, SettingValue(output, 0x1));
        Assert.Equal(data, output[settings.Length..]);
    }

    [Fact]
    public async Task A_lower_max_concurrent_streams_is_kept()
    {
        var settings = Frame(0x4, 0, Setting(0x3, 5));
        var output = await ReadAllAsync(settings, cap: 100, readSize: 4096);
        Assert.Equal(settings, output);
    }

    [Fact]
    public async Task Settings_without_a_limit_get_the_cap_added_and_the_frame_length_grows()
    {
        // No SETTINGS_MAX_CONCURRENT_STREAMS means unlimited (RFC 9113 §6.5.2): the cap is added.
        var settings = Frame(0x4, 0, Setting(0x4, 65535));
        var ping = Frame(0x6, 0, new byte[8]);
        var output = await ReadAllAsync([.. settings, .. ping], cap: 7, readSize: 3);

        Assert.Equal(settings.Length + 6 + ping.Length, output.Length);
        Assert.Equal(12, (output[0] << 16) | (output[1] << 8) | output[2]);
        Assert.Equal(7u, SettingValue(output, 0x3));
        Assert.Equal(ping, output[(settings.Length + 6)..]);
    }

    [Fact]
    public async Task A_settings_ack_and_frames_split_across_reads_pass_unchanged()
    {
        var ack = Frame(0x4, 0x1, []);
        var headers = Frame(0x1, 0x4, [.. "abcdefghijklmnopqrstuvwxyz"u8.ToArray()]);
        var input = (byte[])[.. ack, .. headers, .. Frame(0x0, 0x1, new byte[70000 % 16384])];
        var output = await ReadAllAsync(input, cap: 1, readSize: 1, innerChunk: 5);
        Assert.Equal(input, output);
    }

    [Fact]
    public async Task Cap_zero_leaves_everything_as_the_backend_sent_it()
    {
        var settings = Frame(0x4, 0, Setting(0x3, 1000));
        Assert.Equal(settings, await ReadAllAsync(settings, cap: 0, readSize: 4096));
    }

    [Fact]
    public async Task Disposing_counts_the_close_once_and_disposes_the_transport()
    {
        var closes = 0;
        var owner = new Owner();
        var stream = new Http2ConnectionStream(new MemoryStream(), owner, 10, () => closes++);
        await stream.DisposeAsync();
        stream.Dispose();
        Assert.Equal(1, closes);
        Assert.True(owner.Disposed);
    }

    [Fact]
    public async Task The_handler_first_reads_a_settings_frame_holding_only_the_cap()
    {
        await using var stream = new Http2ConnectionStream(new MemoryStream(Frame(0x4, 0, Setting(0x3, 1000))), new Owner(), 9, () => { });
        var all = new MemoryStream();
        await stream.CopyToAsync(all);
        var bytes = all.ToArray();

        Assert.Equal(Frame(0x4, 0, Setting(0x3, 9)), bytes[..15]);
        Assert.Equal(9u, SettingValue(bytes[15..], 0x3));
    }

    [Fact]
    public async Task The_ack_of_the_injected_settings_is_left_out_once_and_later_acks_pass()
    {
        var inner = new MemoryStream();
        await using var stream = new Http2ConnectionStream(inner, new Owner(), 9, () => { });
        var preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();
        var clientSettings = Frame(0x4, 0, Setting(0x2, 0));
        var ack = Frame(0x4, 0x1, []);
        var headers = Frame(0x1, 0x5, [0x82, 0x86, 0x84]);
        await stream.WriteAsync(preface.Concat(clientSettings).ToArray());
        await stream.WriteAsync(ack.Concat(headers).ToArray());
        await stream.WriteAsync(ack);

        Assert.Equal(preface.Concat(clientSettings).Concat(headers).Concat(ack).ToArray(), inner.ToArray());
    }

    [Theory]
    [InlineData(new byte[] { 0x82, 0x86, 0x84 }, new byte[] { 0x82, 0x87, 0x84 })] // GET
    [InlineData(new byte[] { 0x02, 0x03, (byte)'P', (byte)'U', (byte)'T', 0x86, 0x84 }, new byte[] { 0x02, 0x03, (byte)'P', (byte)'U', (byte)'T', 0x87, 0x84 })] // PUT, literal
    [InlineData(new byte[] { 0x82, 0x41, 0x01, (byte)'x' }, new byte[] { 0x82, 0x41, 0x01, (byte)'x' })] // no :scheme where expected: untouched
    public async Task Over_tls_the_scheme_of_each_request_says_https(byte[] block, byte[] expected)
    {
        var inner = new MemoryStream();
        await using var stream = new Http2ConnectionStream(inner, new Owner(), 0, () => { }, httpsScheme: true);
        var preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();
        var data = Frame(0x0, 0x1, [0x86, 0x86]); // a DATA payload that happens to hold 0x86 stays as it is
        await stream.WriteAsync(preface.Concat(Frame(0x1, 0x4, block)).Concat(data).ToArray());

        Assert.Equal(preface.Concat(Frame(0x1, 0x4, expected)).Concat(data).ToArray(), inner.ToArray());
    }

    // What the handler reads, without the SETTINGS the stream puts first when it has a cap.
    private static async Task<byte[]> ReadAllAsync(byte[] input, int cap, int readSize, int innerChunk = int.MaxValue)
    {
        await using var stream = new Http2ConnectionStream(new ChunkedStream(input, innerChunk), new Owner(), cap, () => { });
        var output = new MemoryStream();
        var buffer = new byte[readSize];
        int n;
        while ((n = await stream.ReadAsync(buffer)) > 0)
        {
            output.Write(buffer, 0, n);
        }

        var bytes = output.ToArray();
        return cap == 0 ? bytes : bytes[15..];
    }

    private static byte[] Frame(byte type, byte flags, byte[] payload)
    {
        var frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = flags;
        payload.CopyTo(frame, 9);
        return frame;
    }

    private static byte[] Frame(byte type, byte flags, byte[] first, params byte[][] more) => Frame(type, flags, [.. first, .. more.SelectMany(s => s)]);

    private static byte[] Setting(ushort id, uint value)
    {
        var setting = new byte[6];
        BinaryPrimitives.WriteUInt16BigEndian(setting, id);
        BinaryPrimitives.WriteUInt32BigEndian(setting.AsSpan(2), value);
        return setting;
    }

    private static uint? SettingValue(byte[] frame, ushort id)
    {
        var length = (frame[0] << 16) | (frame[1] << 8) | frame[2];
        for (var i = 9; i < 9 + length; i += 6)
        {
            if (BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(i)) == id)
            {
                return BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(i + 2));
            }
        }

        return null;
    }

    private sealed class Owner : IDisposable
    {
        public bool Disposed { get; private set; }

        public void Dispose() => Disposed = true;
    }

    // Hands out at most `chunk` bytes per read, as a socket may.
    private sealed class ChunkedStream(byte[] data, int chunk) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, chunk)], cancellationToken);
    }
}
