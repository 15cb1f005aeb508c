using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

using Provisioning.Emulator.Device;
using Provisioning.Emulator.Hubs;
using Provisioning.Emulator.Json;
using Provisioning.Emulator.Mqtt;
using Provisioning.Emulator.Protocol;
using Provisioning.Emulator.Service;
using Provisioning.Emulator.Tpm;

namespace Provisioning.Fuzzing.Targets;

/// <summary>The emulator (the service side): what devices and operators send it. Its answer to bad input is a DPS error
/// answer, never an exception; the one typed exception, <see cref="TpmAttestationRejectedException"/>, becomes a 400.</summary>
internal static class EmulatorTargets
{
    private static readonly EmulatorJsonContext Ctx = EmulatorJsonContext.Default;

    private static readonly DateTimeOffset Now = new(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly byte[] FixedKey = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

    /// <summary>The only exception the emulator's device path turns into a DPS answer itself (TPM key rejected, 400).</summary>
    public static bool IsTpmRejection(Exception ex) => ex is TpmAttestationRejectedException;

    /// <summary>None: the emulator answers bad input with an error code, not an exception.</summary>
    public static bool Nothing(Exception ex) => false;

    public static IEnumerable<FuzzTarget> All()
    {
        // Input: a device request body (HTTPS PUT register / MQTT payload).
        yield return new FuzzTarget("emu-request-body", "emulator", RequestBodyTarget, IsTpmRejection);

        // Input: an Authorization header / MQTT password (UTF-8).
        yield return new FuzzTarget("emu-sas", "emulator", SasTarget, Nothing);

        // Input: first byte 0 = the rest is DER (sent as its base64), otherwise the rest is the csr text itself.
        yield return new FuzzTarget("emu-csr", "emulator", CsrTarget, Nothing);

        // Input: first byte picks the document (individual enrollment, group, bulk operation), the rest is its JSON.
        yield return new FuzzTarget("emu-enrollment", "emulator", EnrollmentTarget, Nothing);

        // Input: UINT16 length of the EK's TPM2B_PUBLIC, the EK, then the SRK's TPM2B_PUBLIC; the credential blob is built.
        yield return new FuzzTarget("emu-tpm-keys", "emulator", TpmKeysTarget, IsTpmRejection);

        // Input: an MQTT topic or CONNECT user name (UTF-8) as the emulator's DPS and hub brokers read them.
        yield return new FuzzTarget("emu-topics", "emulator", TopicsTarget, Nothing);

        // Input: first byte picks the side (reported from a device, desired from the service API), the rest is the patch. The
        // twin store's documented refusal is JsonException (answered 400); the twin must stay readable afterwards.
        yield return new FuzzTarget("emu-hub-twin", "emulator", HubTwinTarget, ex => ex is JsonException);
    }

    private static void TopicsTarget(byte[] input)
    {
        var text = Encoding.UTF8.GetString(input);
        if (Provisioning.Emulator.Mqtt.DpsMqttTopics.ParseRequest(text) is { } request && string.IsNullOrEmpty(request.RequestId))
        {
            throw new FuzzInvariantException("A DPS request topic parsed without a request id.");
        }

        if (DpsMqttUserName.Parse(text) is { } user && (user.IdScope.Length == 0 || user.RegistrationId.Length == 0))
        {
            throw new FuzzInvariantException("A DPS user name parsed without an id scope or registration id.");
        }

        if (text.StartsWith(Provisioning.Emulator.Hubs.HubTopics.MethodResponsePrefix, StringComparison.Ordinal)
            && Provisioning.Emulator.Hubs.HubTopics.TryParseMethodResponse(text, out var status, out var rid) && (status < 0 || rid is null))
        {
            throw new FuzzInvariantException("A method response topic parsed with a negative status or no request id.");
        }

        _ = Provisioning.Emulator.Hubs.HubTopics.QueryValue(text, "$rid");
        _ = HubPropertyBag.Parse(text);
    }

    private static void HubTwinTarget(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        var twin = new HubTwinStore("""{"level":1,"nested":{"a":[1,2]}}""");
        var body = input.AsSpan(1);
        try
        {
            for (var round = 0; round < 2; round++)
            {
                if ((input[0] & 1) == 0)
                {
                    twin.PatchReported(body);
                }
                else
                {
                    twin.PatchDesired(body);
                }
            }
        }
        finally
        {
            // Whatever the patch did, the twin is still served: a GET, and the snapshot the service API reads.
            _ = twin.ToDocument();
            _ = twin.Snapshot();
        }
    }

    private static void RequestBodyTarget(byte[] input)
    {
        var parsed = RequestBody.Parse(input, Ctx.DeviceRegistrationRequest);
        if (parsed.ErrorCode != 0)
        {
            if (string.IsNullOrEmpty(parsed.Message))
            {
                throw new FuzzInvariantException("A refused body has no message for the DPS error answer.");
            }

            return;
        }

        if (parsed.Value is not { } request)
        {
            return;
        }

        // What the device service reads from the body: the TPM keys (parsed, as the issuer does), the payload, the csr.
        var ek = DeviceAuthenticator.Decode(request.Tpm?.EndorsementKey);
        var srk = DeviceAuthenticator.Decode(request.Tpm?.StorageRootKey);
        if (ek is not null)
        {
            TpmDeviceKey.Parse(ek, TpmDeviceKeyRole.Endorsement);
        }

        if (srk is not null)
        {
            TpmDeviceKey.Parse(srk, TpmDeviceKeyRole.StorageRoot);
        }

        _ = request.Payload?.GetRawText();
        if (request.Csr is { } csr)
        {
            CsrReader.TryRead(csr, request.RegistrationId ?? "fuzz-device", out _, out _);
        }
    }

    private static void SasTarget(byte[] input)
    {
        var token = SasToken.TryParse(Encoding.UTF8.GetString(input));
        if (token is null)
        {
            return;
        }

        // Every check the device, service and hub paths make on a parsed token.
        var skew = TimeSpan.FromMinutes(5);
        _ = token.Check(FixedKey, "0ne00000000/registrations/fuzz-device", null, Now, skew);
        _ = token.Check(FixedKey, "fuzz.azure-devices-provisioning.net", "provisioningserviceowner", Now, skew);
        _ = token.CheckHubDevice("fuzz-hub.azure-devices.net", "fuzz-device", FixedKey, default, Now, skew);
        _ = token.AcceptedUntil(skew);
    }

    private static void CsrTarget(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        var text = input[0] == 0 ? Convert.ToBase64String(input.AsSpan(1)) : Encoding.UTF8.GetString(input.AsSpan(1));
        if (CsrReader.TryRead(text, "fuzz-device", out var request, out var problem))
        {
            if (request is null)
            {
                throw new FuzzInvariantException("A csr was accepted without a request.");
            }
        }
        else if (string.IsNullOrEmpty(problem))
        {
            throw new FuzzInvariantException("A csr was refused without a reason.");
        }
    }

    private static void EnrollmentTarget(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        var validator = new EnrollmentValidator(new Dictionary<string, string>(StringComparer.Ordinal) { ["fuzz-ca"] = "bm90IGEgY2VydGlmaWNhdGU=" });
        var body = input.AsSpan(1);
        switch (input[0] % 3)
        {
            case 0:
            {
                var parsed = RequestBody.Parse(body, Ctx.IndividualEnrollment);
                if (parsed.Value is { } enrollment)
                {
                    CheckProblem(validator.Normalize(enrollment.Attestation, group: false));
                    _ = JsonSerializer.SerializeToUtf8Bytes(enrollment, Ctx.IndividualEnrollment);
                }

                break;
            }

            case 1:
            {
                var parsed = RequestBody.Parse(body, Ctx.EnrollmentGroup);
                if (parsed.Value is { } group)
                {
                    CheckProblem(validator.Normalize(group.Attestation, group: true));
                    _ = JsonSerializer.SerializeToUtf8Bytes(group, Ctx.EnrollmentGroup);
                }

                break;
            }

            default:
            {
                // The bulk endpoint's walk over the operation (ServiceEndpoints.Bulk): every item is read and validated.
                var parsed = RequestBody.Parse(body, Ctx.BulkEnrollmentOperation);
                if (parsed.Value is { Enrollments: { } enrollments })
                {
                    foreach (var enrollment in enrollments)
                    {
                        if (!string.IsNullOrWhiteSpace(enrollment.RegistrationId))
                        {
                            CheckProblem(validator.Normalize(enrollment.Attestation, group: false));
                        }
                    }
                }

                break;
            }
        }
    }

    private static void CheckProblem(string? problem)
    {
        if (problem is { Length: 0 })
        {
            throw new FuzzInvariantException("The validator refused an enrollment with an empty reason.");
        }
    }

    private static void TpmKeysTarget(byte[] input)
    {
        if (input.Length < 2)
        {
            return;
        }

        var ekLength = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(input), input.Length - 2);
        var ek = input.AsSpan(2, ekLength);
        var srk = input.AsSpan(2 + ekLength);
        var issuer = new TpmCredentialIssuer(static span => span.Fill(0x5A));
        var credential = issuer.Issue(ek, srk);
        if (credential.AuthenticationKey.Length != TpmCredentialIssuer.BlobSize)
        {
            throw new FuzzInvariantException("The issuer made a blob of the wrong size.");
        }
    }
}
