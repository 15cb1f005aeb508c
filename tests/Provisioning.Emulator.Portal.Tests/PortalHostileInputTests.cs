using System.Collections.Concurrent;
using System.Net;

using Microsoft.Extensions.Logging;

namespace Provisioning.Emulator.Portal.Tests;

/// <summary>What a crafted request gets: a clear 4xx, never a 500 or a change; and where the access token must not end up.</summary>
public sealed partial class PortalSecurityTests
{
    [Fact]
    public async Task Get_WithAFormBody_IsServedAsAPage_NotAServerError()
    {
        using var client = Client();
        var cookie = await CookieAsync(client);
        using var request = new HttpRequestMessage(HttpMethod.Get, emulator.Origin + "/faults")
        {
            Content = new FormUrlEncodedContent([new("endpoint", "Register")]),
        };
        request.Headers.Add("Cookie", cookie);
        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("/hubs/c2d", "body", "{}")]
    [InlineData("/hubs/method", "method", "reboot")]
    [InlineData("/hubs/twin", "desired", "{\"a\":1}")]
    [InlineData("/hubs/enabled", "enabled", "false")]
    public async Task DeviceAction_OnADeviceThatDoesNotExist_IsNotFound_AndCreatesNothing(string path, string field, string value)
    {
        using var client = Client();
        var cookie = await CookieAsync(client);
        var formToken = await FormTokenAsync(client, cookie);
        using var request = new HttpRequestMessage(HttpMethod.Post, emulator.Origin + path)
        {
            Content = new FormUrlEncodedContent([new("_form", formToken), new("hub", "hub1.localhost"), new("id", "portal-no-such-device"), new(field, value)]),
        };
        request.Headers.Add("Cookie", cookie);
        request.Headers.Add("Origin", emulator.Origin);
        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var hub = emulator.Dps.IotHubs.Single(h => h.HubHostName == "hub1.localhost");
        Assert.Equal(0, hub.GetCloudToDeviceQueueLength("portal-no-such-device"));
    }

    [Theory]
    [InlineData("/enrollments/delete", "")]
    [InlineData("/groups/delete", " ")]
    [InlineData("/enrollments/status", "")]
    [InlineData("/registrations/delete", "")]
    public async Task EnrollmentAction_WithAnEmptyId_IsAnsweredWithAPage_NotAServerError(string path, string id)
    {
        using var client = Client();
        var cookie = await CookieAsync(client);
        var formToken = await FormTokenAsync(client, cookie);
        using var request = new HttpRequestMessage(HttpMethod.Post, emulator.Origin + path)
        {
            Content = new FormUrlEncodedContent([new("_form", formToken), new("id", id), new("enabled", "false")]),
        };
        request.Headers.Add("Cookie", cookie);
        request.Headers.Add("Origin", emulator.Origin);
        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.True(response.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.BadRequest, $"{path} answered {(int)response.StatusCode}");
    }

    [Fact]
    public void InfoFile_WithTheAccessToken_IsReadableByItsOwnerOnly()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "Unix file modes only.");

        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(emulator.InfoFile));
        }
    }

    [Fact]
    public async Task AccessToken_IsNeverLogged_EvenAtTrace()
    {
        var cancel = TestContext.Current.CancellationToken;
        var logged = new ConcurrentQueue<string>();
        using var loggerFactory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(new Capture(logged)));
        var options = new DpsEmulatorOptions { PortalPort = 0, LoggerFactory = loggerFactory, MqttPort = null, WebSocketPort = null };
        options.Hubs.Add(new LinkedHub("hub1.localhost"));
        await using (var dps = await DpsEmulator.StartAsync(options, cancel))
        {
            var url = dps.PortalUrl!;
            var token = url.Query["?token=".Length..];
            using var client = Client(authority: dps.CertificateAuthority.Certificate);
            foreach (var address in new[] { url.ToString(), url.GetLeftPart(UriPartial.Path) + "enrollments?token=" + token, url.GetLeftPart(UriPartial.Path) + "?token=" + token + "x" })
            {
                using var response = await client.GetAsync(address, cancel);
                Assert.True(response.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.Unauthorized, $"{response.StatusCode}");
            }

            Assert.NotEmpty(logged);
            Assert.DoesNotContain(logged, line => line.Contains(token, StringComparison.Ordinal));
        }
    }

    /// <summary>Every log line, formatted, with the exception.</summary>
    private sealed class Capture(ConcurrentQueue<string> lines) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue($"{formatter(state, exception)} {exception}");

        public void Dispose()
        {
        }
    }
}
