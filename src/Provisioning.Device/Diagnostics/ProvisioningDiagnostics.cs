using System.Diagnostics;

namespace Provisioning.Device.Diagnostics;

/// <summary>The <see cref="ActivitySource"/> of the client: one span per registration.</summary>
internal static class ProvisioningDiagnostics
{
    public const string SourceName = ProvisioningTelemetry.ActivitySourceName;

    public const string RegisterActivityName = "Provisioning.Register";

    /// <summary>One HTTP exchange of the direct HTTPS transport (a client span with the OpenTelemetry HTTP tags, as
    /// <c>System.Net.Http</c> gives them: <c>http.request.method</c>, <c>url.full</c>, <c>server.address</c>, <c>server.port</c>,
    /// <c>http.response.status_code</c>, <c>error.type</c>).</summary>
    public const string HttpActivityName = "Provisioning.Http";

    public const string OutcomeTag = "provisioning.outcome";

    public const string AttemptsTag = "provisioning.attempts";

    public const string DurationTag = "provisioning.duration_ms";

    public const string RegistrationIdTag = "provisioning.registration_id";

    public static readonly ActivitySource Source = new(SourceName);
}
