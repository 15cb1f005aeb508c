using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;

using Provisioning.Emulator.Device;

namespace Provisioning.Emulator.Mqtt;

/// <summary>
/// One device connection, as CONNECT established it: who it is, how it authenticated, and the requests waiting for
/// their acknowledgement to be sent before they are served (dps-protocol.md §5: PUBACK, then the response).
/// </summary>
/// <remarks>
/// The SAS password lives as long as the connection, as the Authorization header lives as long as an HTTPS request:
/// each request is authenticated again with it, exactly as over HTTPS.
/// </remarks>
internal sealed class DpsMqttSession(DpsMqttUserName userName, string password, X509Certificate2? clientCertificate, IReadOnlyList<byte[]> clientIntermediates)
{
    /// <summary>The session item that holds this object.</summary>
    public const string Item = "dps.session";

    public string RegistrationId => userName.RegistrationId;

    /// <summary>Requests by packet identifier, served once their PUBACK (or PUBREC) is on its way.</summary>
    public ConcurrentDictionary<ushort, DpsMqttPendingRequest> Pending { get; } = new();

    /// <summary>The transport-neutral request for the device service.</summary>
    public DeviceRequest ToDeviceRequest() =>
        new(userName.IdScope, userName.RegistrationId, userName.ApiVersion, password, clientCertificate, null, clientIntermediates);
}

/// <summary>A request topic and its payload, waiting to be served.</summary>
internal sealed record DpsMqttPendingRequest(DpsMqttRequestTopic Topic, byte[] Payload);
