using System.Security.Cryptography;
using System.Text;

using Microsoft.Azure.Amqp;
using Microsoft.Azure.Amqp.Sasl;

namespace Provisioning.Device.Transport.Amqp;

/// <summary>
/// The device side of DPS's SASL mechanism <c>TPM</c> (dps-protocol.md §6): the EK in the init, the SRK on the first
/// challenge, the activation blob in up to four segments, and the SAS signed by the activated key in the last response.
/// </summary>
/// <remarks>
/// Init: <c>0x00 | idScope | 0x00 | registrationId | 0x00 | EK</c>, host name <c>{idScope}/registrations/{registrationId}</c>.
/// A challenge whose control byte lacks 0x80 asks for the SRK (<c>0x00 | SRK</c>). A segment's control byte has 0x80, 0x40
/// on the last one, and a sequence number counting from 0 in bits 0x03; each interim segment is answered <c>0x00</c>.
/// The library clones the handler per connection, so each negotiation has fresh state. The blob is zeroed once used.
/// </remarks>
internal sealed class SaslTpmClientHandler : SaslHandler
{
    public const string MechanismName = "TPM";

    /// <summary>The most segments a blob may come in: the sequence number has two bits and does not wrap (§6).</summary>
    private const int MaxSegments = 4;

    /// <summary>A DPS blob is about 770 bytes (tpm-lab.md); anything past this is not one.</summary>
    private const int MaxBlobBytes = 8 * 1024;

    private const byte SegmentBit = 0x80;
    private const byte FinalBit = 0x40;
    private const byte SequenceMask = 0x03;

    private readonly string _idScope;
    private readonly string _registrationId;
    private readonly byte[] _endorsementKey;
    private readonly byte[] _storageRootKey;
    private readonly Func<byte[], ValueTask<string>> _answer;
    private byte[]? _blob;
    private int _blobLength;
    private int _segments;

    /// <summary><paramref name="answer"/> activates the blob and returns the SAS token it unlocks (the blob is zeroed after).</summary>
    public SaslTpmClientHandler(string idScope, string registrationId, byte[] endorsementKey, byte[] storageRootKey, Func<byte[], ValueTask<string>> answer)
    {
        Mechanism = MechanismName;
        _idScope = idScope;
        _registrationId = registrationId;
        _endorsementKey = endorsementKey;
        _storageRootKey = storageRootKey;
        _answer = answer;
    }

    public override SaslHandler Clone() => new SaslTpmClientHandler(_idScope, _registrationId, _endorsementKey, _storageRootKey, _answer);

    /// <summary>The init response, <c>0x00 | idScope | 0x00 | registrationId | 0x00 | EK</c>.</summary>
    internal static byte[] BuildInit(string idScope, string registrationId, ReadOnlySpan<byte> endorsementKey)
    {
        int scope = Encoding.UTF8.GetByteCount(idScope);
        int id = Encoding.UTF8.GetByteCount(registrationId);
        byte[] frame = new byte[1 + scope + 1 + id + 1 + endorsementKey.Length];
        int offset = 1;
        offset += Encoding.UTF8.GetBytes(idScope, frame.AsSpan(offset));
        offset++;
        offset += Encoding.UTF8.GetBytes(registrationId, frame.AsSpan(offset));
        offset++;
        endorsementKey.CopyTo(frame.AsSpan(offset));
        return frame;
    }

    protected override void OnStart(SaslInit init, bool isClient)
    {
        init.HostName = $"{_idScope}/registrations/{_registrationId}";
        init.InitialResponse = new ArraySegment<byte>(BuildInit(_idScope, _registrationId, _endorsementKey));
        Negotiator.WriteFrame(init, true);
    }

    public override void OnChallenge(SaslChallenge challenge)
    {
        // Exceptions thrown here end the negotiation; the transport reports them.
        ReadOnlySpan<byte> bytes = challenge.Challenge.AsSpan();
        if (bytes.IsEmpty)
        {
            throw Malformed("an empty challenge");
        }

        byte control = bytes[0];
        if ((control & SegmentBit) == 0)
        {
            if (_segments > 0)
            {
                throw Malformed("a second request for the storage root key");
            }

            byte[] response = new byte[1 + _storageRootKey.Length];
            _storageRootKey.CopyTo(response, 1);
            Negotiator.WriteFrame(new SaslResponse { Response = new ArraySegment<byte>(response) }, true);
            return;
        }

        int sequence = control & SequenceMask;
        if (sequence != _segments || _segments >= MaxSegments)
        {
            throw Malformed($"segment {sequence} of the activation blob where segment {_segments} was expected");
        }

        if (_blobLength + bytes.Length - 1 > MaxBlobBytes)
        {
            throw Malformed($"an activation blob over {MaxBlobBytes} bytes");
        }

        _segments++;
        _blob ??= new byte[MaxBlobBytes];
        bytes[1..].CopyTo(_blob.AsSpan(_blobLength));
        _blobLength += bytes.Length - 1;
        if ((control & FinalBit) == 0)
        {
            Negotiator.WriteFrame(new SaslResponse { Response = new ArraySegment<byte>([0]) }, true);
            return;
        }

        byte[] blob = _blob.AsSpan(0, _blobLength).ToArray();
        CryptographicOperations.ZeroMemory(_blob);
        _blobLength = 0;
        _ = AnswerAsync(blob);
    }

    public override void OnResponse(SaslResponse response) =>
        throw new AmqpException(AmqpErrorCode.NotAllowed, "A SASL client receives no SASL response.");

    private async Task AnswerAsync(byte[] blob)
    {
        string sas;
        try
        {
            sas = await _answer(blob).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Negotiator.CompleteNegotiation(SaslCode.Sys, ex);
            return;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(blob);
        }

        byte[] response = new byte[1 + Encoding.UTF8.GetByteCount(sas)];
        Encoding.UTF8.GetBytes(sas, response.AsSpan(1));
        Negotiator.WriteFrame(new SaslResponse { Response = new ArraySegment<byte>(response) }, true);
    }

    private static ProvisioningException Malformed(string what) =>
        ProvisioningException.Malformed("the TPM SASL challenge", what);
}
