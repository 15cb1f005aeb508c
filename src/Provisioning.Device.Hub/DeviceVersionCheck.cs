using System.Reflection;

namespace Provisioning.Device.Hub;

/// <summary>Refuses to run beside a <c>Provisioning.Device</c> of another version: the two packages ship together (the Hub
/// package depends on exactly its own version), and a skew NuGet only warned about (NU1608) stops here with a clear error
/// rather than failing somewhere at run time.</summary>
internal static class DeviceVersionCheck
{
    private static readonly Exception? Mismatch = Check(
        typeof(DeviceVersionCheck).Assembly.GetName().Version, typeof(ProvisioningAttestation).Assembly.GetName().Version);

    /// <summary>Throws when the loaded <c>Provisioning.Device</c> is not this package's version.</summary>
    public static void EnsureMatching()
    {
        if (Mismatch is { } error)
        {
            throw error;
        }
    }

    internal static InvalidOperationException? Check(Version? hub, Version? device) =>
        hub == device
            ? null
            : new InvalidOperationException(
                $"Provisioning.Device.Hub {hub} needs Provisioning.Device {hub}, but {device} is loaded: reference the same version of both packages.");
}
