using System.Diagnostics;

namespace Provisioning.Device.Diagnostics;

/// <summary>The <see cref="ActivitySource"/> of the client: one span per registration.</summary>
internal static class ProvisioningDiagnostics
{
    public const string SourceName = ProvisioningTelemetry.ActivitySourceName;

    public const string RegisterActivityName = "Provisioning.Register";

    public const string OutcomeTag = "provisioning.outcome";

    public const string AttemptsTag = "provisioning.attempts";

    public const string DurationTag = "provisioning.duration_ms";

    public const string RegistrationIdTag = "provisioning.registration_id";

    public static readonly ActivitySource Source = new(SourceName);
}
