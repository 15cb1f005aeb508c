using System.Text;

using Provisioning.Device.Transport.Http;

namespace Provisioning.Device.Tests;

/// <summary>
/// The direct HTTPS transport's response reader on golden and hostile answers, each delivered whole, in 3-byte pieces and one byte
/// per read (every boundary split), from a stream that can also stall like a slowloris server.
/// </summary>
public sealed class Http1ResponseReaderTests
{
    private const int MaxBody = 1024;

    public static TheoryData<int> Pieces => [1, 3, 4096];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Pieces))]
    public async Task Read_ContentLengthAnswer_GivesStatusBodyRetryAfterAndKeepsTheConnection(int piece)
    {
        (Http1Response response, string body) = await ReadAsync(
            "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nRetry-After: 3\r\nContent-Length: 13\r\n\r\n{\"status\":1}\n", piece);

        Assert.Equal(202, response.Status);
        Assert.Equal("{\"status\":1}\n", body);
        Assert.Equal(3, response.RetryAfterSeconds);
        Assert.Null(response.RetryAfter);
        Assert.True(response.KeepAlive);
    }

    [Theory]
    [MemberData(nameof(Pieces))]
    public async Task Read_ChunkedAnswerWithExtensionsAndTrailers_JoinsTheChunks(int piece)
    {
        (Http1Response response, string body) = await ReadAsync(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n5;name=value\r\nhello\r\n6 \r\n world\r\nA\r\n0123456789\r\n0\r\nX-Trailer: done\r\n\r\n", piece);

        Assert.Equal(200, response.Status);
        Assert.Equal("hello world0123456789", body);
        Assert.True(response.KeepAlive);
    }

    [Theory]
    [MemberData(nameof(Pieces))]
    public async Task Read_InterimAnswersFirst_SkipsThemForTheFinalOne(int piece)
    {
        (Http1Response response, string body) = await ReadAsync(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", piece);

        Assert.Equal(200, response.Status);
        Assert.Equal("ok", body);
    }

    [Theory]
    [MemberData(nameof(Pieces))]
    public async Task Read_WithoutLength_ReadsToTheEndAndDoesNotKeepTheConnection(int piece)
    {
        (Http1Response response, string body) = await ReadAsync("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"a\":1}", piece);

        Assert.Equal("{\"a\":1}", body);
        Assert.False(response.KeepAlive);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n")]
    [InlineData("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n")]
    public async Task Read_CloseHttp10OrBytesBeyondTheAnswer_DoesNotKeepTheConnection(string text)
    {
        (Http1Response response, _) = await ReadAsync(text, 4096);

        Assert.False(response.KeepAlive);
    }

    [Fact]
    public async Task Read_NoContentWithALength_HasNoBody()
    {
        (Http1Response response, string body) = await ReadAsync("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", 4096);

        Assert.Equal(204, response.Status);
        Assert.Empty(body);
    }

    [Fact]
    public async Task Read_RetryAfterDateAndLocation_AreKeptAsText()
    {
        (Http1Response response, _) = await ReadAsync(
            "HTTP/1.1 307 Temporary Redirect\r\nRetry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\nLocation: https://elsewhere.example/x\r\nContent-Length: 0\r\n\r\n", 4096);

        Assert.Null(response.RetryAfterSeconds);
        Assert.Equal("Wed, 21 Oct 2015 07:28:00 GMT", response.RetryAfter);
        Assert.Equal("https://elsewhere.example/x", response.Location);
    }

    [Fact]
    public async Task Read_DuplicateIdenticalContentLength_IsAccepted()
    {
        (_, string body) = await ReadAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nok", 4096);

        Assert.Equal("ok", body);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!", "conflicting Content-Length")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok", "Content-Length that is not a number")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok", "Content-Length that is not a number")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok", "Content-Length that is not a number")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999\r\n\r\nok", "Content-Length that is not a number")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\nok\r\n0\r\n\r\n", "both Transfer-Encoding and Content-Length")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "Transfer-Encoding other than a single 'chunked'")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", "Transfer-Encoding other than a single 'chunked'")]
    [InlineData("HTTP/2 200 OK\r\n\r\n", "status line")]
    [InlineData("ICY 200 OK\r\n\r\n", "status line")]
    [InlineData("HTTP/1.1 20x OK\r\n\r\n", "status line")]
    [InlineData("HTTP/1.1 200OK\r\n\r\n", "status line")]
    [InlineData("HTTP/1.1 099 Low\r\n\r\n", "not in 100–599")]
    [InlineData("HTTP/1.1 600 High\r\n\r\n", "not in 100–599")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n Folded: value\r\n\r\n", "folded")]
    [InlineData("HTTP/1.1 200 OK\r\nBad Name: value\r\n\r\n", "no valid field name")]
    [InlineData("HTTP/1.1 200 OK\r\nName : value\r\n\r\n", "no valid field name")]
    [InlineData("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", "no valid field name")]
    [InlineData("HTTP/1.1 200 OK\r\nX: a\nContent-Length: 5\r\n\r\n", "control character (0x0A")]
    [InlineData("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", "control character (0x0D")]
    [InlineData("HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n", "control character (0x00")]
    [InlineData("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", "switched protocols")]
    public async Task Read_MalformedHead_IsInvalidSayingWhat(string text, string why)
    {
        Http1ResponseException ex = await Assert.ThrowsAsync<Http1ResponseException>(() => ReadAsync(text, 3));

        Assert.Equal(Http1Failure.Invalid, ex.Kind);
        Assert.Contains(why, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("zz\r\n", "not hexadecimal")]
    [InlineData("-5\r\n", "not hexadecimal")]
    [InlineData("123456789\r\n", "over 8 hex digits")]
    [InlineData("FFFFFFFF\r\n", "too large")]
    [InlineData("5 x\r\nhello\r\n0\r\n\r\n", "other than an extension")]
    [InlineData("3\r\nhello\r\n0\r\n\r\n", "longer than its size")]
    [InlineData("5\r\nhello\r\n0\r\nNo Colon\r\n\r\n", "trailer line")]
    public async Task Read_BadChunkFraming_IsInvalidSayingWhat(string chunks, string why)
    {
        Http1ResponseException ex = await Assert.ThrowsAsync<Http1ResponseException>(
            () => ReadAsync("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks, 3));

        Assert.Equal(Http1Failure.Invalid, ex.Kind);
        Assert.Contains(why, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Read_ChunkLineOverTheLimit_IsInvalidBeforeItEnds()
    {
        string line = "1;" + new string('x', Http1ResponseReader.MaxChunkLineBytes) + "\r\n";

        Http1ResponseException ex = await Assert.ThrowsAsync<Http1ResponseException>(
            () => ReadAsync("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + line, 4096));

        Assert.Contains("chunk size line is over", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4096)]
    public async Task Read_HeadOverTheLimit_IsInvalidWithoutWaitingForItsEnd(int piece)
    {
        // Never terminated: the reader gives up at the limit instead of reading on.
        string head = "HTTP/1.1 200 OK\r\n" + string.Concat(Enumerable.Repeat("X-Padding: " + new string('p', 100) + "\r\n", 200));

        Http1ResponseException ex = await Assert.ThrowsAsync<Http1ResponseException>(() => ReadAsync(head, piece, hangAtEnd: true));

        Assert.Equal(Http1Failure.Invalid, ex.Kind);
        Assert.Contains("over 16 KB", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4096)]
    public async Task Read_HeadLongerThanTheCallersBuffer_MovesToALargerOneAndStillEndsAtTheLimit(int piece)
    {
        string headers = string.Concat(Enumerable.Repeat("X-Padding: " + new string('p', 100) + "\r\n", 30));
        var stream = new PiecewiseStream(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\n" + headers + "Content-Length: 2\r\n\r\nok"), piece);
        using (var reader = new Http1ResponseReader(stream, new byte[Http1ResponseReader.MinBufferBytes]))
        {
            Http1Response response = await reader.ReadAsync(MaxBody, Ct);

            Assert.Equal(200, response.Status);
            Assert.Equal("ok", Encoding.ASCII.GetString(reader.Body));
            Assert.Equal(Http1ResponseReader.MinBufferBytes, reader.BufferUsed);
        }

        string endless = "HTTP/1.1 200 OK\r\n" + string.Concat(Enumerable.Repeat(headers, 8));
        using var small = new Http1ResponseReader(new PiecewiseStream(Encoding.ASCII.GetBytes(endless), piece, hangAtEnd: true), new byte[Http1ResponseReader.MinBufferBytes]);
        Http1ResponseException ex = await Assert.ThrowsAsync<Http1ResponseException>(() => small.ReadAsync(MaxBody, Ct).AsTask());
        Assert.Contains("over 16 KB", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Read_TooManyHeaderLines_IsInvalid()
    {
        string head = "HTTP/1.1 200 OK\r\n" + string.Concat(Enumerable.Repeat("X: y\r\n", Http1ResponseReader.MaxHeaderCount + 1)) + "Content-Length: 0\r\n\r\n";

        Http1ResponseException ex = await Assert.ThrowsAsync<Http1ResponseException>(() => ReadAsync(head, 4096));

        Assert.Contains($"more than {Http1ResponseReader.MaxHeaderCount} header lines", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Read_EndlessInterimAnswers_IsInvalid()
    {
        string text = string.Concat(Enumerable.Repeat("HTTP/1.1 100 Continue\r\n\r\n", Http1ResponseReader.MaxInterimResponses + 1)) + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

        Http1ResponseException ex = await Assert.ThrowsAsync<Http1ResponseException>(() => ReadAsync(text, 4096));

        Assert.Contains("interim (1xx)", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n", "the body is 2000 bytes, over the 1 KB limit")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n200\r\n", "over the 1 KB limit")]
    public async Task Read_BodyOverTheLimit_IsTooLargeBeforeReadingIt(string head, string why)
    {
        Http1ResponseException ex = await Assert.ThrowsAsync<Http1ResponseException>(() => ReadAsync(head + new string('b', 300), 4096, hangAtEnd: true, maxBody: 256));

        Assert.Equal(Http1Failure.TooLarge, ex.Kind);
        Assert.Contains(why.Replace("1 KB", "0 KB", StringComparison.Ordinal), ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Pieces))]
    public async Task Read_BodyToTheEndOverTheLimit_IsTooLarge(int piece)
    {
        Http1ResponseException ex = await Assert.ThrowsAsync<Http1ResponseException>(
            () => ReadAsync("HTTP/1.1 200 OK\r\n\r\n" + new string('b', MaxBody + 1), piece));

        Assert.Equal(Http1Failure.TooLarge, ex.Kind);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", "the body ended after 5 of 10 bytes")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", "a chunk ended after 3 of 5 bytes")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", "in the middle of the chunked body")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Len", "in the middle of the response head")]
    public async Task Read_TruncatedAnswer_EndedSayingWhere(string text, string why)
    {
        Http1ResponseException ex = await Assert.ThrowsAsync<Http1ResponseException>(() => ReadAsync(text, 3));

        Assert.Equal(Http1Failure.Ended, ex.Kind);
        Assert.Contains(why, ex.Message, StringComparison.Ordinal);
        Assert.True(ex.BytesReceived > 0);
    }

    [Fact]
    public async Task Read_ClosedBeforeAnyByte_EndedWithNothingReceived()
    {
        Http1ResponseException ex = await Assert.ThrowsAsync<Http1ResponseException>(() => ReadAsync(string.Empty, 1));

        Assert.Equal(Http1Failure.Ended, ex.Kind);
        Assert.Equal(0, ex.BytesReceived);
        Assert.Contains("without answering", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nX-Slow: a")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")]
    public async Task Read_ServerThatStalls_EndsWhenTheDeadlinePasses(string text)
    {
        // The stream never ends nor errs; only the caller's deadline (cancelled here at once after the bytes) ends the wait.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var stream = new PiecewiseStream(Encoding.ASCII.GetBytes(text), 1, hangAtEnd: true, onDrained: deadline.Cancel);
        using var reader = new Http1ResponseReader(stream, new byte[Http1ResponseReader.MaxHeadBytes]);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reader.ReadAsync(MaxBody, deadline.Token).AsTask());
        Assert.Equal(text.Length, reader.BytesReceived);
    }

    [Fact]
    public async Task Read_TwoAnswersOnOneConnection_ReadsEachInTurn()
    {
        var stream = new PiecewiseStream(Encoding.ASCII.GetBytes("HTTP/1.1 202 Accepted\r\nContent-Length: 1\r\n\r\na"), 4096);
        using var reader = new Http1ResponseReader(stream, new byte[Http1ResponseReader.MaxHeadBytes]);
        Http1Response first = await reader.ReadAsync(MaxBody, Ct);
        Assert.Equal("a", Encoding.ASCII.GetString(reader.Body));

        stream.Append(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nbcd\r\n0\r\n\r\n"));
        Http1Response second = await reader.ReadAsync(MaxBody, Ct);

        Assert.True(first.KeepAlive);
        Assert.Equal(200, second.Status);
        Assert.Equal("bcd", Encoding.ASCII.GetString(reader.Body));
    }

    [Fact]
    public async Task Read_ChunkedBodyGrowingPastTheFirstBuffer_KeepsEveryByte()
    {
        string data = string.Concat(Enumerable.Range(0, 300).Select(i => (char)('a' + (i % 26))));
        string chunks = string.Concat(data.Chunk(7).Select(c => $"{c.Length:x}\r\n{new string(c)}\r\n")) + "0\r\n\r\n";

        (_, string body) = await ReadAsync("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + string.Concat(Enumerable.Repeat(chunks[..^5], 10)) + "0\r\n\r\n", 5, maxBody: 8192);

        Assert.Equal(string.Concat(Enumerable.Repeat(data, 10)), body);
    }

    private static async Task<(Http1Response Response, string Body)> ReadAsync(string text, int piece, bool hangAtEnd = false, int maxBody = MaxBody)
    {
        var stream = new PiecewiseStream(Encoding.ASCII.GetBytes(text), piece, hangAtEnd);
        using var reader = new Http1ResponseReader(stream, new byte[Http1ResponseReader.MaxHeadBytes]);
        Http1Response response = await reader.ReadAsync(maxBody, Ct);
        return (response, Encoding.ASCII.GetString(reader.Body));
    }

    /// <summary>Serves its bytes at most <c>piece</c> per read, each read completing asynchronously; at the end it returns 0
    /// (the server closed), or waits until cancelled (a server that stalls).</summary>
    private sealed class PiecewiseStream(byte[] data, int piece, bool hangAtEnd = false, Action? onDrained = null) : Stream
    {
        private byte[] _data = data;
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public void Append(byte[] more) => _data = [.. _data, .. more];

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            if (_position == _data.Length)
            {
                if (hangAtEnd)
                {
                    onDrained?.Invoke();
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }

                return 0;
            }

            int count = Math.Min(Math.Min(piece, buffer.Length), _data.Length - _position);
            _data.AsSpan(_position, count).CopyTo(buffer.Span);
            _position += count;
            return count;
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush() => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
