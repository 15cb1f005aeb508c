namespace Provisioning.Device.Hub;

/// <summary>The state of a <see cref="DeviceClient"/>'s connection.</summary>
public enum ConnectionState
{
    /// <summary>Not opened yet.</summary>
    Created,

    /// <summary>Connecting (first time, after a drop, or to renew the SAS token).</summary>
    Connecting,

    /// <summary>Connected and subscribed.</summary>
    Connected,

    /// <summary>The connection dropped; a reconnect is scheduled.</summary>
    Disconnected,

    /// <summary>The hub refused the device (unauthorized, unknown or disabled): terminal, the device should reprovision.</summary>
    Refused,

    /// <summary>Disposed.</summary>
    Closed,
}

/// <summary>Why the connection state changed.</summary>
public enum ConnectionChangeReason
{
    /// <summary>The application opened or closed the client.</summary>
    ClientRequest,

    /// <summary>The connection succeeded.</summary>
    Connected,

    /// <summary>The SAS token was due for renewal.</summary>
    TokenRenewal,

    /// <summary>The network or the hub dropped the connection.</summary>
    ConnectionLost,

    /// <summary>The hub refused the credentials or the device.</summary>
    Refused,
}

/// <summary>A connection state change.</summary>
/// <param name="state">The new state.</param>
/// <param name="reason">Why.</param>
/// <param name="exception">The failure behind it, if any.</param>
public sealed class ConnectionStateChangedEventArgs(ConnectionState state, ConnectionChangeReason reason, Exception? exception) : EventArgs
{
    /// <summary>The new state.</summary>
    public ConnectionState State { get; } = state;

    /// <summary>Why it changed.</summary>
    public ConnectionChangeReason Reason { get; } = reason;

    /// <summary>The failure behind it, if any.</summary>
    public Exception? Exception { get; } = exception;
}

/// <summary>What the hub said when it refused the device, handed to <see cref="DeviceClientOptions.ReprovisionRequired"/>.</summary>
/// <param name="HubHostName">The hub.</param>
/// <param name="DeviceId">The device.</param>
/// <param name="ConnectCode">The MQTT 3.1.1 CONNACK return code (2 identifier rejected, 4 bad credentials, 5 not authorized).</param>
public sealed record HubRefusal(string HubHostName, string DeviceId, int ConnectCode)
{
    /// <summary>Whether the code says the hub does not accept this identity (2 identifier rejected, 4 bad credentials, 5 not
    /// authorized), so the device must go back to DPS; 1 (protocol version) is not an identity problem.</summary>
    public bool RequiresReprovisioning => ConnectCode is 2 or 4 or 5;
}
