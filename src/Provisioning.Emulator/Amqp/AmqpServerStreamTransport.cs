using Microsoft.Azure.Amqp;
using Microsoft.Azure.Amqp.Transport;

namespace Provisioning.Emulator.Amqp;

/// <summary>
/// The AMQP library's transport over a stream Kestrel accepted: the TLS connection's pipe, or a WebSocket stream. The
/// library's own listeners cannot be used: TLS (with the client's intermediates) and WebSockets are Kestrel's here, as for
/// HTTPS and MQTT.
/// </summary>
/// <remarks>
/// The library calls back when an operation completes asynchronously and reads the result at once when it returns false.
/// A read of 0 bytes is the end of the stream, which the library treats as a closed connection.
/// </remarks>
internal sealed class AmqpServerStreamTransport(Stream stream, string local, string remote) : TransportBase("dps-emulator-stream")
{
    public override string LocalEndPoint => local;

    public override string RemoteEndPoint => remote;

    public override bool IsSecure => true;

    public override void SetMonitor(ITransportMonitor usageMeter)
    {
    }

    public override bool WriteAsync(TransportAsyncCallbackArgs args)
    {
        var write = WriteCoreAsync(args);
        if (write.IsCompletedSuccessfully)
        {
            return false;
        }

        _ = CompleteAsync(write, args);
        return true;
    }

    public override bool ReadAsync(TransportAsyncCallbackArgs args)
    {
        var read = ReadCoreAsync(args);
        if (read.IsCompletedSuccessfully)
        {
            return false;
        }

        _ = CompleteAsync(read, args);
        return true;
    }

    protected override bool CloseInternal()
    {
        stream.Dispose();
        return true;
    }

    protected override void AbortInternal() => stream.Dispose();

    private async ValueTask WriteCoreAsync(TransportAsyncCallbackArgs args)
    {
        var total = 0;
        if (args.Buffer is not null)
        {
            await stream.WriteAsync(args.Buffer.AsMemory(args.Offset, args.Count)).ConfigureAwait(false);
            total = args.Count;
        }
        else
        {
            // One write for the frame's pieces: one TLS record (or WebSocket message) rather than one per piece.
            foreach (var buffer in args.ByteBufferList)
            {
                total += buffer.Length;
            }

            var merged = System.Buffers.ArrayPool<byte>.Shared.Rent(total);
            try
            {
                var offset = 0;
                foreach (var buffer in args.ByteBufferList)
                {
                    buffer.Buffer.AsSpan(buffer.Offset, buffer.Length).CopyTo(merged.AsSpan(offset));
                    offset += buffer.Length;
                }

                await stream.WriteAsync(merged.AsMemory(0, total)).ConfigureAwait(false);
            }
            finally
            {
                // Frames may carry a SAS token or an activation blob.
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(merged.AsSpan(0, total));
                System.Buffers.ArrayPool<byte>.Shared.Return(merged);
            }
        }

        await stream.FlushAsync().ConfigureAwait(false);
        args.BytesTransfered = total;
    }

    /// <summary>One read of a frame piece; the state machine of a read that waits is pooled.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReadCoreAsync(TransportAsyncCallbackArgs args) =>
        args.BytesTransfered = await stream.ReadAsync(args.Buffer.AsMemory(args.Offset, args.Count)).ConfigureAwait(false);

    /// <summary>Ends a read or write that did not complete at once, handing a stream failure to the library with the callback.</summary>
    private static async Task CompleteAsync(ValueTask operation, TransportAsyncCallbackArgs args)
    {
        try
        {
            await operation.ConfigureAwait(false);
        }
        catch (Exception ex) when (IsStreamFailure(ex))
        {
            args.Exception = ex;
        }

        args.CompletedCallback(args);
    }

    private static bool IsStreamFailure(Exception ex) =>
        ex is IOException or ObjectDisposedException or OperationCanceledException or System.Net.WebSockets.WebSocketException or InvalidOperationException
            or Microsoft.AspNetCore.Connections.ConnectionResetException or Microsoft.AspNetCore.Connections.ConnectionAbortedException;
}
