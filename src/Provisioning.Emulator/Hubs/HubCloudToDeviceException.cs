namespace Provisioning.Emulator.Hubs;

/// <summary>Why a cloud-to-device message was not delivered.</summary>
public enum HubCloudToDeviceFailure
{
    /// <summary>The device's queue already holds the maximum number of messages (IoT Hub error 403004).</summary>
    QueueFull,

    /// <summary>The message's time to live ran out before the device acknowledged it (IoT Hub feedback status <c>Expired</c>).</summary>
    Expired,
}

/// <summary>A cloud-to-device message the emulated hub refused or could not deliver.</summary>
public sealed class HubCloudToDeviceException : Exception
{
    /// <summary>IoT Hub's error code for "device maximum queue depth exceeded".</summary>
    public const int QueueDepthExceededErrorCode = 403004;

    /// <summary>Creates the exception.</summary>
    public HubCloudToDeviceException(string deviceId, string messageId, HubCloudToDeviceFailure failure, string message)
        : base(message)
    {
        DeviceId = deviceId;
        MessageId = messageId;
        Failure = failure;
    }

    /// <summary>The target device.</summary>
    public string DeviceId { get; }

    /// <summary>The message id.</summary>
    public string MessageId { get; }

    /// <summary>Why it was not delivered.</summary>
    public HubCloudToDeviceFailure Failure { get; }

    /// <summary>IoT Hub's error code: 403004 for <see cref="HubCloudToDeviceFailure.QueueFull"/>; null for an expiry, which IoT
    /// Hub reports as delivery feedback rather than as an error.</summary>
    public int? ErrorCode => Failure == HubCloudToDeviceFailure.QueueFull ? QueueDepthExceededErrorCode : null;
}
