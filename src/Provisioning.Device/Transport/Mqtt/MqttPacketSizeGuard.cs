namespace Provisioning.Device.Transport.Mqtt;

/// <summary>
/// Follows the MQTT fixed headers in the bytes a channel receives and refuses a packet larger than the limit as soon
/// as its Remaining Length is known, before the library allocates a buffer for it (MQTT 3.1.1 §2.2.3).
/// </summary>
/// <remarks>The limit is the C# SDK's 256 KiB (dps-protocol.md §5); a DPS answer is a few KB. The hub client uses the same
/// guard (its largest device-bound packets, a 128 KB method request or a twin document, fit well within it) with its own error.</remarks>
internal sealed class MqttPacketSizeGuard
{
    public const int MaxPacketBytes = 256 * 1024;

    private readonly Func<string, Exception> _refuse;

    private State _state = State.FirstByte;
    private int _length;
    private int _shift;
    private long _bodyLeft;

    private enum State
    {
        FirstByte,
        Length,
        Body,
    }

#if !PROVISIONING_HUB // compiled into Provisioning.Device.Hub too, which refuses with its own exception
    /// <summary>A guard whose refusals are the provisioning client's (a non-transient <see cref="ProvisioningException"/>).</summary>
    public MqttPacketSizeGuard()
        : this(ProvisioningRefusal)
    {
    }
#endif

    /// <summary>A guard whose refusals are made by <paramref name="refuse"/> from the reason.</summary>
    public MqttPacketSizeGuard(Func<string, Exception> refuse)
    {
        _refuse = refuse;
    }

    /// <summary>Takes the next received bytes, in order.</summary>
    /// <exception cref="ProvisioningException">A packet is over the limit, or its length is malformed (never transient); or the
    /// exception of the refusal factory given to the constructor.</exception>
    public void Observe(ReadOnlySpan<byte> received)
    {
        int i = 0;
        while (i < received.Length)
        {
            switch (_state)
            {
                case State.FirstByte:
                    i++;
                    _state = State.Length;
                    _length = 0;
                    _shift = 0;
                    break;
                case State.Length:
                    byte digit = received[i++];
                    if (_shift > 21)
                    {
                        throw _refuse("its Remaining Length takes more than four bytes");
                    }

                    _length |= (digit & 0x7F) << _shift;
                    _shift += 7;
                    if ((digit & 0x80) == 0)
                    {
                        if (_length > MaxPacketBytes)
                        {
                            throw _refuse($"it is {_length} bytes, over the {MaxPacketBytes / 1024} KiB limit");
                        }

                        _bodyLeft = _length;
                        _state = _length == 0 ? State.FirstByte : State.Body;
                    }

                    break;
                default:
                    int take = (int)Math.Min(_bodyLeft, received.Length - i);
                    i += take;
                    _bodyLeft -= take;
                    if (_bodyLeft == 0)
                    {
                        _state = State.FirstByte;
                    }

                    break;
            }
        }
    }

#if !PROVISIONING_HUB
    private static ProvisioningException ProvisioningRefusal(string why) =>
        new($"The provisioning service sent an MQTT packet that was refused: {why}.", isTransient: false);
#endif
}
