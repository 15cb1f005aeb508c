using Microsoft.Azure.Amqp;
using Microsoft.Azure.Amqp.Transport;

namespace Provisioning.Device.Transport.Amqp;

/// <summary>
/// The AMQP library's transport over a <see cref="Stream"/> we opened ourselves: a TLS stream over TCP, or a WebSocket
/// stream (dps-protocol.md §6).
/// </summary>
/// <remarks>
/// Our own stream rather than the library's TLS and WebSocket initiators, so that the TLS handshake sends the client
/// certificate's chain (<see cref="System.Net.Security.SslClientAuthenticationOptions.ClientCertificateContext"/>), trust goes
/// through the same custom-root check as HTTPS, and WebSockets go through the client's HTTP handler (proxy). The library
/// calls back when an operation completes asynchronously, and reads the result at once when it returns false.
/// </remarks>
internal sealed class AmqpStreamTransport : TransportBase
{
    private readonly Stream _stream;

    public AmqpStreamTransport(Stream stream, string? local, string? remote)
        : base("dps-stream")
    {
        _stream = stream;
        LocalEndPoint = local ?? "";
        RemoteEndPoint = remote ?? "";
    }

    public override string LocalEndPoint { get; }

    public override string RemoteEndPoint { get; }

    public override bool IsSecure => true;

    public override void SetMonitor(ITransportMonitor usageMeter)
    {
    }

    public override bool WriteAsync(TransportAsyncCallbackArgs args)
    {
        ValueTask write = WriteCoreAsync(args);
        if (write.IsCompletedSuccessfully)
        {
            return false;
        }

        _ = CompleteAsync(write, args);
        return true;
    }

    public override bool ReadAsync(TransportAsyncCallbackArgs args)
    {
        ValueTask read = ReadCoreAsync(args);
        if (read.IsCompletedSuccessfully)
        {
            return false;
        }

        _ = CompleteAsync(read, args);
        return true;
    }

    protected override bool CloseInternal()
    {
        _stream.Dispose();
        return true;
    }

    protected override void AbortInternal() => _stream.Dispose();

    private async ValueTask WriteCoreAsync(TransportAsyncCallbackArgs args)
    {
        if (args.Buffer is not null)
        {
            await _stream.WriteAsync(args.Buffer.AsMemory(args.Offset, args.Count)).ConfigureAwait(false);
            args.BytesTransfered = args.Count;
        }
        else
        {
            // One write for the frame's pieces: one TLS record (or WebSocket message) rather than one per piece.
            int total = 0;
            foreach (ByteBuffer buffer in args.ByteBufferList)
            {
                total += buffer.Length;
            }

            byte[] merged = System.Buffers.ArrayPool<byte>.Shared.Rent(total);
            try
            {
                int offset = 0;
                foreach (ByteBuffer buffer in args.ByteBufferList)
                {
                    buffer.Buffer.AsSpan(buffer.Offset, buffer.Length).CopyTo(merged.AsSpan(offset));
                    offset += buffer.Length;
                }

                await _stream.WriteAsync(merged.AsMemory(0, total)).ConfigureAwait(false);
            }
            finally
            {
                // Frames may carry a SAS token or an activation blob.
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(merged.AsSpan(0, total));
                System.Buffers.ArrayPool<byte>.Shared.Return(merged);
            }

            args.BytesTransfered = total;
        }

        await _stream.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>One read of a frame piece (the library reads one at a time); the state machine of a read that waits is pooled.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReadCoreAsync(TransportAsyncCallbackArgs args) =>
        args.BytesTransfered = await _stream.ReadAsync(args.Buffer.AsMemory(args.Offset, args.Count)).ConfigureAwait(false);

    /// <summary>Ends a read or write that did not complete at once: its error, if the connection's, goes to the library with the
    /// callback.</summary>
    private static async Task CompleteAsync(ValueTask operation, TransportAsyncCallbackArgs args)
    {
        try
        {
            await operation.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or System.Net.WebSockets.WebSocketException or System.Security.Authentication.AuthenticationException)
        {
            args.Exception = ex;
        }

        args.CompletedCallback(args);
    }
}
