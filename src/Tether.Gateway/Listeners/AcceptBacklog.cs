using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Tether.Gateway.Listeners;

/// <summary>
/// Closing a listening socket without resetting the connections queued on it. The kernel completes handshakes on
/// its own and queues them until accept(); close() then resets every queued one (a client sees a connection that
/// opened, took its request and was reset: about two per drain under load with <c>drain.delay</c> 0). Linux has
/// no call that stops a socket listening but keeps its queue, so before the close Tether (1) attaches a socket
/// filter that drops new connection attempts (a SYN without ACK; the client retries a second later and by then
/// finds the port closed: refused, as after the close), (2) lets its accept loop take what is queued, until
/// TCP_INFO reports the queue empty, and only then closes. Elsewhere than Linux both steps are skipped.
/// </summary>
internal static class AcceptBacklog
{
    private const int SolSocket = 1;
    private const int SoAttachFilter = 26;
    private const int TcpInfo = 11;

    // Offset of tcpi_unacked in struct tcp_info: for a listening socket the kernel reports its accept queue's length there.
    private const int TcpInfoUnackedOffset = 24;

    // Classic BPF (struct sock_filter: u16 code, u8 jt, u8 jf, u32 k). A socket filter sees a segment from its TCP
    // header, so byte 13 is the flags. Accepted sockets inherit the filter; they never receive a SYN without ACK.
    //   0: ldb [13]            BPF_LD|BPF_B|BPF_ABS
    //   1: and #0x12           SYN|ACK
    //   2: jeq #0x02, 4, 3     a SYN alone: drop
    //   3: ret #0xffffffff     keep the whole segment
    //   4: ret #0              drop
    private static readonly ulong[] DropSynProgram =
    [
        Instruction(0x30, 0, 0, 13),
        Instruction(0x54, 0, 0, 0x12),
        Instruction(0x15, 1, 0, 0x02),
        Instruction(0x06, 0, 0, 0xffffffff),
        Instruction(0x06, 0, 0, 0),
    ];

    /// <summary>Drops new connection attempts from now on; what the kernel already queued stays queued. False if unsupported.</summary>
    public static bool StopNewConnections(Socket listener)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        var handle = GCHandle.Alloc(DropSynProgram, GCHandleType.Pinned);
        try
        {
            // struct sock_fprog { unsigned short len; struct sock_filter *filter; }: the pointer is 8-aligned.
            Span<byte> program = stackalloc byte[16];
            program.Clear();
            BinaryPrimitives.WriteUInt16LittleEndian(program, (ushort)DropSynProgram.Length);
            BinaryPrimitives.WriteInt64LittleEndian(program[8..], handle.AddrOfPinnedObject().ToInt64());
            listener.SetRawSocketOption(SolSocket, SoAttachFilter, program);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or PlatformNotSupportedException)
        {
            return false;
        }
        finally
        {
            handle.Free();
        }
    }

    /// <summary>Connections the kernel has completed and not yet handed to accept(); 0 when unknown or closed.</summary>
    public static int Pending(Socket listener)
    {
        if (!OperatingSystem.IsLinux())
        {
            return 0;
        }

        try
        {
            Span<byte> info = stackalloc byte[104];
            var length = listener.GetRawSocketOption((int)SocketOptionLevel.Tcp, TcpInfo, info);
            return length >= TcpInfoUnackedOffset + 4 ? (int)BinaryPrimitives.ReadUInt32LittleEndian(info[TcpInfoUnackedOffset..]) : 0;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or PlatformNotSupportedException)
        {
            return 0;
        }
    }

    private static ulong Instruction(ushort code, byte jumpTrue, byte jumpFalse, uint k) =>
        code | ((ulong)jumpTrue << 16) | ((ulong)jumpFalse << 24) | ((ulong)k << 32);
}
