using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace Provisioning.Emulator.Certificates;

/// <summary>
/// TLS for the device endpoints (HTTPS and DPS over MQTT): the emulator CA's server certificate, a client certificate
/// asked for but judged later against the enrollments, and, per connection, the other certificates the client sent.
/// </summary>
/// <remarks>
/// dps-protocol.md §4: a device of a group sends its intermediates in the handshake, and the service builds the chain
/// from its leaf to the enrolled signer with them. <c>HttpsConnectionAdapterOptions.ClientCertificateValidation</c> is
/// called without its connection, so the handshake is configured per connection (<see cref="TlsHandshakeCallbackOptions"/>)
/// with a validation callback of our own: on .NET the chain it receives has the certificates the peer sent in
/// <see cref="X509ChainPolicy.ExtraStore"/>. They are copied as bytes, because the chain is disposed after the callback.
/// </remarks>
internal static class DeviceTls
{
    /// <summary>Serves TLS on <paramref name="listen"/> and sets a <see cref="PresentedCertificates"/> feature on each connection.</summary>
    /// <remarks>A client that has not completed its handshake within <paramref name="handshakeTimeout"/> (10 s by default) is dropped.</remarks>
    public static ListenOptions UseDeviceTls(this ListenOptions listen, X509Certificate2 serverCertificate, TimeSpan? handshakeTimeout = null)
    {
        var context = SslStreamCertificateContext.Create(serverCertificate, additionalCertificates: null, offline: true);
        var connections = new System.Runtime.CompilerServices.ConditionalWeakTable<SslStream, PresentedCertificates>();

        // One options object for every connection: the TLS layer keeps one server context (and its session-ticket keys) for
        // equal options, so a returning client resumes its session and a new one costs no context setup. A new options
        // object with a new callback per connection cost every handshake that setup (issue 13). The per-connection record
        // of what the client sent is found from the callback's sender, the connection's SslStream.
        var shared = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = context,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,

            // Asked for, not required: symmetric-key devices have none.
            ClientCertificateRequired = true,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (sender, certificate, chain, errors) =>
                sender is SslStream stream && connections.TryGetValue(stream, out var presented)
                    ? presented.Capture(sender, certificate, chain, errors)
                    : true,
        };
        return listen.UseHttps(new TlsHandshakeCallbackOptions
        {
            HandshakeTimeout = handshakeTimeout ?? TimeSpan.FromSeconds(10),
            OnConnection = handshake =>
            {
                var presented = new PresentedCertificates();
                handshake.Connection.Features.Set(presented);
                connections.AddOrUpdate(handshake.SslStream, presented);
                return ValueTask.FromResult(shared);
            },
        });
    }
}

/// <summary>
/// The certificates a TLS client sent besides its own (its intermediates), as DER. They are only ever an extra store
/// for chain building: never trusted as anchors.
/// </summary>
internal sealed class PresentedCertificates
{
    /// <summary>The certificates the client sent besides its leaf, in the order received; empty when none.</summary>
    public IReadOnlyList<byte[]> Intermediates { get; private set; } = [];

    /// <summary>
    /// The handshake's validation callback: records what the client sent and accepts it, since which certificates are
    /// trusted depends on the enrollments (DeviceAuthenticator checks each request against them, as the service does).
    /// </summary>
    public bool Capture(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is not null && chain is not null)
        {
            var leaf = certificate.GetRawCertData();
            Intermediates = [.. chain.ChainPolicy.ExtraStore.Select(c => c.RawData).Where(raw => !raw.AsSpan().SequenceEqual(leaf))];
        }

        return true;
    }
}
