using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

using Microsoft.Azure.Amqp;
using Microsoft.Azure.Amqp.Encoding;
using Microsoft.Azure.Amqp.Framing;
using Microsoft.Azure.Amqp.Sasl;
using Microsoft.Azure.Amqp.Transport;

namespace Provisioning.Emulator.Tests.Amqp;

/// <summary>
/// A device written the way Microsoft's C# provisioning transport is (dps-protocol.md §6): the AMQP library's own TLS
/// initiator, SASL PLAIN, a receiver then a sender on <c>{idScope}/registrations/{id}</c> with the api-version and
/// client-version attach properties, an empty register body, an AmqpValue status body, answers read as a body stream.
/// </summary>
internal static class AmqpTestDevice
{
    public static readonly AmqpVersion Version100 = new(1, 0, 0);

    public static int Port(DpsEmulator dps) => int.Parse(dps.AmqpEndpoint!.Split(':')[1], CultureInfo.InvariantCulture);

    /// <summary>Connects with the library's TLS initiator, as the C# SDK does; <paramref name="sasl"/> null is TLS alone.</summary>
    public static async Task<AmqpConnection> ConnectAsync(DpsEmulator dps, SaslHandler? sasl, X509Certificate2? clientCertificate = null)
    {
        var ct = TestContext.Current.CancellationToken;
        var settings = new AmqpSettings();
        if (sasl is not null)
        {
            var saslProvider = new SaslTransportProvider();
            saslProvider.Versions.Add(Version100);
            saslProvider.AddHandler(sasl);
            settings.TransportProviders.Add(saslProvider);
        }

        var amqpProvider = new AmqpTransportProvider();
        amqpProvider.Versions.Add(Version100);
        settings.TransportProviders.Add(amqpProvider);
        var root = dps.CertificateAuthority.Certificate;
        var tls = new TlsTransportSettings(new TcpTransportSettings { Host = "localhost", Port = Port(dps) })
        {
            TargetHost = "localhost",
            Certificate = clientCertificate,
            CertificateValidationCallback = (_, certificate, _, _) => Trusts(root, certificate),
        };
        var transport = await new AmqpTransportInitiator(settings, tls).ConnectAsync(ct);
        var connection = new AmqpConnection(transport, settings, new AmqpConnectionSettings { ContainerId = Guid.NewGuid().ToString(), HostName = "localhost" });
        await connection.OpenAsync(ct);
        return connection;
    }

    public static SaslPlainHandler Plain(DpsEmulator dps, string registrationId, string sas) =>
        new() { AuthenticationIdentity = $"{dps.IdScope}/registrations/{registrationId}", Password = sas };

    /// <summary>A session with the receiver and the sender of the C# SDK.</summary>
    public static async Task<(ReceivingAmqpLink Receiver, SendingAmqpLink Sender)> OpenLinksAsync(AmqpConnection connection, string address, string apiVersion = "2019-03-31")
    {
        var ct = TestContext.Current.CancellationToken;
        var session = connection.CreateSession(new AmqpSessionSettings());
        await session.OpenAsync(ct);
        var receiver = new ReceivingAmqpLink(session, LinkSettings(true, address, apiVersion));
        await receiver.OpenAsync(ct);
        var sender = new SendingAmqpLink(session, LinkSettings(false, address, apiVersion));
        await sender.OpenAsync(ct);
        return (receiver, sender);
    }

    public static AmqpLinkSettings LinkSettings(bool receiver, string address, string apiVersion)
    {
        var settings = new AmqpLinkSettings
        {
            LinkName = Guid.NewGuid().ToString("N"),
            Role = receiver,
            Source = receiver ? new Source { Address = address } : new Source(),
            Target = receiver ? new Target() : new Target { Address = address },
            SettleType = receiver ? SettleMode.SettleOnReceive : SettleMode.SettleOnDispose,
            TotalLinkCredit = receiver ? 1000u : 0u,
            AutoSendFlow = receiver,
            Properties = new Fields(),
        };
        settings.Properties.Add(new AmqpSymbol("com.microsoft:api-version"), apiVersion);
        settings.Properties.Add(new AmqpSymbol("com.microsoft:client-version"), "Microsoft.Azure.Devices.Provisioning.Client/1.0");
        return settings;
    }

    /// <summary>The register message of the C# SDK: an empty body stream, or <c>{"payload":…}</c>.</summary>
    public static AmqpMessage Register(string? body = null)
    {
        var message = AmqpMessage.Create(new MemoryStream(body is null ? [] : System.Text.Encoding.UTF8.GetBytes(body)), true);
        message.Properties.CorrelationId = Guid.NewGuid().ToString();
        message.ApplicationProperties.Map["iotdps-operation-type"] = "iotdps-register";
        message.ApplicationProperties.Map["iotdps-forceRegistration"] = false;
        return message;
    }

    /// <summary>The status message of the C# SDK: an AmqpValue body and the operation id.</summary>
    public static AmqpMessage Status(string operationId)
    {
        var message = AmqpMessage.Create(new AmqpValue { Value = "iotdps-get-operationstatus" });
        message.Properties.CorrelationId = Guid.NewGuid().ToString();
        message.ApplicationProperties.Map["iotdps-operation-type"] = "iotdps-get-operationstatus";
        message.ApplicationProperties.Map["iotdps-operation-id"] = operationId;
        return message;
    }

    public static async Task<Outcome> SendAsync(SendingAmqpLink sender, AmqpMessage message)
    {
        using (message)
        {
            return await sender.SendMessageAsync(message, new ArraySegment<byte>(Guid.NewGuid().ToByteArray()), AmqpConstants.NullBinary, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>The next answer's JSON, read as the C# SDK reads it (the body stream).</summary>
    public static async Task<(string Json, AmqpMessage Message)> ReceiveAsync(ReceivingAmqpLink receiver)
    {
        var message = await receiver.ReceiveMessageAsync(TestContext.Current.CancellationToken);
        Assert.NotNull(message);
        receiver.AcceptMessage(message, false);
        using var reader = new StreamReader(message.BodyStream);
        return (await reader.ReadToEndAsync(TestContext.Current.CancellationToken), message);
    }

    /// <summary>A TLS stream to the AMQP port, for tests that write the bytes themselves.</summary>
    public static async Task<SslStream> OpenRawAsync(DpsEmulator dps)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync("localhost", Port(dps), TestContext.Current.CancellationToken);
        var root = dps.CertificateAuthority.Certificate;
        var tls = new SslStream(tcp.GetStream(), false, (_, certificate, _, _) => Trusts(root, certificate));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" }, TestContext.Current.CancellationToken);
        return tls;
    }

    private static bool Trusts(X509Certificate2 root, X509Certificate? certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(root);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return certificate is not null && chain.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
    }
}
