using System.Buffers;
using System.Net;
using System.Security.Cryptography;

namespace Provisioning.Device.Transport.Http;

/// <summary>DPS over HTTPS (dps-protocol.md §1): PUT register, GET operation status, the TPM 401 challenge.</summary>
internal sealed class HttpProvisioningTransport : IProvisioningTransport
{
    private const string JsonContentType = "application/json; charset=utf-8";

    private readonly HttpClient _http;
    private readonly Uri _endpoint;
    private readonly TimeSpan _requestTimeout;
    private readonly TimeProvider _time;
    private readonly string _userAgent;
    private readonly TlsRefusalRecorder? _tlsRefusals;

    public HttpProvisioningTransport(HttpMessageHandler handler, Uri endpoint, ProvisioningClientOptions options, TlsRefusalRecorder? tlsRefusals = null)
    {
        _tlsRefusals = tlsRefusals;
        _http = new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        _endpoint = endpoint;
        _requestTimeout = options.RequestTimeout;
        _time = options.TimeProvider;
        _userAgent = UserAgent.Build(options.ProductInfo);
    }

    /// <summary>The DPS device API's path and query below the global endpoint (dps-protocol.md §1): the registration's
    /// <c>register</c>, or one of its operations; every part escaped.</summary>
    internal static string RelativePath(DpsRequestContext context, string? operationId) =>
        operationId is null
            ? $"{Uri.EscapeDataString(context.IdScope)}/registrations/{Uri.EscapeDataString(context.RegistrationId)}/register?api-version={Uri.EscapeDataString(context.ApiVersion)}"
            : $"{Uri.EscapeDataString(context.IdScope)}/registrations/{Uri.EscapeDataString(context.RegistrationId)}/operations/{Uri.EscapeDataString(operationId)}?api-version={Uri.EscapeDataString(context.ApiVersion)}";

    public ValueTask<DpsReply> RegisterAsync(DpsRequestContext context, CancellationToken cancellationToken)
    {
        var uri = new Uri(_endpoint, RelativePath(context, operationId: null));
        return SendAsync(HttpMethod.Put, uri, context, "the registration", cancellationToken);
    }

    public ValueTask<DpsReply> GetOperationStatusAsync(DpsRequestContext context, string operationId, CancellationToken cancellationToken)
    {
        var uri = new Uri(_endpoint, RelativePath(context, operationId));
        return SendAsync(HttpMethod.Get, uri, context, "the status poll", cancellationToken);
    }

    public void Dispose() => _http.Dispose();

    private async ValueTask<DpsReply> SendAsync(HttpMethod method, Uri uri, DpsRequestContext context, string operation, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, uri);
        request.Headers.TryAddWithoutValidation("User-Agent", _userAgent);
        // Constant header values go out as given: no header objects parsed and rendered again for every request.
        request.Headers.TryAddWithoutValidation("Accept", "application/json");
        if (context.Authorization is { } authorization)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        if (method == HttpMethod.Put)
        {
            request.Content = new ByteArrayContent(context.Body);
            request.Content.Headers.TryAddWithoutValidation("Content-Type", JsonContentType);
        }

        using var deadline = Deadline.Start(_requestTimeout, _time, cancellationToken);
        CancellationToken token = deadline.Token;
        try
        {
            using HttpResponseMessage response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token).ConfigureAwait(false);
            if ((int)response.StatusCode is >= 300 and < 400)
            {
                throw Redirect(response.StatusCode, response.Headers.Location, operation);
            }

            TimeSpan? retryAfter = RetryAfterHeader.Read(response.Headers, _time.GetUtcNow());
            byte[] buffer = ArrayPool<byte>.Shared.Rent(DpsResponseReader.MaxBodyBytes + 1);
            int length = 0;
            try
            {
                length = await ReadBodyAsync(response.Content, buffer, operation, response.StatusCode, token).ConfigureAwait(false);
                // §1.4: only an unauthenticated request can be challenged; a 401 to a signed one is an error.
                return DpsResponseReader.Interpret(response.StatusCode, buffer.AsSpan(0, length), retryAfter, challengeAllowed: context.Authorization is null, operation);
            }
            finally
            {
                // The body may hold an activation blob; after a failed read, how much arrived is unknown.
                CryptographicOperations.ZeroMemory(length > 0 ? buffer.AsSpan(0, length) : buffer);
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ProvisioningException(
                $"{Capitalize(operation)} to {uri.Host}:{uri.Port} timed out after {_requestTimeout.TotalSeconds:0.###} s (no answer; connecting included).",
                isTransient: true,
                innerException: ex);
        }
        catch (HttpRequestException ex) when (ex.HttpRequestError == HttpRequestError.SecureConnectionError)
        {
            // The reason our certificate check gave, when it refused; otherwise the handshake's own words (a protocol failure).
            string why = _tlsRefusals?.Take() is { } refusal
                ? "the server certificate was refused: " + refusal
                : Innermost(ex);
            throw new ProvisioningException(
                $"{Capitalize(operation)} failed: the TLS handshake with {uri.Host}:{uri.Port} failed: {why}.", isTransient: false, innerException: ex);
        }
        catch (HttpRequestException ex)
        {
            throw new ProvisioningException($"{Capitalize(operation)} failed: {DescribeNetworkFailure(ex, uri, ex.HttpRequestError)}.", isTransient: true, innerException: ex);
        }
        catch (IOException ex)
        {
            throw new ProvisioningException(
                $"{Capitalize(operation)} failed: the connection broke while reading the answer: {DescribeNetworkFailure(ex, uri, null)}.", isTransient: true, innerException: ex);
        }
    }

    /// <summary>A 3xx: DPS never redirects, so it is not followed; the error names the host it pointed to.</summary>
    internal static ProvisioningException Redirect(HttpStatusCode status, Uri? location, string operation)
    {
        string target = location is null ? "no Location"
            : location.IsAbsoluteUri ? $"host '{location.Host}'"
            : "a relative location on the same host";
        return new ProvisioningException(
            $"The provisioning service answered {operation} with the redirect {(int)status} ({status}) to {target}. " +
            "DPS never redirects, so it was not followed and nothing was sent there; check the global endpoint (a proxy or captive portal may be answering).",
            isTransient: false,
            statusCode: status);
    }

    /// <summary>Says what the network did, where: host and port, and the socket error when there is one.</summary>
    internal static string DescribeNetworkFailure(Exception ex, Uri uri, HttpRequestError? error)
    {
        string where = $"{uri.Host}:{uri.Port}";
        for (Exception? inner = ex; inner is not null; inner = inner.InnerException)
        {
            if (inner is System.Net.Sockets.SocketException socket)
            {
                string what = socket.SocketErrorCode switch
                {
                    System.Net.Sockets.SocketError.ConnectionRefused => "connection refused (nothing listens there, or a firewall rejects it)",
                    System.Net.Sockets.SocketError.ConnectionReset => "connection reset by the peer",
                    System.Net.Sockets.SocketError.ConnectionAborted => "connection aborted",
                    System.Net.Sockets.SocketError.TimedOut => "connection timed out",
                    System.Net.Sockets.SocketError.HostNotFound or System.Net.Sockets.SocketError.NoData or System.Net.Sockets.SocketError.TryAgain => "host name not resolved",
                    System.Net.Sockets.SocketError.NetworkUnreachable or System.Net.Sockets.SocketError.HostUnreachable => "network or host unreachable",
                    _ => "socket failure",
                };
                return $"{what}, {where} (socket error {socket.SocketErrorCode}, {socket.NativeErrorCode})";
            }
        }

        string kind = error switch
        {
            HttpRequestError.ResponseEnded => "the server closed the connection before a complete answer",
            HttpRequestError.ConnectionError => "the connection failed",
            HttpRequestError.InvalidResponse => "the server's answer is not valid HTTP",
            HttpRequestError.ProxyTunnelError => "the proxy refused the tunnel",
            HttpRequestError.NameResolutionError => "host name not resolved",
            _ when ex is IOException => "the connection closed",
            _ => $"{error ?? HttpRequestError.Unknown}",
        };
        return $"{kind}, {where} ({Innermost(ex)})";
    }

    /// <summary>The innermost exception's message, without its final period.</summary>
    internal static string Innermost(Exception ex)
    {
        Exception inner = ex;
        while (inner.InnerException is not null)
        {
            inner = inner.InnerException;
        }

        return inner.Message.TrimEnd('.');
    }

    private static async ValueTask<int> ReadBodyAsync(HttpContent content, byte[] buffer, string operation, HttpStatusCode status, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength > DpsResponseReader.MaxBodyBytes)
        {
            throw ProvisioningException.Malformed(operation, $"the body is {content.Headers.ContentLength} bytes, over the {DpsResponseReader.MaxBodyBytes / 1024} KB limit", status);
        }

        Stream stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            int total = 0;
            int limit = DpsResponseReader.MaxBodyBytes + 1;
            while (total < limit)
            {
                int read = await stream.ReadAsync(buffer.AsMemory(total, limit - total), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return total;
                }

                total += read;
            }

            throw ProvisioningException.Malformed(operation, $"the body is over the {DpsResponseReader.MaxBodyBytes / 1024} KB limit", status);
        }
    }

    /// <summary>The operation's name as the start of a sentence.</summary>
    internal static string Capitalize(string text) => char.ToUpperInvariant(text[0]) + text[1..];
}
