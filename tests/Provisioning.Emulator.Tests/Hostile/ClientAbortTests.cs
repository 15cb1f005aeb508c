using System.Text;

using Microsoft.Extensions.Logging;

using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests.Hostile;

/// <summary>A client that goes away mid-request is a debug line, not an error with a stack trace.</summary>
public sealed class ClientAbortTests
{
    [Theory]
    [InlineData("PUT", "/{scope}/registrations/abort-1/register?api-version=2019-03-31")]
    [InlineData("PUT", "/enrollments/abort-2?api-version=2021-10-01")]
    public async Task DisconnectMidBody_IsLoggedAtDebugWithoutError(string method, string path)
    {
        var logs = new CapturingLogs();
        await using var dps = await TestDps.StartAsync(o => o.LoggerFactory = logs);
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var (tcp, tls) = await TestTls.OpenAsync(dps, dps.GlobalEndpoint.Port);
            using var _ = tcp;
            await using var __ = tls;
            // Expect: 100-continue makes the server say when the handler starts reading the body: the reset then lands mid-body.
            var auth = path.StartsWith("/enrollments", StringComparison.Ordinal) ? $"Authorization: {ServiceSas.FromConnectionString(dps.ServiceConnectionString)}\r\n" : "";
            var head = $"{method} {path.Replace("{scope}", dps.IdScope, StringComparison.Ordinal)} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n";
            await tls.WriteAsync(Encoding.ASCII.GetBytes(head), TestContext.Current.CancellationToken);
            await tls.FlushAsync(TestContext.Current.CancellationToken);
            var buffer = new byte[64];
            var read = await tls.ReadAsync(buffer, TestContext.Current.CancellationToken);
            Assert.StartsWith("HTTP/1.1 100", Encoding.ASCII.GetString(buffer, 0, read), StringComparison.Ordinal);
            await tls.WriteAsync("{\"registrationId\":"u8.ToArray(), TestContext.Current.CancellationToken);
            await tls.FlushAsync(TestContext.Current.CancellationToken);
            tcp.Client.Close(0);
        }

        Assert.True(await logs.WaitForAsync(e => e.Level == LogLevel.Debug && e.Message.Contains("client went away", StringComparison.Ordinal), TimeSpan.FromSeconds(20)),
            "no debug line for the aborted request: " + string.Join(" | ", logs.Entries.Select(e => $"{e.Level} {e.Message}")));
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Error);
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Warning && e.Exception is not null);
    }
}
