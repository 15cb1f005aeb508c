using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

using Provisioning.Emulator.Json;
using Provisioning.Emulator.Protocol;
using Provisioning.Emulator.Storage;
using Provisioning.Emulator.Tpm;

namespace Provisioning.Emulator.Device;

/// <summary>
/// Decides who a device request comes from: symmetric-key SAS (individual or group-derived keys), TPM (401 challenge,
/// then a SAS signed by the wrapped key) or X.509 (TLS client certificate, by enrollment or chain to a group's signer).
/// </summary>
/// <remarks>dps-protocol.md §1.4, §3, §4, §11. Individual enrollments take precedence over groups.</remarks>
internal sealed partial class DeviceAuthenticator(EmulatorStore store, DpsEmulatorOptions options, string idScope)
{
    private const string DeviceKeyName = "registration";

    // The key wrapped in the last challenge per registration: only the device's TPM can recover it.
    private readonly ConcurrentDictionary<string, byte[]> _challengeKeys = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Authenticates a request by its SAS token (<see cref="DeviceRequest.Authorization"/>, empty when none) or TLS client
    /// certificate. <paramref name="mayChallenge"/> allows a TPM request without SAS to be challenged.
    /// </summary>
    public AuthOutcome Authenticate(DeviceRequest request, DeviceRegistrationRequest? body, bool mayChallenge)
    {
        var (header, certificate, registrationId) = (request.Authorization, request.ClientCertificate, request.RegistrationId);
        var hasSas = header.Length > 0;
        store.Enrollments.TryGetValue(registrationId, out var enrollment);

        if (enrollment is not null)
        {
            return enrollment.Attestation?.Type switch
            {
                "symmetricKey" => AuthenticateSymmetricIndividual(enrollment, registrationId, header),
                "tpm" => AuthenticateTpm(enrollment, registrationId, body, header, hasSas, mayChallenge),
                "x509" => AuthenticateX509Individual(enrollment, registrationId, certificate),
                _ => AuthOutcome.Fail(DpsErrorCodes.Unauthorized, "The enrollment has no usable attestation."),
            };
        }

        if (hasSas)
        {
            return AuthenticateSymmetricGroup(registrationId, header);
        }

        if (certificate is not null)
        {
            return AuthenticateX509Group(registrationId, certificate, request.ClientIntermediates ?? []);
        }

        return AuthOutcome.Fail(DpsErrorCodes.Unauthorized, "The device is not authorized: no enrollment matches and no credential was presented.");
    }

    /// <summary>Whether the registration id has an individual TPM enrollment (TPM has no group enrollments).</summary>
    public bool IsTpmEnrollment(string registrationId) =>
        store.Enrollments.TryGetValue(registrationId, out var enrollment) && enrollment.Attestation?.Type == "tpm";

    /// <summary>Whether <paramref name="header"/> is a SAS signed with the registration's current TPM challenge key or hub key.</summary>
    internal bool VerifyTpmSas(string registrationId, string header, byte[]? hubKey, out AuthOutcome failure)
    {
        failure = default;
        var token = SasToken.TryParse(header);
        if (token is null)
        {
            failure = AuthOutcome.Fail(DpsErrorCodes.MalformedToken, "The Authorization header is not a SAS token.");
            return false;
        }

        foreach (var key in new[] { _challengeKeys.GetValueOrDefault(registrationId), hubKey })
        {
            if (key is null)
            {
                continue;
            }

            var check = Check(token, key, registrationId);
            if (check == SasCheck.Valid)
            {
                return true;
            }

            if (check != SasCheck.BadSignature)
            {
                failure = Failure(check);
                return false;
            }
        }

        failure = AuthOutcome.Fail(DpsErrorCodes.Unauthorized, "The SAS token was not signed by the TPM's identity key.");
        return false;
    }

    private AuthOutcome AuthenticateSymmetricIndividual(IndividualEnrollment enrollment, string registrationId, string header)
    {
        var keys = enrollment.Attestation!.SymmetricKey;
        var primary = Decode(keys?.PrimaryKey);
        var secondary = Decode(keys?.SecondaryKey);
        var outcome = VerifySas(header, registrationId, primary, secondary);
        return outcome.ErrorCode != 0 ? outcome : new AuthOutcome(
            new DeviceIdentity
            {
                RegistrationId = registrationId,
                AttestationType = "symmetricKey",
                Enrollment = enrollment,
                PrimaryKey = primary,
                SecondaryKey = secondary,
            }, null, 0, null);
    }

    private AuthOutcome AuthenticateSymmetricGroup(string registrationId, string header)
    {
        var token = SasToken.TryParse(header);
        if (token is null)
        {
            return AuthOutcome.Fail(DpsErrorCodes.MalformedToken, "The Authorization header is not a SAS token.");
        }

        var first = true;
        foreach (var group in store.Groups.Values)
        {
            if (group.Attestation?.Type != "symmetricKey")
            {
                continue;
            }

            var primary = Derive(Decode(group.Attestation.SymmetricKey?.PrimaryKey), registrationId);
            var secondary = Derive(Decode(group.Attestation.SymmetricKey?.SecondaryKey), registrationId);
            foreach (var key in new[] { primary, secondary })
            {
                if (key is null)
                {
                    continue;
                }

                var check = Check(token, key, registrationId);
                if (first && check is SasCheck.WrongAudience or SasCheck.Expired)
                {
                    return Failure(check);
                }

                first = false;
                if (check == SasCheck.Valid)
                {
                    return new AuthOutcome(
                        new DeviceIdentity
                        {
                            RegistrationId = registrationId,
                            AttestationType = "symmetricKey",
                            Group = group,
                            PrimaryKey = primary,
                            SecondaryKey = secondary,
                        }, null, 0, null);
                }
            }
        }

        return AuthOutcome.Fail(DpsErrorCodes.Unauthorized, "The SAS token does not verify with any enrollment of this registration id.");
    }

    private AuthOutcome AuthenticateTpm(IndividualEnrollment enrollment, string registrationId, DeviceRegistrationRequest? body, string header, bool hasSas, bool mayChallenge)
    {
        if (options.TpmCredentialIssuer is not { } issuer)
        {
            return AuthOutcome.Fail(DpsErrorCodes.TpmNotSupported, "TPM attestation is not available: the emulator was started without a TPM credential issuer.");
        }

        var enrolledEk = Decode(enrollment.Attestation!.Tpm?.EndorsementKey);
        byte[]? ek = null, srk = null;
        if (body?.Tpm is { } tpm)
        {
            ek = Decode(tpm.EndorsementKey);
            srk = Decode(tpm.StorageRootKey);
            if (ek is null || enrolledEk is null || !CryptographicOperations.FixedTimeEquals(ek, enrolledEk))
            {
                return AuthOutcome.Fail(DpsErrorCodes.Unauthorized, "The endorsement key does not match the enrollment.");
            }
        }

        if (!hasSas)
        {
            if (!mayChallenge || ek is null || srk is null)
            {
                return AuthOutcome.Fail(DpsErrorCodes.Unauthorized, "A TPM registration needs its endorsement and storage root keys, then a SAS token.");
            }

            TpmIssuedCredential credential;
            try
            {
                credential = issuer.Issue(ek, srk);
            }
            catch (TpmAttestationRejectedException ex)
            {
                return AuthOutcome.Fail(DpsErrorCodes.TpmKeyRejected, ex.Message);
            }

            if (_challengeKeys.TryGetValue(registrationId, out var previous))
            {
                CryptographicOperations.ZeroMemory(previous);
            }

            _challengeKeys[registrationId] = credential.IdentityKey;
            return new AuthOutcome(null, new TpmChallengeBody
            {
                Message = "Authentication required: activate the key and sign a SAS token with it.",
                AuthenticationKey = Convert.ToBase64String(credential.AuthenticationKey),
                KeyName = DeviceKeyName,
            }, 0, null);
        }

        var hubKey = store.Registrations.TryGetValue(registrationId, out var existing) && existing.AssignedHub is { } hub && existing.DeviceId is { } deviceId
            && store.HubDevices.TryGetValue(EmulatorStore.HubKey(hub, deviceId), out var device) ? device.PrimaryKey : null;
        if (!VerifyTpmSas(registrationId, header, hubKey, out var failure))
        {
            return failure;
        }

        return new AuthOutcome(
            new DeviceIdentity
            {
                RegistrationId = registrationId,
                AttestationType = "tpm",
                Enrollment = enrollment,
                EndorsementKey = ek ?? enrolledEk,
                StorageRootKey = srk ?? Decode(enrollment.Attestation.Tpm?.StorageRootKey),
            }, null, 0, null);
    }

    private AuthOutcome VerifySas(string header, string registrationId, byte[]? primary, byte[]? secondary)
    {
        var token = SasToken.TryParse(header);
        if (token is null)
        {
            return header.Length == 0
                ? AuthOutcome.Fail(DpsErrorCodes.Unauthorized, "A SAS token is required.")
                : AuthOutcome.Fail(DpsErrorCodes.MalformedToken, "The Authorization header is not a SAS token.");
        }

        foreach (var key in new[] { primary, secondary })
        {
            if (key is null)
            {
                continue;
            }

            var check = Check(token, key, registrationId);
            if (check != SasCheck.BadSignature)
            {
                return check == SasCheck.Valid ? default : Failure(check);
            }
        }

        return AuthOutcome.Fail(DpsErrorCodes.Unauthorized, "The SAS token's signature does not verify.");
    }

    private SasCheck Check(SasToken token, byte[] key, string registrationId) =>
        token.Check(key, idScope + "/registrations/" + registrationId, DeviceKeyName, options.TimeProvider.GetUtcNow(), options.ClockSkew);

    private static AuthOutcome Failure(SasCheck check) => check switch
    {
        SasCheck.Expired => AuthOutcome.Fail(DpsErrorCodes.ExpiredToken, "The SAS token has expired."),
        SasCheck.WrongAudience => AuthOutcome.Fail(DpsErrorCodes.Unauthorized, "The SAS token is not for this registration (audience or key name)."),
        _ => AuthOutcome.Fail(DpsErrorCodes.Unauthorized, "The SAS token's signature does not verify."),
    };

    internal static byte[]? Decode(string? base64)
    {
        if (string.IsNullOrEmpty(base64))
        {
            return null;
        }

        try
        {
            return Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>The group-derived device key: HMAC-SHA256(groupKey, UTF8(registrationId)) (dps-protocol.md §3).</summary>
    internal static byte[]? Derive(byte[]? groupKey, string registrationId) =>
        groupKey is null ? null : HMACSHA256.HashData(groupKey, Encoding.UTF8.GetBytes(registrationId));
}
