using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

using Provisioning.Device.Serialization;
using Provisioning.Device.Tpm;
using Provisioning.Emulator.Tpm;

namespace Provisioning.Fuzzing;

/// <summary>
/// Writes the seed corpus: one folder per target of well-formed inputs (golden vectors), taken from the real thing where
/// there is one: TPM responses recorded from the software TPM running the whole DPS flow, an activation blob made by the
/// emulator's issuer for that TPM's EK and SRK, DPS answers in the documented shapes (dps-protocol.md §1, §5, §8).
/// </summary>
/// <remarks>Run once (<c>Provisioning.Fuzzing --write-seeds &lt;dir&gt;</c>); the output is committed under <c>corpus/</c> and
/// read by the property tests, so a golden vector never changes behind a test's back.</remarks>
internal static class Seeds
{
    private static readonly Dictionary<TpmCommandCode, byte> Selectors = new()
    {
        [TpmCommandCode.ReadPublic] = 0,
        [TpmCommandCode.CreatePrimary] = 1,
        [TpmCommandCode.Import] = 2,
        [TpmCommandCode.Load] = 3,
        [TpmCommandCode.StartAuthSession] = 4,
        [TpmCommandCode.PolicySecret] = 5,
        [TpmCommandCode.ActivateCredential] = 6,
        [TpmCommandCode.Hmac] = 7,
        [TpmCommandCode.HmacStart] = 8,
        [TpmCommandCode.SequenceUpdate] = 9,
        [TpmCommandCode.SequenceComplete] = 10,
        [TpmCommandCode.NvReadPublic] = 11,
        [TpmCommandCode.NvRead] = 12,
        [TpmCommandCode.Startup] = 13,
        [TpmCommandCode.GetRandom] = 14,
        [TpmCommandCode.GetCapability] = 15,
        [TpmCommandCode.EvictControl] = 16,
    };

    public static async Task WriteAsync(string directory)
    {
        var seeds = new Dictionary<string, List<byte[]>>();
        void Add(string target, byte[] seed)
        {
            if (!seeds.TryGetValue(target, out var list))
            {
                seeds[target] = list = [];
            }

            if (!list.Any(s => s.AsSpan().SequenceEqual(seed)))
            {
                list.Add(seed);
            }
        }

        // The TPM side: the whole device flow on the software TPM, every exchange recorded.
        var recorder = new RecordingTpmTransport(new SoftwareTpmTransport());
        byte[] ek, srk, blob;
        await using (var identity = new TpmIdentity(recorder))
        {
            ek = await identity.GetEndorsementKeyAsync().ConfigureAwait(false);
            srk = await identity.GetStorageRootKeyAsync().ConfigureAwait(false);
            blob = new TpmCredentialIssuer().Issue(ek, srk).AuthenticationKey;
            await identity.ActivateIdentityKeyAsync(blob).ConfigureAwait(false);
            await identity.SignAsync("0ne00000000/registrations/fuzz\n1790000000"u8.ToArray()).ConfigureAwait(false);
            await identity.SignAsync(new byte[2048]).ConfigureAwait(false);
            await identity.GetEndorsementKeyCertificateAsync().ConfigureAwait(false);
        }

        foreach (var exchange in recorder.Exchanges)
        {
            if (Selectors.TryGetValue(exchange.CommandCode, out var selector))
            {
                Add("tpm-response", [selector, .. exchange.Response]);
            }
        }

        // Error answers: a format-1 parameter error, a session error, a retry (the retry loop), a warning.
        foreach (var code in new uint[] { 0x0000_01C4, 0x0000_098E, 0x0000_0922, 0x0000_0101, 0x0000_018B })
        {
            var error = new byte[10];
            BinaryPrimitives.WriteUInt16BigEndian(error, 0x8001);
            BinaryPrimitives.WriteUInt32BigEndian(error.AsSpan(2), 10);
            BinaryPrimitives.WriteUInt32BigEndian(error.AsSpan(6), code);
            Add("tpm-response", [(byte)(code % 17), .. error]);
        }

        Add("activation-blob", blob);
        Add("tpm-public", ek);
        Add("tpm-public", srk);
        var objectPublic = ActivationBlob.Parse(blob).ObjectPublic.ToArray();
        Add("tpm-public", [(byte)(objectPublic.Length >> 8), (byte)objectPublic.Length, .. objectPublic]);
        Add("tpm-public", TpmTemplates.EndorsementKey.ToTpm2B());

        byte[] keys = [(byte)(ek.Length >> 8), (byte)ek.Length, .. ek, .. srk];
        Add("emu-tpm-keys", keys);

        // The client: DPS answers (dps-protocol.md §1.4–§1.7) over HTTPS and MQTT.
        var key64 = Convert.ToBase64String(blob);
        string[] bodies =
        [
            """{"operationId":"4.0a1b2c3d4e5f.6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d","status":"assigning"}""",
            """{"operationId":"4.0a1b2c3d4e5f.6a7b","status":"assigned","registrationState":{"registrationId":"fuzz-device","createdDateTimeUtc":"2026-01-01T00:00:00Z","assignedHub":"fuzz-hub.azure-devices.net","deviceId":"fuzz-device","status":"assigned","substatus":"initialAssignment","lastUpdatedDateTimeUtc":"2026-01-01T00:00:01Z","etag":"IjEi","payload":{"a":[1,2,{"b":null}]},"tpm":{"authenticationKey":"AAEC"}}}""",
            """{"operationId":"4.0a1b","status":"failed","registrationState":{"registrationId":"fuzz-device","status":"failed","errorCode":400209,"errorMessage":"Custom allocation failed"}}""",
            """{"operationId":"4.0a1b","status":"assigned","registrationState":{"registrationId":"x509-device","assignedHub":"h.azure-devices.net","deviceId":"x509-device","status":"assigned","x509":{"enrollmentGroupId":"g","certificateInfo":{"subjectName":"CN=x509-device","sha1Thumbprint":"AA","sha256Thumbprint":"BB","issuerName":"CN=ca","notBeforeUtc":"2026-01-01T00:00:00Z","notAfterUtc":"2027-01-01T00:00:00Z","serialNumber":"01","version":3}},"issuedCertificateChain":["MIIB"]}}""",
            ("""{"message":"Authorization required","authenticationKey":"@0@","keyName":"registration"}""".Replace("@0@", key64, StringComparison.Ordinal)),
            """{"errorCode":401002,"trackingId":"c5d4e3f2-a1b0","message":"Unauthorized","timestampUtc":"2026-01-01T00:00:00Z"}""",
            """{"errorCode":429001,"trackingId":"t","message":"Operations are being throttled"}""",
            "<html><body>503 Service Unavailable</body></html>",
        ];
        byte[] statuses = [1, 0, 0, 0, 2, 2 | 0x80, 5, 7];
        string[] retryAfters = ["3", "", "", "", "", "", "Wed, 01 Jan 2026 00:00:05 GMT", "7"];
        for (var i = 0; i < bodies.Length; i++)
        {
            Add("dps-https", [statuses[i], .. Encoding.ASCII.GetBytes(retryAfters[i] + "\n"), .. Encoding.UTF8.GetBytes(bodies[i])]);
        }

        string[] topics =
        [
            "$dps/registrations/res/202/?$rid=1&retry-after=3",
            "$dps/registrations/res/200/?$rid=2",
            "$dps/registrations/res/401/?$rid=3",
            "$dps/registrations/res/429/?$rid=4&Retry-After=10&extra=x",
        ];
        Add("dps-mqtt", Encoding.UTF8.GetBytes(topics[0] + "\n" + bodies[0]));
        Add("dps-mqtt", Encoding.UTF8.GetBytes(topics[1] + "\n" + bodies[1]));
        Add("dps-mqtt", Encoding.UTF8.GetBytes(topics[2] + "\n" + bodies[5]));
        Add("dps-mqtt", Encoding.UTF8.GetBytes(topics[3] + "\n" + bodies[6]));

        Add("registration-cache", JsonSerializer.SerializeToUtf8Bytes(
            new CachedRegistrationWire
            {
                IdScope = "0ne00000000",
                RegistrationId = "fuzz-device",
                AssignedHub = "fuzz-hub.azure-devices.net",
                DeviceId = "fuzz-device",
                RegisteredAt = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero),
                JsonPayload = """{"a":1}""",
            },
            DpsJsonContext.Default.CachedRegistrationWire));

        // The hub client: the topics IoT Hub publishes to a device (dps-protocol.md §8) and twin documents.
        foreach (var topic in new[]
        {
            "$iothub/twin/res/200/?$rid=1",
            "$iothub/twin/res/204/?$rid=2&$version=7",
            "$iothub/twin/PATCH/properties/desired/?$version=8",
            "$iothub/methods/POST/reboot/?$rid=3",
            "$iothub/methods/POST/set%20level/?$rid=abc",
            "devices/fuzz-device/messages/devicebound/%24.mid=m1&%24.cid=c1&%24.ct=application%2Fjson&%24.ce=utf-8&%24.to=%2Fdevices%2Ffuzz-device&color=blue/",
        })
        {
            Add("hub-topics", Encoding.UTF8.GetBytes(topic));
        }

        Add("hub-twin", [0, .. """{"desired":{"level":3,"nested":{"a":[1,"x",true,null]},"$metadata":{"$lastUpdated":"2026-01-01T00:00:00Z"},"$version":4},"reported":{"fw":"1.0","$version":2}}"""u8]);
        Add("hub-twin", [1, .. """{"level":4,"nested":{"a":null},"$version":5}"""u8]);

        // The emulator: what devices and operators send it.
        var ek64 = Convert.ToBase64String(ek);
        var srk64 = Convert.ToBase64String(srk);
        var csr = MakeCsr("fuzz-device");
        Add("emu-request-body", Encoding.UTF8.GetBytes(("""{"registrationId":"fuzz-device","tpm":{"endorsementKey":"@0@","storageRootKey":"@1@"},"payload":{"model":"m1"}}""".Replace("@0@", ek64, StringComparison.Ordinal).Replace("@1@", srk64, StringComparison.Ordinal))));
        Add("emu-request-body", Encoding.UTF8.GetBytes(("""{"registrationId":"fuzz-device","csr":"@0@"}""".Replace("@0@", Convert.ToBase64String(csr), StringComparison.Ordinal))));
        Add("emu-request-body", """{"registrationId":"fuzz-device"}"""u8.ToArray());

        var key = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
        Add("emu-sas", Encoding.UTF8.GetBytes(Sas(key, "0ne00000000%2Fregistrations%2Ffuzz-device", "1790000000", "registration")));
        Add("emu-sas", Encoding.UTF8.GetBytes(Sas(key, "fuzz-hub.azure-devices.net%2Fdevices%2Ffuzz-device", "1790000000", null)));
        Add("emu-sas", Encoding.UTF8.GetBytes(Sas(key, "fuzz.azure-devices-provisioning.net", "1790000000", "provisioningserviceowner")));

        Add("emu-csr", [0, .. csr]);
        Add("emu-csr", [1, .. Encoding.ASCII.GetBytes(Convert.ToBase64String(MakeCsr("other-device")))]);

        using var ca = MakeCertificate();
        var cert64 = Convert.ToBase64String(ca.RawData);
        Add("emu-enrollment", [0, .. Encoding.UTF8.GetBytes(("""{"registrationId":"fuzz-device","deviceId":"d1","attestation":{"type":"tpm","tpm":{"endorsementKey":"@0@"}},"iotHubHostName":"h.azure-devices.net","initialTwin":{"properties":{"desired":{"a":1}}},"provisioningStatus":"enabled","allocationPolicy":"hashed","iotHubs":["h.azure-devices.net"],"reprovisionPolicy":{"updateHubAssignment":true,"migrateDeviceData":true}}""".Replace("@0@", ek64, StringComparison.Ordinal)))]);
        Add("emu-enrollment", [0, .. """{"registrationId":"sym-device","attestation":{"type":"symmetricKey","symmetricKey":{"primaryKey":"AAECAwQFBgcICQoLDA0ODw==","secondaryKey":"EBESExQVFhcYGRobHB0eHw=="}},"capabilities":{"iotEdge":false}}"""u8]);
        Add("emu-enrollment", [0, .. Encoding.UTF8.GetBytes(("""{"registrationId":"x509-device","attestation":{"type":"x509","x509":{"clientCertificates":{"primary":{"certificate":"@0@"}}}}}""".Replace("@0@", cert64, StringComparison.Ordinal)))]);
        Add("emu-enrollment", [1, .. Encoding.UTF8.GetBytes(("""{"enrollmentGroupId":"g1","attestation":{"type":"x509","x509":{"signingCertificates":{"primary":{"certificate":"@0@"}}}},"allocationPolicy":"custom","customAllocationDefinition":{"webhookUrl":"https://localhost/alloc","apiVersion":"2021-10-01"}}""".Replace("@0@", ca.ExportCertificatePem().ReplaceLineEndings("\\n"), StringComparison.Ordinal)))]);
        Add("emu-enrollment", [1, .. """{"enrollmentGroupId":"g2","attestation":{"type":"x509","x509":{"caReferences":{"primary":"fuzz-ca"}}}}"""u8]);
        Add("emu-enrollment", [2, .. """{"mode":"create","enrollments":[{"registrationId":"a","attestation":{"type":"symmetricKey"}},{"registrationId":"b","attestation":{"type":"tpm","tpm":{"endorsementKey":"AAEC"}}}]}"""u8]);

        foreach (var topic in new[]
        {
            "$dps/registrations/PUT/iotdps-register/?$rid=1",
            "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=4.0a1b%2Fc",
            "0ne00000000/registrations/fuzz-device/api-version=2021-06-01&ClientVersion=provisioning-device%2F0.1",
            "$iothub/methods/res/200/?$rid=5",
            "devices/fuzz-device/messages/events/%24.ct=application%2Fjson&%24.ce=utf-8&color=blue/",
        })
        {
            Add("emu-topics", Encoding.UTF8.GetBytes(topic));
        }

        Add("emu-hub-twin", [0, .. """{"fw":"1.0","nested":{"a":[1,2],"b":{"c":null}},"$version":3}"""u8]);
        Add("emu-hub-twin", [1, .. """{"level":4,"nested":{"a":null},"list":["x",1.5,true]}"""u8]);

        foreach (var (target, list) in seeds)
        {
            var folder = Path.Combine(directory, target);
            Directory.CreateDirectory(folder);
            for (var i = 0; i < list.Count; i++)
            {
                await File.WriteAllBytesAsync(Path.Combine(folder, $"seed-{i:D2}.bin"), list[i]).ConfigureAwait(false);
            }

            Console.WriteLine($"{target}: {list.Count} seed(s)");
        }
    }

    private static string Sas(byte[] key, string encodedResource, string expiry, string? keyName)
    {
        var signature = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(encodedResource + "\n" + expiry));
        var token = $"SharedAccessSignature sr={encodedResource}&sig={Uri.EscapeDataString(Convert.ToBase64String(signature))}&se={expiry}";
        return keyName is null ? token : token + "&skn=" + keyName;
    }

    private static byte[] MakeCsr(string commonName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}, O=Fuzz", key, HashAlgorithmName.SHA256);
        return request.CreateSigningRequest();
    }

    private static X509Certificate2 MakeCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=fuzz-ca", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        return request.CreateSelfSigned(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2036, 1, 1, 0, 0, 0, TimeSpan.Zero));
    }
}
