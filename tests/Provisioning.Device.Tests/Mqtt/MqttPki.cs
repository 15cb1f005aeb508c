using Provisioning.Device.Tests.Fakes;

namespace Provisioning.Device.Tests.Mqtt;

/// <summary>One test PKI for the MQTT tests, and the client options that trust its root.</summary>
public sealed class MqttPki : IDisposable
{
    public TestPki Value { get; } = new();

    public ProvisioningClientOptions Options(ProvisioningTransport transport, TimeProvider? time = null)
    {
        ProvisioningClientOptions options = TestClients.Options(time);
        options.Transport = transport;
        if (time is null)
        {
            // A client that ignored an answer would wait forever: this turns that into a failure.
            options.RegistrationTimeout = TimeSpan.FromSeconds(20);
        }

        options.TrustedRootCertificates.Add(Value.PublicRoot);
        return options;
    }

    public void Dispose() => Value.Dispose();
}
