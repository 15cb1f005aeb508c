using System.Security.Cryptography;
using System.Text;

using Microsoft.Azure.Amqp;
using Microsoft.Azure.Amqp.Sasl;

namespace Provisioning.Emulator.Amqp;

/// <summary>
/// The service side of DPS's SASL mechanism <c>TPM</c> (dps-protocol.md §6): the EK in the init, a challenge for the SRK,
/// the activation blob in at most four segments, then the SAS signed by the key the blob wraps.
/// </summary>
/// <remarks>
/// Init: <c>0x00 | idScope | 0x00 | registrationId | 0x00 | EK</c>. The SRK request is the single byte <c>0x00</c>
/// (no 0x80: not a segment); the answer is <c>0x00 | SRK</c>. Each segment is <c>ctrl | chunk</c> with 0x80, 0x40 on the
/// last, and the sequence number in bits 0x03; the device acknowledges each interim one with <c>0x00</c> and answers the
/// last with <c>0x00 | SAS</c>. Segmented init or SRK frames (the C SDK's form above 470 bytes) are refused: an RSA-2048
/// EK and SRK fit in one. Anything out of order ends the exchange with the outcome <c>auth</c>.
/// </remarks>
internal sealed class SaslTpmServerHandler : SaslHandler
{
    public const string MechanismName = "TPM";

    /// <summary>An RSA-2048 TPM2B_PUBLIC is about 316 bytes; a key over this is not a DPS EK or SRK.</summary>
    private const int MaxKeyBytes = 1024;

    /// <summary>The largest segment of the blob: a 766-byte blob goes in two, as the service sends it.</summary>
    private const int SegmentBytes = 400;

    private readonly DpsAmqpSasl _sasl;
    private readonly Action<string> _onRefused;
    private Stage _stage = Stage.Init;
    private string _idScope = "";
    private string _registrationId = "";
    private byte[] _endorsementKey = [];
    private byte[] _storageRootKey = [];
    private byte[]? _blob;
    private int _sent;
    private int _segment;
    private int _segmentBytes;

    public SaslTpmServerHandler(DpsAmqpSasl sasl, Action<string> onRefused)
    {
        _sasl = sasl;
        _onRefused = onRefused;
        Mechanism = MechanismName;
    }

    private enum Stage
    {
        Init,
        WaitingForStorageRootKey,
        SendingBlob,
        WaitingForSas,
        Done,
    }

    public override SaslHandler Clone() => new SaslTpmServerHandler(_sasl, _onRefused);

    public override void OnChallenge(SaslChallenge challenge) => throw new AmqpException(AmqpErrorCode.NotAllowed, "A SASL server receives no challenge.");

    protected override void OnStart(SaslInit init, bool isClient) => Step(() =>
    {
        var frame = init.InitialResponse.AsSpan();
        if (frame.Length < 4 || frame[0] != 0)
        {
            throw new UnauthorizedAccessException("the TPM init is not 0x00 | idScope | 0x00 | registrationId | 0x00 | EK in one frame");
        }

        var rest = frame[1..];
        var first = rest.IndexOf((byte)0);
        var second = first < 0 ? -1 : rest[(first + 1)..].IndexOf((byte)0);
        if (first <= 0 || second <= 0)
        {
            throw new UnauthorizedAccessException("the TPM init does not hold an ID scope and a registration id");
        }

        _idScope = Encoding.UTF8.GetString(rest[..first]);
        _registrationId = Encoding.UTF8.GetString(rest.Slice(first + 1, second));
        _endorsementKey = Key(rest[(first + 1 + second + 1)..], "endorsement key");
        _stage = Stage.WaitingForStorageRootKey;
        Negotiator.WriteFrame(new SaslChallenge { Challenge = new ArraySegment<byte>([0]) }, true);
    });

    public override void OnResponse(SaslResponse response) => Step(() =>
    {
        var frame = response.Response.AsSpan();
        if (frame.IsEmpty || frame[0] != 0)
        {
            throw new UnauthorizedAccessException("a TPM SASL response does not start with 0x00");
        }

        switch (_stage)
        {
            case Stage.WaitingForStorageRootKey:
                _storageRootKey = Key(frame[1..], "storage root key");
                _blob = _sasl.Challenge(_idScope, _registrationId, _endorsementKey, _storageRootKey);
                // At most four segments: the sequence number has two bits and the C# SDK does not let it wrap.
                _segmentBytes = Math.Max(SegmentBytes, (_blob.Length + 3) / 4);
                _stage = Stage.SendingBlob;
                SendSegment();
                break;
            case Stage.SendingBlob when frame.Length == 1:
                SendSegment();
                break;
            case Stage.WaitingForSas:
                var sas = Encoding.UTF8.GetString(frame[1..]);
                Principal = _sasl.CompleteTpm(_idScope, _registrationId, _endorsementKey, _storageRootKey, sas);
                _stage = Stage.Done;
                Negotiator.CompleteNegotiation(SaslCode.Ok, null);
                break;
            default:
                throw new UnauthorizedAccessException($"an unexpected TPM SASL response in stage {_stage}");
        }
    });

    private void SendSegment()
    {
        var blob = _blob!;
        var length = Math.Min(_segmentBytes, blob.Length - _sent);
        var last = _sent + length == blob.Length;
        var frame = new byte[1 + length];
        frame[0] = (byte)(0x80 | (last ? 0x40 : 0) | _segment);
        blob.AsSpan(_sent, length).CopyTo(frame.AsSpan(1));
        _sent += length;
        _segment++;
        if (last)
        {
            CryptographicOperations.ZeroMemory(blob);
            _stage = Stage.WaitingForSas;
        }

        Negotiator.WriteFrame(new SaslChallenge { Challenge = new ArraySegment<byte>(frame) }, true);
    }

    private void Step(Action step)
    {
        try
        {
            step();
        }
        catch (UnauthorizedAccessException ex)
        {
            _stage = Stage.Done;
            if (_blob is not null)
            {
                CryptographicOperations.ZeroMemory(_blob);
            }

            _onRefused(ex.Message);
            Negotiator.CompleteNegotiation(SaslCode.Auth, ex);
        }
    }

    private static byte[] Key(ReadOnlySpan<byte> bytes, string what) =>
        bytes.Length is >= 2 and <= MaxKeyBytes ? bytes.ToArray() : throw new UnauthorizedAccessException($"the {what} is empty or over {MaxKeyBytes} bytes");
}
