using System.Text;

namespace Provisioning.Device.Tests.Fakes;

internal static class TestClients
{
    /// <summary>Options for fake-clock tests: fixed jitter, no timers other than the client's chosen waits.</summary>
    public static ProvisioningClientOptions Options(TimeProvider? time = null, double random = 0.5) => new()
    {
        TimeProvider = time ?? TimeProvider.System,
        RequestTimeout = Timeout.InfiniteTimeSpan,
        RegistrationTimeout = Timeout.InfiniteTimeSpan,
        NextRandom = () => random,
    };

    public static ProvisioningDeviceClient Create(ScriptedHttpHandler handler, ProvisioningAttestation attestation, ProvisioningClientOptions? options = null) =>
        new(Dps.Endpoint, Dps.IdScope, attestation, options ?? Options(handler.Clock), handler);

    public static SymmetricKeyAttestation SymmetricKey(string registrationId = "device-01") => new(registrationId, Dps.Key);

    public static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));
}
