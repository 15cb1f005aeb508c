namespace Provisioning.Emulator.Tests.Support;

/// <summary>Service API tokens from a service connection string, the way the service SDK makes them.</summary>
internal static class ServiceSas
{
    public static string FromConnectionString(string connectionString, TimeSpan? lifetime = null)
    {
        var parts = connectionString.Split(';').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        return TestSas.Create(Convert.FromBase64String(parts["SharedAccessKey"]), parts["HostName"], DateTimeOffset.UtcNow + (lifetime ?? TimeSpan.FromHours(1)), parts["SharedAccessKeyName"]);
    }
}
