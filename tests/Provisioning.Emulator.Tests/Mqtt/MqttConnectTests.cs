using MQTTnet;
using MQTTnet.Formatter;

using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests.Mqtt;

/// <summary>CONNECT (dps-protocol.md §5): who may connect, and the CONNACK return code of each refusal.</summary>
public sealed class MqttConnectTests
{
    [Fact]
    public async Task Connect_WithTpmEnrollment_IsRefusedNotAuthorized()
    {
        await using var dps = await TestDps.StartAsync(o => o.TpmCredentialIssuer = new FakeTpmIssuer());
        await dps.Enrollments.AddTpmAsync("mq-tpm", new byte[64], cancellationToken: TestContext.Current.CancellationToken);

        await using var device = await MqttTestDevice.ConnectAsync(dps, "mq-tpm", "SharedAccessSignature sr=x&sig=y&se=1&skn=registration");

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, device.ConnectResult!.ResultCode);
        Assert.False(device.IsConnected);
    }

    [Fact]
    public async Task Connect_WithSasSignedByAnotherKey_IsRefusedNotAuthorized()
    {
        await using var dps = await TestDps.StartAsync();
        await dps.Enrollments.AddSymmetricKeyAsync("mq-c1", cancellationToken: TestContext.Current.CancellationToken);
        var otherKey = Convert.ToBase64String(new byte[32]);

        await using var device = await MqttTestDevice.ConnectAsync(dps, "mq-c1", TestSas.ForDevice(otherKey, dps.IdScope, "mq-c1"));

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, device.ConnectResult!.ResultCode);
    }

    [Fact]
    public async Task Connect_WithExpiredSas_IsRefusedNotAuthorized()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("mq-c2", cancellationToken: TestContext.Current.CancellationToken);

        await using var device = await MqttTestDevice.ConnectAsync(dps, "mq-c2", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "mq-c2", TimeSpan.FromMinutes(-10)));

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, device.ConnectResult!.ResultCode);
    }

    [Fact]
    public async Task Connect_WithSasForAnotherRegistration_IsRefusedNotAuthorized()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("mq-c3", cancellationToken: TestContext.Current.CancellationToken);

        await using var device = await MqttTestDevice.ConnectAsync(dps, "mq-c3", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "mq-other"));

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, device.ConnectResult!.ResultCode);
    }

    [Fact]
    public async Task Connect_WithPasswordThatIsNotASas_IsRefusedBadUserNameOrPassword()
    {
        await using var dps = await TestDps.StartAsync();
        await dps.Enrollments.AddSymmetricKeyAsync("mq-c4", cancellationToken: TestContext.Current.CancellationToken);

        await using var device = await MqttTestDevice.ConnectAsync(dps, "mq-c4", "hunter2");

        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, device.ConnectResult!.ResultCode);
    }

    [Fact]
    public async Task Connect_WithoutAnyCredential_IsRefusedNotAuthorized()
    {
        await using var dps = await TestDps.StartAsync();
        await dps.Enrollments.AddSymmetricKeyAsync("mq-c5", cancellationToken: TestContext.Current.CancellationToken);

        await using var device = await MqttTestDevice.ConnectAsync(dps, "mq-c5");

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, device.ConnectResult!.ResultCode);
    }

    [Fact]
    public async Task Connect_WithX509CertificateOfAnotherName_IsRefusedNotAuthorized()
    {
        using var root = TestCertificates.Root("Mqtt Root");
        using var enrolled = TestCertificates.Leaf(root, "mq-c6");
        using var impostor = TestCertificates.Leaf(root, "mq-not-c6");
        await using var dps = await TestDps.StartAsync();
        await dps.Enrollments.AddX509GroupAsync("mq-c6-fleet", root, cancellationToken: TestContext.Current.CancellationToken);

        await using var device = await MqttTestDevice.ConnectAsync(dps, "mq-c6", certificate: impostor);

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, device.ConnectResult!.ResultCode);
    }

    [Fact]
    public async Task Connect_WithUnknownIdScope_IsRefusedNotAuthorized()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("mq-c7", cancellationToken: TestContext.Current.CancellationToken);

        await using var device = await MqttTestDevice.ConnectAsync(dps, "mq-c7", TestSas.ForDevice(keys.PrimaryKey, "0ne99999999", "mq-c7"),
            userName: MqttTestDevice.UserName("0ne99999999", "mq-c7"));

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, device.ConnectResult!.ResultCode);
    }

    [Fact]
    public async Task Connect_WhenUserNameNamesAnotherRegistration_IsRefusedClientIdentifierNotValid()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("mq-c8", cancellationToken: TestContext.Current.CancellationToken);

        await using var device = await MqttTestDevice.ConnectAsync(dps, "mq-c8", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "mq-c8"),
            userName: MqttTestDevice.UserName(dps.IdScope, "mq-someone"));

        Assert.Equal(MqttClientConnectResultCode.ClientIdentifierNotValid, device.ConnectResult!.ResultCode);
    }

    [Theory]
    [InlineData("unsupported api-version", "{0}/registrations/{1}/api-version=2001-01-01")]
    [InlineData("no api-version", "{0}/registrations/{1}/ClientVersion=x")]
    [InlineData("not the DPS shape", "{0}/{1}/?api-version=2019-03-31")]
    public async Task Connect_WithBadUserName_IsRefusedBadUserNameOrPassword(string why, string format)
    {
        Assert.NotEmpty(why);
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("mq-c9", cancellationToken: TestContext.Current.CancellationToken);

        await using var device = await MqttTestDevice.ConnectAsync(dps, "mq-c9", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "mq-c9"),
            userName: string.Format(System.Globalization.CultureInfo.InvariantCulture, format, dps.IdScope, "mq-c9"));

        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, device.ConnectResult!.ResultCode);
    }

    [Fact]
    public async Task Connect_WithMqtt5_IsRefusedUnsupportedProtocolVersion()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("mq-c10", cancellationToken: TestContext.Current.CancellationToken);

        await using var device = await MqttTestDevice.ConnectAsync(dps, "mq-c10", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "mq-c10"),
            version: MqttProtocolVersion.V500);

        Assert.Equal(MqttClientConnectResultCode.UnsupportedProtocolVersion, device.ConnectResult!.ResultCode);
    }

    [Fact]
    public async Task Register_AfterTheEnrollmentIsRemoved_Answers401002()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("mq-c11", cancellationToken: TestContext.Current.CancellationToken);
        await using var device = await MqttTestDevice.ConnectAsync(dps, "mq-c11", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "mq-c11"));
        await dps.Enrollments.RemoveAsync("mq-c11", TestContext.Current.CancellationToken);

        var answer = await device.RegisterAsync();

        // Each request is authenticated again, as over HTTPS: the enrollment is gone now.
        MqttRegistrationTests.AssertError(answer, 401, 401002);
    }
}
