// TpmDeviceProvision: the Azure IoT C SDK's tpm_device_provision, plus two diagnostic verbs.
//   TpmDeviceProvision [--tpm <spec>]                      prints Registration Id, Endorsement Key, Storage Root Key
//   TpmDeviceProvision activate --blob <file> [--tpm <spec>] activates a raw DPS authenticationKey blob
//   TpmDeviceProvision sign --data <file> [--tpm <spec>]     prints the HMAC-SHA256 of the file with the identity key
//   --owner-auth / --endorsement-auth <str:|hex:|file:|env:>  hierarchy passwords; --tpm-timeout <s>  quick-command deadline
using Provisioning.Device.Tpm;
using Provisioning.Samples;

var parsed = CommandLine.Parse(args);
if (parsed.Error is not null)
{
    await Console.Error.WriteLineAsync(parsed.Error);
    await Console.Error.WriteLineAsync(parsed.HelpText);
    return 2;
}

if (parsed.Help)
{
    Console.WriteLine(parsed.HelpText);
    return 0;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

byte[]? ownerAuth = null, endorsementAuth = null;
try
{
    // The passwords are read here (env:, file: ...) and zeroed on the way out; they are never printed.
    ownerAuth = parsed.OwnerAuth is { } ownerText ? TpmAuthValue.Parse(ownerText, "--owner-auth") : null;
    endorsementAuth = parsed.EndorsementAuth is { } endorsementText ? TpmAuthValue.Parse(endorsementText, "--endorsement-auth") : null;
    var transport = new TpmTransportOptions();
    if (parsed.TpmTimeout is { } timeout)
    {
        transport.Timeout = timeout;
    }

    var options = new TpmIdentityOptions { OwnerAuth = ownerAuth, EndorsementAuth = endorsementAuth, Transport = transport };
    await using var identity = TpmIdentity.Open(parsed.Tpm, options);
    switch (parsed.Verb)
    {
        case "activate":
            var blob = await File.ReadAllBytesAsync(parsed.File!, cancel.Token);
            try
            {
                await identity.ActivateIdentityKeyAsync(blob, cancel.Token);
            }
            finally
            {
                // The blob wraps the hub's identity key: it does not outlive the activation.
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(blob);
            }

            Console.WriteLine($"Identity key activated at 0x{TpmHandles.IdentityKey:X8}.");
            break;
        case "sign":
            var data = await File.ReadAllBytesAsync(parsed.File!, cancel.Token);
            Console.WriteLine($"Signature: {Convert.ToBase64String(await identity.SignAsync(data, cancel.Token))}");
            break;
        default:
            Console.WriteLine($"Registration Id: {await identity.GetRegistrationIdAsync(cancel.Token)}");
            Console.WriteLine($"Endorsement Key: {Convert.ToBase64String(await identity.GetEndorsementKeyAsync(cancel.Token))}");
            Console.WriteLine($"Storage Root Key: {Convert.ToBase64String(await identity.GetStorageRootKeyAsync(cancel.Token))}");
            break;
    }

    return 0;
}
catch (Exception e) when (e is TpmException or TpmFormatException or ArgumentException or IOException or TimeoutException or UnauthorizedAccessException or OperationCanceledException)
{
    var what = e switch
    {
        TpmFormatException when parsed.Verb == "activate" => "the blob is not a DPS authenticationKey: ",
        TpmFormatException => "the TPM sent malformed data: ",
        OperationCanceledException => "canceled",
        _ => string.Empty,
    };
    var message = e switch
    {
        OperationCanceledException => string.Empty,
        ArgumentException { ParamName: { } name } => e.Message.Replace($" (Parameter '{name}')", string.Empty, StringComparison.Ordinal),
        _ => e.Message,
    };
    await Console.Error.WriteLineAsync($"error: {what}{message}");
    if (parsed.Verbose)
    {
        await Console.Error.WriteLineAsync(e.ToString());
    }

    return 1;
}
finally
{
    if (ownerAuth is not null)
    {
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(ownerAuth);
    }

    if (endorsementAuth is not null)
    {
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(endorsementAuth);
    }
}
