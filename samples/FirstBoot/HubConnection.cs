using Provisioning.Device;
using Provisioning.Device.Hub;

namespace Provisioning.Samples.FirstBoot;

/// <summary>From an assignment to a hub client.</summary>
internal static class HubConnection
{
    /// <summary>A client for the assigned hub and device id, signing in with the identity that registered.</summary>
    public static DeviceClient Create(DeviceRegistrationResult result, DeviceIdentity identity, DeviceClientOptions options) =>
        new(result.AssignedHub!, result.DeviceId!, identity.HubAuthentication, options);
}
