using System.Reflection;
using System.Runtime.InteropServices;

namespace Provisioning.Device.Transport.Http;

/// <summary>The User-Agent value (dps-protocol.md §1.2: the service does not validate it).</summary>
internal static class UserAgent
{
    private static readonly string Base =
        $"Provisioning.Device/{typeof(UserAgent).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0"} " +
        $"({RuntimeInformation.FrameworkDescription}; {RuntimeInformation.OSDescription}; {RuntimeInformation.OSArchitecture})";

    public static string Build(string? productInfo) => string.IsNullOrWhiteSpace(productInfo) ? Base : $"{Base} {productInfo}";
}
