namespace Tether.Doctor.Http;

/// <summary>The server ended the connection where a response (or the rest of one) was due.</summary>
public sealed class ConnectionClosedException : IOException
{
    public ConnectionClosedException()
    {
    }

    public ConnectionClosedException(string message)
        : base(message)
    {
    }

    public ConnectionClosedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
