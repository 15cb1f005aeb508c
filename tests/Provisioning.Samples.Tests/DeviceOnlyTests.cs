using System.Text.Json;

namespace Provisioning.Samples.Tests;

/// <summary>
/// samples/DeviceOnly, the small-device first boot, run as its own process (its JIT build: the native build's command and
/// figures are in tests/Provisioning.Device.Benchmarks/README.md, "Small devices") against the emulator host run on its own.
/// FirstBoot enrolls the symmetric-key device through the service API; DeviceOnly then boots with only the credentials.
/// </summary>
public sealed class DeviceOnlyTests(StandaloneEmulatorProcess emulator) : IClassFixture<StandaloneEmulatorProcess>, IDisposable
{
    private readonly string _home = SampleProcess.NewHome();

    [Theory]
    [InlineData("https")]
    [InlineData("mqtt")]
    public async Task DeviceOnly_WithTheEmulatorFile_ProvisionsConnectsAndSendsOneAcknowledgedMessage(string transport)
    {
        var key = await EnrollAsync();

        var run = await SampleProcess.RunAsync(SampleProcess.DeviceOnlyDll, _home,
            ["--emulator", emulator.InfoFile, "--registration-id", "firstboot-symmetric", "--symmetric-key", key, "--transport", transport, "--stats"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Matches($@"assigned to hub\d\.localhost as firstboot-symmetric over {transport}\n", run.Output);
        Assert.Contains("telemetry acknowledged by the hub", run.Output, StringComparison.Ordinal);
        Assert.Matches(@"peak RSS \d+ kB; managed allocations \d+ KiB", run.Output);
    }

    [Fact]
    public async Task DeviceOnly_WithAWrongKey_FailsWithTheServiceRefusal()
    {
        _ = await EnrollAsync();

        var run = await SampleProcess.RunAsync(SampleProcess.DeviceOnlyDll, _home,
            ["--emulator", emulator.InfoFile, "--registration-id", "firstboot-symmetric", "--symmetric-key", Convert.ToBase64String(new byte[32])]);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.StartsWith("error: ", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("telemetry", run.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--transport", "amqp")]
    [InlineData("--bogus", "x")]
    [InlineData("--registration-id", null)]
    public async Task DeviceOnly_WithABadArgument_ExitsTwoWithTheUsage(string option, string? value)
    {
        var run = await SampleProcess.RunAsync(SampleProcess.DeviceOnlyDll, _home,
            value is null ? ["--emulator", emulator.InfoFile, option] : ["--emulator", emulator.InfoFile, option, value]);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.StartsWith("error: ", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeviceOnly_RuntimeConfig_TurnsOffTheTransportsItDoesNotUse()
    {
        // The switches reach the JIT run through the runtimeconfig, and the native build through the trimmer: the same file.
        var config = Path.ChangeExtension(SampleProcess.DeviceOnlyDll, ".runtimeconfig.json");
        using var document = JsonDocument.Parse(await File.ReadAllTextAsync(config, TestContext.Current.CancellationToken));
        var properties = document.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");

        foreach (var name in new[] { "Provisioning.Device.Amqp.IsSupported", "Provisioning.Device.WebSockets.IsSupported", "Provisioning.Device.Hub.WebSockets.IsSupported" })
        {
            Assert.True(properties.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.False, $"{name} is not false in {config}");
        }

        Assert.False(properties.TryGetProperty("Provisioning.Device.Https.IsSupported", out _), "HTTPS stays unless -p:DpsTransport=mqtt");
        Assert.False(properties.TryGetProperty("Provisioning.Device.Mqtt.IsSupported", out _), "MQTT stays unless -p:DpsTransport=https");
    }

    [Fact]
    public void DeviceOnly_OrderFile_StillNamesTheSamplesAndLibrarysMethods()
    {
        // DeviceOnly.order tells the native compiler which methods a first boot runs, so it lays them out together (about
        // 2.5 MiB less peak RSS, "Small devices"). The compiler skips names it does not know, so a list left behind by a
        // refactor silently loses that; this catches it for the sample's and the library's own methods, whose mangled
        // names (assembly, type and method, anything but letters and digits as '_') are rebuilt here from the metadata.
        var directory = Path.GetDirectoryName(SampleProcess.DeviceOnlyDll)!;
        var known = new HashSet<string>(StringComparer.Ordinal);
        foreach (var assembly in new[] { "DeviceOnly", "Provisioning.Device", "Provisioning.Device.Hub" })
        {
            AddMangledMethodNames(Path.Combine(directory, assembly + ".dll"), known);
        }

        var ours = File.ReadLines(SampleProcess.DeviceOnlyOrderFile)
            .Where(name => name.StartsWith("DeviceOnly_", StringComparison.Ordinal) || name.StartsWith("Provisioning_Device_", StringComparison.Ordinal))
            .ToList();
        var stale = ours.Where(name => !IsKnown(name, known)).ToList();

        Assert.True(ours.Count >= 200, $"DeviceOnly.order names only {ours.Count} of the sample's and library's methods: rewrite it with samples/DeviceOnly/make-order-file.sh");
        Assert.True(stale.Count * 20 <= ours.Count,
            $"{stale.Count} of the {ours.Count} sample and library methods in DeviceOnly.order no longer exist; rewrite it with samples/DeviceOnly/make-order-file.sh. First ones: {string.Join(", ", stale.Take(5))}");
    }

    public void Dispose() => Directory.Delete(_home, recursive: true);

    private static void AddMangledMethodNames(string path, HashSet<string> names)
    {
        using var stream = File.OpenRead(path);
        using var pe = new System.Reflection.PortableExecutable.PEReader(stream);
        var reader = System.Reflection.Metadata.PEReaderExtensions.GetMetadataReader(pe);
        var assembly = Mangle(reader.GetString(reader.GetAssemblyDefinition().Name));
        foreach (var handle in reader.TypeDefinitions)
        {
            var type = reader.GetTypeDefinition(handle);
            var typeName = Mangle(TypeName(reader, type));
            foreach (var methodHandle in type.GetMethods())
            {
                names.Add($"{assembly}_{typeName}__{Mangle(reader.GetString(reader.GetMethodDefinition(methodHandle).Name))}");
            }
        }
    }

    private static string TypeName(System.Reflection.Metadata.MetadataReader reader, System.Reflection.Metadata.TypeDefinition type)
    {
        var name = reader.GetString(type.Name);
        var declaring = type.GetDeclaringType();
        if (!declaring.IsNil)
        {
            return TypeName(reader, reader.GetTypeDefinition(declaring)) + "_" + name;
        }

        var ns = reader.GetString(type.Namespace);
        return ns.Length == 0 ? name : ns + "_" + name;
    }

    private static string Mangle(string name) => string.Create(name.Length, name, static (span, source) =>
    {
        for (var i = 0; i < source.Length; i++)
        {
            span[i] = char.IsAsciiLetterOrDigit(source[i]) ? source[i] : '_';
        }
    });

    /// <summary>
    /// A mangled name as the compiler writes it may carry generic instantiations (<c>&lt;…&gt;</c>) and a suffix telling
    /// overloads apart (<c>_0</c>, <c>_1</c>): both are dropped before looking the name up.
    /// </summary>
    private static bool IsKnown(string name, HashSet<string> known)
    {
        var plain = new System.Text.StringBuilder(name.Length);
        var depth = 0;
        foreach (var c in name)
        {
            if (c == '<')
            {
                depth++;
            }
            else if (c == '>')
            {
                depth--;
            }
            else if (depth == 0)
            {
                plain.Append(c);
            }
        }

        var candidate = plain.ToString();
        if (known.Contains(candidate))
        {
            return true;
        }

        var underscore = candidate.LastIndexOf('_');
        return underscore > 0 && underscore < candidate.Length - 1 && candidate.AsSpan(underscore + 1).ContainsAnyExceptInRange('0', '9') is false
            && known.Contains(candidate[..underscore]);
    }

    /// <summary>FirstBoot enrolls its symmetric-key device through the emulator's service API and keeps the key in HOME.</summary>
    private async Task<string> EnrollAsync()
    {
        var enrolled = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, ["--emulator", emulator.InfoFile, "--enroll", "--attestation", "symmetric", "--json"]);
        FirstBootTests.AssertAssigned(enrolled, "symmetric", "dps");
        var key = await File.ReadAllTextAsync(Path.Combine(_home, ".provisioning-device", "firstboot", "symmetric.key"), TestContext.Current.CancellationToken);
        return key.Trim();
    }
}
