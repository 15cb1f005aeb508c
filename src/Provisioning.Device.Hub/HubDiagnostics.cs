using System.Diagnostics;

namespace Provisioning.Device.Hub;

/// <summary>The client's <see cref="ActivitySource"/>: connect, send, twin requests and direct methods. Quiet unless listened to.</summary>
internal static class HubDiagnostics
{
    public static readonly ActivitySource Source = new("Provisioning.Device.Hub");
}
