using System.Net;
using System.Text;

using Provisioning.Device;
using Provisioning.Device.Hub;
using Provisioning.Device.Tpm;
using Provisioning.Device.Transport;
using Provisioning.Emulator.Device;
using Provisioning.Emulator.Json;
using Provisioning.Emulator.Protocol;
using Provisioning.Emulator.Service;

namespace Provisioning.Fuzzing.Tests;

/// <summary>
/// Every defect the fuzzers found, kept: the shrunk reproducer exactly as found (Regressions/&lt;target&gt;--&lt;what&gt;.bin, run
/// through its target), and a test of the product API that says what the answer must now be.
/// </summary>
public sealed class RegressionTests
{
    public static TheoryData<string> Reproducers()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(AppContext.BaseDirectory, "Regressions"), "*.bin").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Reproducers))]
    public void ShrunkReproducerKeepsTheInvariant(string file)
    {
        var target = FuzzTargets.Get(file[..file.IndexOf("--", StringComparison.Ordinal)]);
        FuzzHarness.Execute(target, Reproducer(file));
    }

    /// <summary>emu-csr: a CSR whose key is on a curve the platform does not know escaped PlatformNotSupportedException (a 500).</summary>
    [Theory]
    [InlineData("emu-csr--unknown-curve.bin")]
    [InlineData("emu-csr--unknown-key-algorithm.bin")]
    public void CsrWithAnUnknownKeyAlgorithmIsRefusedWithAReason(string file)
    {
        var der = Reproducer(file).AsSpan(1);
        Assert.False(CsrReader.TryRead(Convert.ToBase64String(der), "fuzz-device", out var request, out var problem));
        Assert.Null(request);
        // Refused with a reason about the csr (its key or its signature, whichever check meets the unknown OID first).
        Assert.StartsWith("The csr", problem, StringComparison.Ordinal);
    }

    /// <summary>emu-enrollment (found after the merge): an escaped lone surrogate in an initial twin was accepted, then failed
    /// where the enrollment was stored (JsonException, a 500).</summary>
    [Fact]
    public void EnrollmentWithAnEscapedLoneSurrogateIsABadRequest()
    {
        var json = """{"registrationId":"fuzz-device","attestation":{"type":"symmetricKey"},"initialTwin":{"properties":{"desired":{"a":"\udc00\ud800"}}}}"""u8;
        var body = RequestBody.Parse(json, EmulatorJsonContext.Default.IndividualEnrollment);
        Assert.Null(body.Value);
        Assert.Equal(DpsErrorCodes.MalformedRequest, body.ErrorCode);
    }

    /// <summary>emu-enrollment: a client certificate whose validity does not decode escaped CryptographicException (a 500).</summary>
    [Fact]
    public void EnrollmentCertificateWithUnreadableFieldsIsABadRequest()
    {
        var body = RequestBody.Parse(Reproducer("emu-enrollment--certificate-validity-unreadable.bin").AsSpan(1), EmulatorJsonContext.Default.IndividualEnrollment);
        Assert.NotNull(body.Value);
        var problem = new EnrollmentValidator(new Dictionary<string, string>()).Normalize(body.Value.Attestation, group: false);
        Assert.Equal("A certificate has fields that cannot be read (such as its validity dates).", problem);
    }

    /// <summary>hub-twin: names that are not UTF-8, duplicate names and lone surrogates threw InvalidOperationException or
    /// ArgumentException lazily, from GetTwinAsync or inside the application's desired-property handler.</summary>
    [Fact]
    public void TwinDocumentsThatDoNotReadAsTextAreHubErrors()
    {
        Assert.False(Assert.Throws<HubException>(() => DeviceClient.ReadTwin(Reproducer("hub-twin--invalid-utf8-name.bin").AsSpan(1))).IsTransient);
        Assert.Throws<HubException>(() => DeviceClient.ReadTwin("""{"desired":{"a":1,"a":2,"$version":3}}"""u8));
        Assert.Throws<HubException>(() => DeviceClient.ReadDesiredPatch("""{"a":{"b":1,"b":2},"$version":3}"""u8));
        Assert.Throws<HubException>(() => DeviceClient.ReadDesiredPatch("""{"a":["\ud800"],"$version":3}"""u8));
        Assert.Throws<HubException>(() => DeviceClient.ReadDesiredPatch([.. "{\"a\":\""u8, 0xC3, .. "\"}"u8]));

        var (patch, version) = DeviceClient.ReadDesiredPatch("""{"a":{"b":"\u00e9"},"$version":3}"""u8);
        Assert.Equal(3, version);
        Assert.Equal("é", (string?)patch["a"]!["b"]);
    }

    /// <summary>dps-https / dps-mqtt: invalid UTF-8 inside the payload (kept as a JsonElement) escaped InvalidOperationException
    /// when the result was built.</summary>
    [Fact]
    public void DpsAnswerThatIsNotUtf8IsMalformed()
    {
        var input = Reproducer("dps-https--invalid-utf8-payload.bin");
        var body = input[(input.AsSpan().IndexOf((byte)'\n') + 1)..];
        var error = Assert.Throws<ProvisioningException>(() => DpsResponseReader.Interpret(HttpStatusCode.OK, body, null, challengeAllowed: true, "the registration"));
        Assert.False(error.IsTransient);
        Assert.Contains("not UTF-8", error.Message, StringComparison.Ordinal);

        // An error answer that is not UTF-8 is still the status's error.
        var refused = DpsResponseReader.ReadError([0x7B, 0xFF, 0x7D], "the registration", HttpStatusCode.ServiceUnavailable, null);
        Assert.True(refused.IsTransient);
    }

    /// <summary>emu-request-body: the same on the service side became a 500 where the payload was first read as text.</summary>
    [Fact]
    public void EmulatorBodyThatIsNotUtf8IsAMalformedRequest()
    {
        byte[] body = [.. "{\"registrationId\":\"d\",\"payload\":{\"a\":\""u8, 0xFF, .. "\"}}"u8];
        var parsed = RequestBody.Parse(body, EmulatorJsonContext.Default.DeviceRegistrationRequest);
        Assert.Equal(DpsErrorCodes.MalformedRequest, parsed.ErrorCode);
        Assert.Null(parsed.Value);
    }

    /// <summary>emu-hub-twin: a reported patch with a name that is not UTF-8 escaped InvalidOperationException from the emulated
    /// hub's MQTT handler (only JsonException is answered 400); stored, it would have broken every later GET of the twin.</summary>
    [Fact]
    public void EmulatedHubTwinPatchThatIsNotUtf8IsRefusedAndTheTwinStaysReadable()
    {
        var twin = new Provisioning.Emulator.Hubs.HubTwinStore("""{"level":1}""");
        Assert.Throws<System.Text.Json.JsonException>(() => twin.PatchReported(Reproducer("emu-hub-twin--invalid-utf8-name.bin").AsSpan(1)));
        Assert.Throws<System.Text.Json.JsonException>(() => twin.PatchDesired("""{"a":"\udc00"}"""u8));
        Assert.Equal(2, twin.PatchReported("""{"fw":"1.0"}"""u8));
        Assert.Contains("\"fw\":\"1.0\"", twin.ToDocument(), StringComparison.Ordinal);
    }

    /// <summary>registration-cache: a tampered cache file could aim the device at any "hub" (not a DNS name) or carry a device
    /// id DPS answers are refused for; the cache is used without asking DPS.</summary>
    [Theory]
    [InlineData("fuzz-hub.azure-devices.skn=net")]
    [InlineData("evil.example.com/path")]
    [InlineData("10.0.0.1")]
    [InlineData("hub.azure-devices.net:8883")]
    public void CacheWithAHubThatIsNotADnsNameIsRefused(string hub)
    {
        var file = Encoding.UTF8.GetBytes($$"""{"idScope":"0ne00000000","registrationId":"r","assignedHub":"{{hub}}","deviceId":"d","registeredAt":"2026-01-01T00:00:00+00:00"}""");
        Assert.Throws<InvalidDataException>(() => FileRegistrationCache.Parse(file, "/cache.json"));
    }

    [Fact]
    public void CacheWithADeviceIdDpsWouldBeRefusedForIsRefused()
    {
        string Entry(string deviceId) => $$"""{"idScope":"0ne00000000","registrationId":"r","assignedHub":"h.azure-devices.net","deviceId":"{{deviceId}}","registeredAt":"2026-01-01T00:00:00+00:00"}""";
        Assert.Throws<InvalidDataException>(() => FileRegistrationCache.Parse(Encoding.UTF8.GetBytes(Entry("a\\u0001b")), "/cache.json"));
        Assert.Throws<InvalidDataException>(() => FileRegistrationCache.Parse(Encoding.UTF8.GetBytes(Entry(new string('d', 129))), "/cache.json"));
        Assert.Equal("d-1", FileRegistrationCache.Parse(Encoding.UTF8.GetBytes(Entry("d-1")), "/cache.json").DeviceId);
    }

    /// <summary>tpm-public: a public area with a nameAlg we cannot hash parsed, then ComputeName threw InvalidOperationException.</summary>
    [Fact]
    public void PublicAreaWithAnUnsupportedNameAlgorithmIsMalformed()
    {
        var area = TpmTemplates.StorageRootKey.ToTpm2B();
        area[4] = 0x40; // nameAlg 0x000B (SHA-256) becomes 0x400B
        var error = Assert.Throws<TpmFormatException>(() => TpmPublic.FromTpm2B(area));
        Assert.Contains("nameAlg 0x400B", error.Message, StringComparison.Ordinal);
    }

    private static byte[] Reproducer(string file) => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Regressions", file));
}
