using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;

namespace Provisioning.Device.Transport.Http;

/// <summary>What was wrong with an HTTP/1.1 answer, as <see cref="Http1ResponseException.Kind"/> says.</summary>
internal enum Http1Failure
{
    /// <summary>The bytes are not a valid HTTP/1.1 response (status line, header, chunk framing).</summary>
    Invalid,

    /// <summary>The server closed the connection before the answer was complete.</summary>
    Ended,

    /// <summary>The body is over the limit the caller gave.</summary>
    TooLarge,
}

/// <summary>A response that broke HTTP/1.1 framing (RFC 9112) or a limit; the message says what, never echoing a value.</summary>
internal sealed class Http1ResponseException(Http1Failure kind, string message, long bytesReceived) : Exception(message)
{
    public Http1Failure Kind { get; } = kind;

    /// <summary>How many bytes of the answer had arrived (0: the server sent nothing, e.g. it closed an idle connection).</summary>
    public long BytesReceived { get; } = bytesReceived;
}

/// <summary>An HTTP/1.1 response head; the body is the reader's <see cref="Http1ResponseReader.Body"/>.</summary>
/// <param name="Status">The final status code (interim 1xx answers skipped).</param>
/// <param name="KeepAlive">Whether the connection may carry the next request: HTTP/1.1, no <c>Connection: close</c>, the body
/// framed by length or chunks, and nothing sent beyond it.</param>
/// <param name="RetryAfter">The raw <c>Retry-After</c> value when it is not delta seconds (an HTTP date, or junk), or <see langword="null"/>.</param>
/// <param name="Location">The raw <c>Location</c> value, or <see langword="null"/>.</param>
/// <param name="RetryAfterSeconds">The <c>Retry-After</c> delta seconds (RFC 9110 §10.2.3), or <see langword="null"/>.</param>
internal readonly record struct Http1Response(int Status, bool KeepAlive, string? RetryAfter, string? Location, int? RetryAfterSeconds = null);

/// <summary>
/// Reads one HTTP/1.1 response (RFC 9112) from a stream, strictly and within fixed bounds: the status line and headers in at most
/// <see cref="MaxHeadBytes"/> and <see cref="MaxHeaderCount"/> lines, at most <see cref="MaxInterimResponses"/> 1xx answers first,
/// a body by <c>Content-Length</c>, <c>chunked</c> or to the end of the connection, never more than the caller's limit. Anything
/// else (obsolete line folding, bare LF, conflicting lengths, both framings, an unknown transfer coding, a bad chunk size) is an
/// <see cref="Http1ResponseException"/>. Waits are the caller's: every read honours its token.
/// </summary>
internal sealed class Http1ResponseReader : IDisposable
{
    public const int MaxHeadBytes = 16 * 1024;
    public const int MaxHeaderCount = 64;
    public const int MaxInterimResponses = 8;
    public const int MaxChunkLineBytes = 1024;
    public const int MaxTrailerBytes = 4 * 1024;

    private readonly Stream _stream;
    private readonly byte[] _callerBuffer;
    private byte[] _buffer;
    private int _ownBufferUsed;
    private int _start;
    private int _end;
    private long _received;
    private byte[]? _body;
    private int _bodyLength;
    private int _bodyWritten;

    /// <param name="stream">The connection.</param>
    /// <param name="buffer">The receive buffer, at least <see cref="MinBufferBytes"/> long (a head that does not fit moves to a pooled
    /// buffer of <see cref="MaxHeadBytes"/>, which the reader zeroes and returns); the caller zeroes theirs afterwards.</param>
    public Http1ResponseReader(Stream stream, byte[] buffer)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(buffer.Length, MinBufferBytes);
        _stream = stream;
        _buffer = _callerBuffer = buffer;
    }

    /// <summary>The smallest receive buffer accepted (a chunk size line and its CRLF must fit).</summary>
    public const int MinBufferBytes = MaxChunkLineBytes + 8;

    /// <summary>How many bytes of the caller's receive buffer were used (to zero them).</summary>
    public int BufferUsed { get; private set; }

    /// <summary>How many bytes of the answer have arrived.</summary>
    public long BytesReceived => _received;

    /// <summary>The body of the last response read (valid until <see cref="Dispose"/>).</summary>
    public ReadOnlySpan<byte> Body => _body.AsSpan(0, _bodyLength);

    /// <summary>Zeroes and returns the body buffer (it may hold a secret, such as a TPM activation blob).</summary>
    public void Dispose()
    {
        if (!ReferenceEquals(_buffer, _callerBuffer))
        {
            byte[] own = _buffer;
            _buffer = _callerBuffer;
            CryptographicOperations.ZeroMemory(own.AsSpan(0, _ownBufferUsed));
            ArrayPool<byte>.Shared.Return(own);
        }

        if (_body is { } body)
        {
            _body = null;
            CryptographicOperations.ZeroMemory(body.AsSpan(0, _bodyWritten));
            ArrayPool<byte>.Shared.Return(body);
        }
    }

    /// <summary>Reads the next response, its body into a pooled buffer of the size it needs (<see cref="Body"/>).</summary>
    /// <param name="maxBody">The largest body accepted.</param>
    /// <param name="cancellationToken">The deadline.</param>
    /// <exception cref="Http1ResponseException">The answer is not valid HTTP/1.1, ended early, or its body is over <paramref name="maxBody"/>.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Http1Response> ReadAsync(int maxBody, CancellationToken cancellationToken)
    {
        _bodyLength = 0;
        Head head = default;
        for (int interim = 0; ; interim++)
        {
            int searched = 0;
            int headLength;
            while ((headLength = FindHead(ref searched)) < 0)
            {
                if (EndFill(await StartFill(cancellationToken).ConfigureAwait(false)) == 0)
                {
                    throw Ended(_end == _start && _received == 0 ? "the server closed the connection without answering" : "the server closed the connection in the middle of the response head");
                }
            }

            head = ParseHead(_buffer.AsSpan(_start, headLength));
            _start += headLength;
            if (head.Status >= 200)
            {
                break;
            }

            if (head.Status == 101)
            {
                throw Invalid("the server switched protocols (101) though none was asked for");
            }

            if (interim == MaxInterimResponses)
            {
                throw Invalid($"more than {MaxInterimResponses} interim (1xx) answers");
            }
        }

        bool noBody = head.Status is 204 or 304;
        bool framed = true;
        if (noBody)
        {
            _bodyLength = 0;
        }
        else if (head.Chunked)
        {
            await ReadChunkedAsync(maxBody, cancellationToken).ConfigureAwait(false);
        }
        else if (head.ContentLength is { } declared)
        {
            if (declared > maxBody)
            {
                throw new Http1ResponseException(Http1Failure.TooLarge, $"the body is {declared} bytes, over the {maxBody / 1024} KB limit", _received);
            }

            EnsureBody((int)declared);
            await ReadExactlyAsync((int)declared, "the body", cancellationToken).ConfigureAwait(false);
        }
        else
        {
            framed = false;
            await ReadToEndAsync(maxBody, cancellationToken).ConfigureAwait(false);
        }

        // Bytes beyond the answer were never asked for: such a connection is not reused.
        bool keepAlive = framed && head.Http11 && !head.Close && _start == _end;
        return new Http1Response(head.Status, keepAlive, head.RetryAfter, head.Location, head.RetryAfterSeconds);
    }

    /// <summary>Makes the body buffer hold at least <paramref name="needed"/> bytes, keeping what it holds (doubling, from 1 KB).</summary>
    private void EnsureBody(int needed)
    {
        int current = _body?.Length ?? 0;
        if (needed <= current)
        {
            return;
        }

        byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, Math.Max(1024, current * 2)));
        if (_body is { } old)
        {
            old.AsSpan(0, _bodyLength).CopyTo(larger);
            CryptographicOperations.ZeroMemory(old.AsSpan(0, _bodyWritten));
            ArrayPool<byte>.Shared.Return(old);
        }

        _body = larger;
        _bodyWritten = _bodyLength;
    }

    /// <summary>Finds the end of the head from <see cref="_start"/>: its length, terminator included, or -1 when more is needed.</summary>
    private int FindHead(ref int searched)
    {
        int found = _buffer.AsSpan(_start + searched, _end - _start - searched).IndexOf("\r\n\r\n"u8);
        if (found >= 0)
        {
            int length = searched + found + 4;
            return length <= MaxHeadBytes ? length : throw Invalid($"the response head is over {MaxHeadBytes / 1024} KB");
        }

        searched = Math.Max(0, _end - _start - 3);
        return _end - _start < MaxHeadBytes ? -1 : throw Invalid($"the response head is over {MaxHeadBytes / 1024} KB");
    }

    /// <summary>Starts reading more bytes after <see cref="_end"/>, first moving what is unread to the start of the buffer when
    /// needed; <see cref="EndFill"/> takes the count. (Not an async method: one state machine fewer per read.)</summary>
    private ValueTask<int> StartFill(CancellationToken cancellationToken)
    {
        int limit = Math.Min(_buffer.Length, MaxHeadBytes);
        if (_end == limit && _start == 0 && limit < MaxHeadBytes)
        {
            // A head longer than the caller's buffer (rare: DPS heads are a few hundred bytes): on into a pooled one of the full limit.
            byte[] larger = ArrayPool<byte>.Shared.Rent(MaxHeadBytes);
            _buffer.AsSpan(0, _end).CopyTo(larger);
            if (!ReferenceEquals(_buffer, _callerBuffer))
            {
                CryptographicOperations.ZeroMemory(_buffer.AsSpan(0, _ownBufferUsed));
                ArrayPool<byte>.Shared.Return(_buffer);
            }

            _buffer = larger;
            limit = Math.Min(_buffer.Length, MaxHeadBytes);
        }

        if (_end == limit || (_start > 0 && _start == _end))
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }

        return _stream.ReadAsync(_buffer.AsMemory(_end, limit - _end), cancellationToken);
    }

    private int EndFill(int read)
    {
        _end += read;
        _received += read;
        if (ReferenceEquals(_buffer, _callerBuffer))
        {
            BufferUsed = Math.Max(BufferUsed, _end);
        }
        else
        {
            _ownBufferUsed = Math.Max(_ownBufferUsed, _end);
        }

        return read;
    }

    private Head ParseHead(ReadOnlySpan<byte> head)
    {
        // Terminator excluded: the status line, then header lines, each ending CRLF.
        head = head[..^2];
        int lineEnd = head.IndexOf("\r\n"u8);
        var result = new Head { Status = ParseStatusLine(head[..lineEnd], out bool http11), Http11 = http11 };
        head = head[(lineEnd + 2)..];
        int count = 0;
        while (!head.IsEmpty)
        {
            if (++count > MaxHeaderCount)
            {
                throw Invalid($"more than {MaxHeaderCount} header lines");
            }

            lineEnd = head.IndexOf("\r\n"u8);
            ReadHeader(head[..lineEnd], ref result);
            head = head[(lineEnd + 2)..];
        }

        if (result.Chunked && result.ContentLength is not null)
        {
            // RFC 9112 §6.3: both is a sign of request smuggling; a client has no reason to guess which one is meant.
            throw Invalid("both Transfer-Encoding and Content-Length");
        }

        return result;
    }

    private int ParseStatusLine(ReadOnlySpan<byte> line, out bool http11)
    {
        // status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 §4); the SP before an empty reason may be missing.
        if (line.Length < 12 || !line.StartsWith("HTTP/1."u8) || (line[7] != '0' && line[7] != '1') || line[8] != ' '
            || !IsDigit(line[9]) || !IsDigit(line[10]) || !IsDigit(line[11]) || (line.Length > 12 && line[12] != ' '))
        {
            throw Invalid("the status line is not 'HTTP/1.x NNN reason'");
        }

        CheckText(line[12..], "the reason phrase");
        http11 = line[7] == '1';
        int status = ((line[9] - '0') * 100) + ((line[10] - '0') * 10) + (line[11] - '0');
        return status is >= 100 and <= 599 ? status : throw Invalid($"the status code {status} is not in 100–599");
    }

    private void ReadHeader(ReadOnlySpan<byte> line, ref Head head)
    {
        if (line.IsEmpty || line[0] is (byte)' ' or (byte)'\t')
        {
            throw Invalid("a header line is folded (obsolete line folding) or empty");
        }

        int colon = line.IndexOf((byte)':');
        if (colon <= 0 || !IsToken(line[..colon]))
        {
            throw Invalid("a header line has no valid field name before ':'");
        }

        ReadOnlySpan<byte> name = line[..colon];
        ReadOnlySpan<byte> value = line[(colon + 1)..].Trim(" \t"u8);
        CheckText(value, "a header value");
        if (Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
        {
            long length = ParseLength(value);
            if (head.ContentLength is { } earlier && earlier != length)
            {
                throw Invalid("conflicting Content-Length headers");
            }

            head.ContentLength = length;
        }
        else if (Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8))
        {
            // Only chunked is asked for (no TE, no Accept-Encoding); a response may not apply codings the client cannot read.
            if (head.Chunked || !Ascii.EqualsIgnoreCase(value, "chunked"u8))
            {
                throw Invalid("a Transfer-Encoding other than a single 'chunked'");
            }

            head.Chunked = true;
        }
        else if (Ascii.EqualsIgnoreCase(name, "Connection"u8))
        {
            head.Close |= HasToken(value, "close"u8);
        }
        else if (Ascii.EqualsIgnoreCase(name, "Retry-After"u8))
        {
            if (head.RetryAfter is null && head.RetryAfterSeconds is null)
            {
                // Delta seconds, the usual form, without a string; anything else is kept for the date parser.
                if (!value.IsEmpty && value.Length <= 9 && !value.ContainsAnyExceptInRange((byte)'0', (byte)'9'))
                {
                    head.RetryAfterSeconds = int.Parse(value, CultureInfo.InvariantCulture);
                }
                else
                {
                    head.RetryAfter = Encoding.ASCII.GetString(value);
                }
            }
        }
        else if (Ascii.EqualsIgnoreCase(name, "Location"u8))
        {
            head.Location ??= Encoding.ASCII.GetString(value);
        }
    }

    private long ParseLength(ReadOnlySpan<byte> value)
    {
        // 1*DIGIT (RFC 9110 §8.6); no sign, no list, no spaces inside; 12 digits is far past any limit here.
        if (value.IsEmpty || value.Length > 12)
        {
            throw Invalid("a Content-Length that is not a number");
        }

        long length = 0;
        foreach (byte b in value)
        {
            if (!IsDigit(b))
            {
                throw Invalid("a Content-Length that is not a number");
            }

            length = (length * 10) + (b - '0');
        }

        return length;
    }

    /// <summary>Appends exactly <paramref name="count"/> bytes to the body (its buffer already large enough).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReadExactlyAsync(int count, string what, CancellationToken cancellationToken)
    {
        int target = _bodyLength + count;
        _bodyLength += TakeBuffered(_body.AsSpan(_bodyLength, count));
        _bodyWritten = Math.Max(_bodyWritten, _bodyLength);
        while (_bodyLength < target)
        {
            int read = await _stream.ReadAsync(_body.AsMemory(_bodyLength, target - _bodyLength), cancellationToken).ConfigureAwait(false);
            _bodyWritten = Math.Max(_bodyWritten, _bodyLength + read);
            if (read == 0)
            {
                throw Ended($"{what} ended after {count - (target - _bodyLength)} of {count} bytes (the server closed the connection)");
            }

            _bodyLength += read;
            _received += read;
        }
    }

    private int TakeBuffered(Span<byte> target)
    {
        int count = Math.Min(target.Length, _end - _start);
        _buffer.AsSpan(_start, count).CopyTo(target);
        _start += count;
        return count;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReadToEndAsync(int maxBody, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_bodyLength == maxBody)
            {
                // One more byte says whether the body goes on past the limit.
                if (_start < _end || EndFill(await StartFill(cancellationToken).ConfigureAwait(false)) > 0)
                {
                    throw new Http1ResponseException(Http1Failure.TooLarge, $"the body is over the {maxBody / 1024} KB limit", _received);
                }

                return;
            }

            EnsureBody(Math.Min(maxBody, _bodyLength + 1));
            int room = Math.Min(_body!.Length, maxBody) - _bodyLength;
            if (_start < _end)
            {
                _bodyLength += TakeBuffered(_body.AsSpan(_bodyLength, room));
                _bodyWritten = Math.Max(_bodyWritten, _bodyLength);
                continue;
            }

            int read = await _stream.ReadAsync(_body.AsMemory(_bodyLength, room), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return;
            }

            _bodyLength += read;
            _bodyWritten = Math.Max(_bodyWritten, _bodyLength);
            _received += read;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReadChunkedAsync(int maxBody, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadOnlyMemory<byte> line = await ReadLineAsync(MaxChunkLineBytes, "a chunk size line", cancellationToken).ConfigureAwait(false);
            int size = ParseChunkSize(line.Span);
            if (size == 0)
            {
                await ReadTrailersAsync(cancellationToken).ConfigureAwait(false);
                return;
            }

            if (size > maxBody - _bodyLength)
            {
                throw new Http1ResponseException(Http1Failure.TooLarge, $"the body is over the {maxBody / 1024} KB limit", _received);
            }

            EnsureBody(_bodyLength + size);
            await ReadExactlyAsync(size, "a chunk", cancellationToken).ConfigureAwait(false);
            ReadOnlyMemory<byte> end = await ReadLineAsync(2, "the end of a chunk", cancellationToken).ConfigureAwait(false);
            if (!end.IsEmpty)
            {
                throw Invalid("a chunk is longer than its size says");
            }
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReadTrailersAsync(CancellationToken cancellationToken)
    {
        int budget = MaxTrailerBytes;
        while (true)
        {
            ReadOnlyMemory<byte> line = await ReadLineAsync(Math.Min(budget, MaxChunkLineBytes), "a trailer line", cancellationToken).ConfigureAwait(false);
            if (line.IsEmpty)
            {
                return;
            }

            budget -= line.Length + 2;
            if (budget <= 0)
            {
                throw Invalid($"the trailers are over {MaxTrailerBytes / 1024} KB");
            }

            int colon = line.Span.IndexOf((byte)':');
            if (colon <= 0 || !IsToken(line.Span[..colon]))
            {
                throw Invalid("a trailer line has no valid field name before ':'");
            }

            CheckText(line.Span[(colon + 1)..], "a trailer value");
        }
    }

    /// <summary>The next line without its CRLF, at most <paramref name="max"/> bytes; valid until the next read.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadOnlyMemory<byte>> ReadLineAsync(int max, string what, CancellationToken cancellationToken)
    {
        int searched = 0;
        while (true)
        {
            int found = _buffer.AsSpan(_start + searched, _end - _start - searched).IndexOf("\r\n"u8);
            if (found >= 0)
            {
                int length = searched + found;
                if (length > max)
                {
                    throw Invalid($"{what} is over {max} bytes");
                }

                var line = new ReadOnlyMemory<byte>(_buffer, _start, length);
                _start += length + 2;
                return line;
            }

            searched = Math.Max(0, _end - _start - 1);
            if (_end - _start > max + 1)
            {
                throw Invalid($"{what} is over {max} bytes");
            }

            if (EndFill(await StartFill(cancellationToken).ConfigureAwait(false)) == 0)
            {
                throw Ended($"the server closed the connection in the middle of the chunked body ({what})");
            }
        }
    }

    private int ParseChunkSize(ReadOnlySpan<byte> line)
    {
        // chunk-size [ chunk-ext ] (RFC 9112 §7.1): hex digits, then nothing, or whitespace and ';' extensions (ignored).
        int digits = 0;
        long size = 0;
        while (digits < line.Length && HexValue(line[digits]) is int value and >= 0)
        {
            if (++digits > 8)
            {
                throw Invalid("a chunk size is over 8 hex digits");
            }

            size = (size * 16) + value;
        }

        if (digits == 0)
        {
            throw Invalid("a chunk size is not hexadecimal");
        }

        ReadOnlySpan<byte> rest = line[digits..].TrimStart(" \t"u8);
        if (!rest.IsEmpty && rest[0] != ';')
        {
            throw Invalid("a chunk size is followed by something other than an extension");
        }

        CheckText(rest, "a chunk extension");
        return size > int.MaxValue ? throw Invalid("a chunk size is too large") : (int)size;
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };

    private static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';

    // tchar (RFC 9110 §5.6.2).
    private static bool IsToken(ReadOnlySpan<byte> text)
    {
        foreach (byte b in text)
        {
            if (!(b is >= (byte)'a' and <= (byte)'z' || b is >= (byte)'A' and <= (byte)'Z' || IsDigit(b) || "!#$%&'*+-.^_`|~"u8.Contains(b)))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Field text: visible ASCII, obs-text, space and tab; a CR, LF, NUL or other control byte is refused.</summary>
    private void CheckText(ReadOnlySpan<byte> text, string what)
    {
        foreach (byte b in text)
        {
            if (b is < 0x20 and not (byte)'\t' || b == 0x7F)
            {
                throw Invalid($"{what} holds a control character (0x{b:X2}; a bare CR or LF ends no line in HTTP/1.1)");
            }
        }
    }

    private static bool HasToken(ReadOnlySpan<byte> list, ReadOnlySpan<byte> token)
    {
        foreach (Range range in list.Split((byte)','))
        {
            if (Ascii.EqualsIgnoreCase(list[range].Trim(" \t"u8), token))
            {
                return true;
            }
        }

        return false;
    }

    private Http1ResponseException Invalid(string what) => new(Http1Failure.Invalid, what, _received);

    private Http1ResponseException Ended(string what) => new(Http1Failure.Ended, what, _received);

    private struct Head
    {
        public int Status;
        public bool Http11;
        public long? ContentLength;
        public bool Chunked;
        public bool Close;
        public string? RetryAfter;
        public int? RetryAfterSeconds;
        public string? Location;
    }
}
