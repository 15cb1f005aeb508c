using Provisioning.Device;
using Provisioning.Device.Hub;

namespace Provisioning.Samples.FirstBoot;

/// <summary>One line per failure, naming the layer that failed.</summary>
internal static class ErrorText
{
    public static string Describe(Exception e) => e switch
    {
        OperationCanceledException => "canceled",
        ProvisioningException p => "provisioning failed: " + p.Message + (p.ErrorCode is { } code ? $" (error {code}{(p.TrackingId is { } t ? ", tracking id " + t : string.Empty)})" : string.Empty),
        HubException h => "the hub: " + h.Message,
        Provisioning.Device.Tpm.TpmException or Provisioning.Device.Tpm.TpmFormatException => "the TPM: " + e.Message,
        ArgumentException { ParamName: { } name } => e.Message.Replace($" (Parameter '{name}')", string.Empty, StringComparison.Ordinal),
        _ when e.InnerException is { } inner && e.Message.Length < 40 => e.Message + ": " + inner.Message,
        _ => e.Message,
    };
}
