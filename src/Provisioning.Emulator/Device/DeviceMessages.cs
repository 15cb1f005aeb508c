using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

using Provisioning.Emulator.Json;

namespace Provisioning.Emulator.Device;

/// <summary>
/// A device API request with its transport stripped away: HTTPS takes these from the URL and headers, MQTT from
/// CONNECT and the request topic (dps-protocol.md §1.1, §5).
/// </summary>
/// <param name="IdScope">The ID scope the device addressed.</param>
/// <param name="RegistrationId">The registration id (URL segment over HTTPS, client id over MQTT).</param>
/// <param name="ApiVersion">The api-version, or null when missing or repeated.</param>
/// <param name="Authorization">The SAS token (Authorization header, MQTT password); empty when none.</param>
/// <param name="ClientCertificate">The TLS client certificate; owned by the connection.</param>
/// <param name="Region">The device region for <c>geoLatency</c> allocation, or null.</param>
/// <param name="ClientIntermediates">The other certificates the client sent in the TLS handshake (DER), for chain building only.</param>
internal readonly record struct DeviceRequest(
    string IdScope, string RegistrationId, string? ApiVersion, string Authorization, X509Certificate2? ClientCertificate, string? Region,
    IReadOnlyList<byte[]>? ClientIntermediates = null);

/// <summary>A device API answer with its transport stripped away: status, JSON body, wait, and the error code if any.</summary>
/// <remarks>HTTPS writes <see cref="RetryAfter"/> as <c>Retry-After</c>; MQTT as <c>&amp;retry-after=</c> in the topic (§5).</remarks>
internal sealed record DeviceResponse(int StatusCode, byte[] Body, TimeSpan? RetryAfter = null, int ErrorCode = 0)
{
    /// <summary>The DPS error body of dps-protocol.md §1.7, with status <c>errorCode / 1000</c>.</summary>
    public static DeviceResponse Error(int errorCode, string message, TimeProvider time, TimeSpan? retryAfter = null)
    {
        EmulatorMetrics.Error(errorCode);
        return new(errorCode / 1000, JsonSerializer.SerializeToUtf8Bytes(ErrorBody(errorCode, message, time), EmulatorJsonContext.Default.DpsErrorBody), retryAfter, errorCode);
    }

    /// <summary>A JSON answer.</summary>
    public static DeviceResponse Json<T>(int statusCode, T value, JsonTypeInfo<T> typeInfo, TimeSpan? retryAfter = null) =>
        new(statusCode, JsonSerializer.SerializeToUtf8Bytes(value, typeInfo), retryAfter);

    /// <summary>The error body: a fresh tracking id and the current time.</summary>
    private static DpsErrorBody ErrorBody(int errorCode, string message, TimeProvider time) => new()
    {
        ErrorCode = errorCode,
        TrackingId = Guid.NewGuid().ToString(),
        Message = message,
        TimestampUtc = time.GetUtcNow().UtcDateTime,
    };

    /// <summary>Whole seconds, rounded up, as both transports write them.</summary>
    public static int Seconds(TimeSpan delay) => (int)Math.Ceiling(delay.TotalSeconds);
}
