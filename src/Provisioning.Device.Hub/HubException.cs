namespace Provisioning.Device.Hub;

/// <summary>An IoT Hub operation failed.</summary>
public sealed class HubException : Exception
{
    /// <summary>Creates the exception.</summary>
    public HubException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public HubException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public HubException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with a status.</summary>
    public HubException(string message, int status, bool isTransient, Exception? innerException = null)
        : base(message, innerException)
    {
        Status = status;
        IsTransient = isTransient;
    }

    /// <summary>The hub's status (twin: HTTP-like status; refusal: CONNACK code), or 0.</summary>
    public int Status { get; }

    /// <summary>Whether trying again later may succeed.</summary>
    public bool IsTransient { get; }

    /// <summary>How long the hub asked the device to wait before trying again (<c>retryAfter</c> of a credentials error), if it did.</summary>
    public TimeSpan? RetryAfter { get; init; }
    /// <summary>The hub's refusal of the connection (CONNACK code), when this exception reports one; otherwise
    /// <see langword="null"/>. Set on the exception <see cref="DeviceClient.OpenAsync"/> throws.</summary>
    public HubRefusal? Refusal { get; init; }

    /// <summary>Whether the hub refused this identity (unknown, disabled or bad credentials: CONNACK 2, 4 or 5), so only a new
    /// registration with DPS can help.</summary>
    public bool RequiresReprovisioning => Refusal?.RequiresReprovisioning == true;
}
