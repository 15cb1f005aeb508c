using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Provisioning.Emulator.Tests.Hubs;

/// <summary>The runnable host serves its hubs and prints where (issue 6: <c>hubs[].mqttAddress</c>).</summary>
public sealed class HostHubsTests
{
    [Fact]
    public async Task Host_PrintsEachHubsMqttAddress_WhereItListens()
    {
        var ct = TestContext.Current.CancellationToken;
        var data = Support.TestDps.TempDirectory();
        var dll = Path.Combine(AppContext.BaseDirectory, "Provisioning.Emulator.dll");
        using var host = Process.Start(new ProcessStartInfo("dotnet", ["exec", dll, "--data", data, "--port", "0", "--hubs", "2"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        try
        {
            // The host prints emulator.json once, indented: read up to its closing brace.
            var printed = new StringBuilder();
            using (var guard = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                guard.CancelAfter(TimeSpan.FromSeconds(60)); // a hang guard, not a timed assertion
                while (await host.StandardOutput.ReadLineAsync(guard.Token) is { } line)
                {
                    printed.AppendLine(line);
                    if (line == "}")
                    {
                        break;
                    }
                }
            }

            using var info = JsonDocument.Parse(printed.ToString());
            var hubs = info.RootElement.GetProperty("hubs");
            Assert.Equal(2, hubs.GetArrayLength());
            foreach (var hub in hubs.EnumerateArray())
            {
                Assert.True(IPEndPoint.TryParse(hub.GetProperty("mqttAddress").GetString()!, out var endPoint), hub.ToString());
                using var tcp = new TcpClient();
                await tcp.ConnectAsync(endPoint, ct);
                Assert.False(string.IsNullOrEmpty(hub.GetProperty("webSocketAddress").GetString()));
            }

            using var interrupt = Process.Start("kill", ["-INT", host.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await interrupt.WaitForExitAsync(ct);
            await host.WaitForExitAsync(ct).WaitAsync(TimeSpan.FromSeconds(30), ct);
            Assert.Equal(0, host.ExitCode);
        }
        finally
        {
            if (!host.HasExited)
            {
                host.Kill(entireProcessTree: true);
                await host.WaitForExitAsync(ct);
            }

            Directory.Delete(data, recursive: true);
        }
    }
}
