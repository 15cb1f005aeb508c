namespace Provisioning.Device.Hub;

/// <summary>The hand-off from provisioning: a client for the hub and device a registration assigned.</summary>
public sealed partial class DeviceClient
{
    /// <summary>The registration this client was created from by <see cref="Create"/> or <see cref="DeviceConnector"/> (whether
    /// it came from the cache, the operation id, the payload), or <see langword="null"/> for a client built from explicit facts.</summary>
    public DeviceRegistrationResult? Registration { get; private init; }

    /// <summary>Creates a client for the hub and device id a registration assigned, authenticated by the attestation that
    /// registered: TPM and symmetric key sign the SAS tokens through it, X.509 presents its certificate.</summary>
    /// <param name="registration">An <see cref="ProvisioningRegistrationStatus.Assigned"/> result of
    /// <see cref="ProvisioningDeviceClient.RegisterAsync(ProvisioningRegistrationRequest?, CancellationToken)"/>.</param>
    /// <param name="attestation">The attestation that registered; owned by the caller and kept alive (undisposed) while the
    /// client runs (renewals sign again).</param>
    /// <param name="options">Options; defaults when null. Map the hub host name in <see cref="DeviceClientOptions.HubAddresses"/>
    /// and trust its CA in <see cref="DeviceClientOptions.TrustedRootCertificates"/> for the emulator.</param>
    /// <returns>A client; nothing connects until <see cref="OpenAsync"/>.</returns>
    /// <exception cref="ArgumentException">The registration is not assigned, lacks the hub or device id, or carries an issued
    /// certificate (which the attestation cannot present); or the attestation can neither sign nor present a certificate.</exception>
    /// <remarks>dps-protocol.md §1.6 (the assigned state) and §8 (the hub connection). A TPM attestation re-activated the hub's
    /// identity key when the result arrived, so its tokens are signed with the key the hub knows.</remarks>
    /// <example><code>
    /// var result = await provisioning.RegisterAsync(cancellationToken);
    /// await using var client = DeviceClient.Create(result, attestation, options);
    /// await client.OpenAsync(cancellationToken);
    /// </code></example>
    public static DeviceClient Create(DeviceRegistrationResult registration, ProvisioningAttestation attestation, DeviceClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(registration);
        ArgumentNullException.ThrowIfNull(attestation);
        if (registration.Status != ProvisioningRegistrationStatus.Assigned)
        {
            var reason = registration.ErrorCode is { } code ? $" (error {code}: {registration.ErrorMessage})" : string.Empty;
            throw new ArgumentException(
                $"Registration '{registration.RegistrationId}' is {registration.Status}, not Assigned{reason}: there is no hub to connect to.",
                nameof(registration));
        }

        if (string.IsNullOrWhiteSpace(registration.AssignedHub) || string.IsNullOrWhiteSpace(registration.DeviceId))
        {
            throw new ArgumentException($"Registration '{registration.RegistrationId}' is assigned but names no hub or device id.", nameof(registration));
        }

        if (registration.IssuedCertificateChain.Count > 0 && registration.CertificateSigningKey is not null)
        {
            // dps-protocol.md §9: the hub knows the device by its issued certificate from now on.
            var issued = HubAuthentication.FromIssuedCertificate(registration);
            try
            {
                return new DeviceClient(registration.AssignedHub, registration.DeviceId, issued, options, ownsAuthentication: true)
                {
                    Registration = registration,
                };
            }
            catch
            {
                issued.Dispose();
                throw;
            }
        }

        if (registration.IssuedCertificateChain.Count > 0)
        {
            // The hub now knows the device by the issued certificate (dps-protocol.md §9), whose key only the caller holds.
            throw new ArgumentException(
                $"DPS issued a certificate to '{registration.RegistrationId}' and the hub expects it: create the client with " +
                "HubAuthentication.FromCertificate and the issued chain with the key of the certificate signing request, " +
                "or register with ProvisioningRegistrationRequest.CertificateSigningKey so the result carries the key.", nameof(registration));
        }

        var authentication = HubAuthentication.FromAttestation(attestation);
        try
        {
            return new DeviceClient(registration.AssignedHub, registration.DeviceId, authentication, options, ownsAuthentication: true)
            {
                Registration = registration,
            };
        }
        catch
        {
            authentication.Dispose();
            throw;
        }
    }
}
