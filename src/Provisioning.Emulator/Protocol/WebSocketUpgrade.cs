using Microsoft.AspNetCore.Http;

namespace Provisioning.Emulator.Protocol;

/// <summary>The WebSocket upgrade the DPS endpoints share (dps-protocol.md §5, §6): <c>/$iothub/websocket</c> (or no path)
/// with the transport's subprotocol; anything else is answered 404 or 400 and not upgraded.</summary>
internal static class WebSocketUpgrade
{
    /// <summary>The path the device SDKs dial.</summary>
    public const string Path = "/$iothub/websocket";

    /// <summary>Accepts the upgrade, or answers the request and returns <see langword="null"/>.</summary>
    public static async Task<System.Net.WebSockets.WebSocket?> AcceptAsync(HttpContext context, string subProtocol)
    {
        if (context.Request.Path.Value is not ("" or "/" or Path))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return null;
        }

        if (!context.WebSockets.IsWebSocketRequest || !context.WebSockets.WebSocketRequestedProtocols.Contains(subProtocol, StringComparer.OrdinalIgnoreCase))
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return null;
        }

        return await context.WebSockets.AcceptWebSocketAsync(subProtocol).ConfigureAwait(false);
    }
}
