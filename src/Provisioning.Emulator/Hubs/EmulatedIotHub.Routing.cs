using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Provisioning.Emulator.Hubs;

/// <summary>What devices publish: telemetry, twin requests and method responses; anything else closes the connection.</summary>
public sealed partial class EmulatedIotHub
{
    private async Task InterceptPublishAsync(InterceptingPublishEventArgs e)
    {
        if (e.ClientId is { } sender && sender.StartsWith(HubSenderPrefix, StringComparison.Ordinal))
        {
            return; // the hub's own messages to a device
        }

        // The hub consumes what devices publish; nothing is ever routed to another client.
        e.ProcessPublish = false;
        if (e.SessionItems[DeviceItem] is not HubDevice device)
        {
            e.CloseConnection = true;
            return;
        }

        if (e.SessionItems[ExpiryItem] is DateTimeOffset expiry && expiry <= _options.TimeProvider.GetUtcNow())
        {
            HubLog.TokenExpired(_logger, HubHostName, device.DeviceId);
            e.CloseConnection = true;
            return;
        }

        var message = e.ApplicationMessage;
        var topic = message.Topic;
        var payload = message.Payload;
        var events = HubTopics.Events(device.DeviceId);
        if (topic.StartsWith(events, StringComparison.Ordinal))
        {
            if (payload.Length > _options.MaxMessageBytes)
            {
                HubLog.TooLarge(_logger, HubHostName, device.DeviceId, payload.Length, _options.MaxMessageBytes);
                e.CloseConnection = true;
                return;
            }

            CaptureTelemetry(device.DeviceId, topic.AsSpan(events.Length), System.Buffers.BuffersExtensions.ToArray(payload));
        }
        else if ((topic.StartsWith(HubTopics.TwinGetPrefix, StringComparison.Ordinal) || topic.StartsWith(HubTopics.TwinReportedPrefix, StringComparison.Ordinal))
            && State(device.DeviceId).TwinFaults.TryDequeue(out var fault))
        {
            var rid = HubTopics.QueryValue(topic, "$rid") ?? string.Empty;
            await SendAsync(device.DeviceId, $"{HubTopics.TwinResponsePrefix}{fault}/?$rid={Uri.EscapeDataString(rid)}", [], e.CancellationToken)
                .ConfigureAwait(false);
        }
        else if (topic.StartsWith(HubTopics.TwinGetPrefix, StringComparison.Ordinal))
        {
            var rid = HubTopics.QueryValue(topic, "$rid") ?? string.Empty;
            var twin = await TwinAsync(device.DeviceId, e.CancellationToken).ConfigureAwait(false);
            await SendAsync(device.DeviceId, $"{HubTopics.TwinResponsePrefix}200/?$rid={Uri.EscapeDataString(rid)}",
                Encoding.UTF8.GetBytes(twin.ToDocument()), e.CancellationToken).ConfigureAwait(false);
        }
        else if (topic.StartsWith(HubTopics.TwinReportedPrefix, StringComparison.Ordinal))
        {
            await PatchReportedAsync(device.DeviceId, topic, System.Buffers.BuffersExtensions.ToArray(payload), e.CancellationToken).ConfigureAwait(false);
        }
        else if (topic.StartsWith(HubTopics.MethodResponsePrefix, StringComparison.Ordinal)
            && HubTopics.TryParseMethodResponse(topic, out var status, out var methodRid))
        {
            if (_pendingMethods.TryRemove((device.DeviceId, methodRid!), out var pending))
            {
                pending.TrySetResult(new HubMethodResult(status, Encoding.UTF8.GetString(System.Buffers.BuffersExtensions.ToArray(payload))));
            }
            else
            {
                HubLog.UnknownMethodResponse(_logger, HubHostName, device.DeviceId, methodRid);
            }
        }
        else if (topic.StartsWith(IssueCertificatePrefix, StringComparison.Ordinal))
        {
            await IssueCertificateAsync(device, topic, System.Buffers.BuffersExtensions.ToArray(payload), e).ConfigureAwait(false);
        }
        else
        {
            // Another device's topics, or no topic IoT Hub knows: the hub drops the connection.
            HubLog.ForbiddenTopic(_logger, HubHostName, device.DeviceId, topic);
            e.CloseConnection = true;
        }
    }

    private void CaptureTelemetry(string deviceId, ReadOnlySpan<char> bag, byte[] body)
    {
        var all = HubPropertyBag.Parse(bag);
        var app = new Dictionary<string, string>(StringComparer.Ordinal);
        var system = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in all)
        {
            (key.StartsWith("$.", StringComparison.Ordinal) ? system : app)[key] = value;
        }

        State(deviceId).Telemetry.Add(new HubTelemetryMessage(deviceId, body, app, system, _options.TimeProvider.GetUtcNow()));
    }

    private async Task PatchReportedAsync(string deviceId, string topic, byte[] body, CancellationToken cancellationToken)
    {
        var rid = Uri.EscapeDataString(HubTopics.QueryValue(topic, "$rid") ?? string.Empty);
        var twin = await TwinAsync(deviceId, cancellationToken).ConfigureAwait(false);
        string answer;
        try
        {
            var version = twin.PatchReported(body);
            answer = $"{HubTopics.TwinResponsePrefix}204/?$rid={rid}&$version={version}";
        }
        catch (JsonException ex)
        {
            HubLog.BadReportedPatch(_logger, ex, HubHostName, deviceId);
            answer = $"{HubTopics.TwinResponsePrefix}400/?$rid={rid}";
        }

        await SendAsync(deviceId, answer, [], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The device's twin, reset to the registry entry's initial twin when DPS replaced the entry with a new
    /// <see cref="HubDevice.TwinGeneration"/> (a re-registration that reset the device's data).</summary>
    /// <remarks>The entry is read on every twin access (the registries are in memory) rather than cached: DPS writes the registry
    /// directly and tells the hub nothing. A removed entry (the device moved to another hub) leaves the twin as it was.</remarks>
    private async ValueTask<HubTwinStore> TwinAsync(string deviceId, CancellationToken cancellationToken)
    {
        var state = State(deviceId);
        var device = await _options.Registry.FindAsync(HubHostName, deviceId, cancellationToken).ConfigureAwait(false);
        while (true)
        {
            var current = Volatile.Read(ref state.Twin);
            if (current is not null && (device is null || string.Equals(current.Generation, device.TwinGeneration, StringComparison.Ordinal)))
            {
                return current;
            }

            var fresh = current is null
                ? new HubTwinStore(device?.InitialTwin, device?.TwinGeneration)
                : current.Reset(device!.InitialTwin, device.TwinGeneration);
            if (Interlocked.CompareExchange(ref state.Twin, fresh, current) == current)
            {
                if (current is not null)
                {
                    HubLog.TwinReset(_logger, HubHostName, deviceId);
                }

                return fresh;
            }
        }
    }

    /// <summary>Publishes a message to one device only (<see cref="InterceptEnqueueAsync"/> keeps it from the others).</summary>
    private async Task SendAsync(string deviceId, string topic, byte[] payload, CancellationToken cancellationToken)
    {
        if (_server is not { } server)
        {
            throw new InvalidOperationException($"Hub '{HubHostName}' is stopped.");
        }

        var message = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build();
        await server.InjectApplicationMessage(new InjectedMqttApplicationMessage(message) { SenderClientId = HubSenderPrefix + deviceId },
            cancellationToken).ConfigureAwait(false);
    }
}
