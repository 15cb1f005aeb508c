using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

using Provisioning.Device.Diagnostics;

namespace Provisioning.Device.Transport.Http;

/// <summary>
/// DPS over HTTPS (dps-protocol.md §1) with HTTP/1.1 of our own over one <see cref="SslStream"/>: the two requests of a registration
/// (PUT register, GET operation status) and the TPM challenge, without an <see cref="HttpClient"/> and its handler, pool and
/// buffers per device. Used when no proxy applies (<see cref="CanUse"/>); otherwise <see cref="HttpProvisioningTransport"/>.
/// </summary>
/// <remarks>
/// TLS is as strict as the handler's: TLS 1.2 or 1.3, the server certificate checked by <see cref="ServerCertificateTrust"/> (the
/// system's validation with the host name, and the extra roots besides), the X.509 client chain in the handshake. One idle
/// connection is kept for the next request (the poll after the registration); a request that finds it closed by the server before
/// any byte of the answer is sent again once on a new connection, as <see cref="SocketsHttpHandler"/> does. The answer is read by
/// <see cref="Http1ResponseReader"/> within fixed bounds; every exchange, connecting included, has the request timeout.
/// </remarks>
internal sealed class DirectHttpsTransport : IProvisioningTransport
{
    /// <summary>The <see cref="AppContext"/> switch that sends HTTPS through <see cref="HttpClient"/> even without a proxy.</summary>
    public const string UseHttpClientSwitch = "Provisioning.Device.Https.UseHttpClient";

    private const int MaxRequestHeadBytes = 8 * 1024;

    /// <summary>How long a kept connection may wait for the next request; older ones are closed, not used (as the handler's pool).</summary>
    internal static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(1);

    private static readonly List<SslApplicationProtocol> Http11Only = [SslApplicationProtocol.Http11];

    private static readonly X509Certificate2Collection NoRoots = [];

    private readonly Uri _endpoint;
    private readonly string _host;
    private readonly int _port;
    private readonly string _basePath;
    private readonly string _hostHeader;
    private readonly string _userAgent;
    private readonly SslClientAuthenticationOptions _tls;
    private readonly TimeSpan _requestTimeout;
    private readonly TimeProvider _time;
    private readonly X509Certificate2Collection _roots;
    private string? _lastRefusal;
    private SslStream? _idle;
    private long _idleSince;
    private RequestDeadline? _spareDeadline;
    private volatile bool _disposed;

    public DirectHttpsTransport(Uri endpoint, ProvisioningAttestation attestation, ProvisioningClientOptions options)
    {
        _endpoint = endpoint;
        _host = endpoint.IdnHost;
        _port = endpoint.Port;
        _basePath = endpoint.AbsolutePath;
        _requestTimeout = options.RequestTimeout;
        _time = options.TimeProvider;
        _userAgent = UserAgent.Build(options.ProductInfo);
        if (_userAgent.AsSpan().ContainsAnyExceptInRange(' ', '~'))
        {
            throw new ArgumentException("The product info must be printable ASCII (it goes into the User-Agent header).", nameof(options));
        }

        // Host: the name dialled in ASCII (punycode), with the port unless it is the default (RFC 9110 §7.2); an IPv6 literal
        // keeps its brackets. Written piece by piece into each request: no header bytes kept per client.
        _hostHeader = endpoint.HostNameType == UriHostNameType.IPv6 ? endpoint.Host : endpoint.IdnHost;
        _tls = new SslClientAuthenticationOptions
        {
            TargetHost = _host,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            ApplicationProtocols = Http11Only,
            CertificateRevocationCheckMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
            AllowTlsResume = true,
            ClientCertificateContext = attestation.ClientCertificateContext,
            RemoteCertificateValidationCallback = ValidateServerCertificate,
            // With extra roots the handshake builds its one chain against them (as the handler does); otherwise the system's.
            CertificateChainPolicy = ServerCertificateTrust.CreateChainPolicy(options.TrustedRootCertificates),
        };

        // The roots the check falls back to: the chain policy's own copies (shared, never changed), not another copy per client.
        _roots = _tls.CertificateChainPolicy?.CustomTrustStore ?? NoRoots;
    }

    /// <summary>Whether the direct transport serves <paramref name="endpoint"/>: no proxy configured, none from the environment
    /// for it, and the <see cref="UseHttpClientSwitch"/> not set.</summary>
    public static bool CanUse(Uri endpoint, ProvisioningClientOptions options)
    {
        if (options.Proxy is not null || (AppContext.TryGetSwitch(UseHttpClientSwitch, out bool useHttpClient) && useHttpClient))
        {
            return false;
        }

        // What SocketsHttpHandler would use without a proxy set: the environment's (HTTPS_PROXY, ALL_PROXY, NO_PROXY).
        IWebProxy system = HttpClient.DefaultProxy;
        return system.IsBypassed(endpoint) || system.GetProxy(endpoint) is null;
    }

    public ValueTask<DpsReply> RegisterAsync(DpsRequestContext context, CancellationToken cancellationToken) =>
        SendAsync(put: true, context, operationId: null, "the registration", cancellationToken);

    public ValueTask<DpsReply> GetOperationStatusAsync(DpsRequestContext context, string operationId, CancellationToken cancellationToken) =>
        SendAsync(put: false, context, operationId, "the status poll", cancellationToken);

    public void Dispose()
    {
        _disposed = true;
        Interlocked.Exchange(ref _idle, null)?.Dispose();
        Interlocked.Exchange(ref _spareDeadline, null)?.Dispose();
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<DpsReply> SendAsync(bool put, DpsRequestContext context, string? operationId, string operation, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        byte[] body = put ? context.Body : [];
        // One pooled buffer: the request goes out from it, then the answer's head comes into it (the body into the reader's own).
        // Sized to this request (escaping at most triples a character), at least 4 KB for the answer's head; a longer head moves
        // to a buffer of the full limit inside the reader. Small buffers stay plentiful in the pool under load.
        int headEstimate = 256 + _basePath.Length + _hostHeader.Length + _userAgent.Length + (context.Authorization?.Length ?? 0)
            + (3 * (context.IdScope.Length + context.RegistrationId.Length + context.ApiVersion.Length + (operationId?.Length ?? 0)));
        int headRoom = Math.Min(headEstimate, MaxRequestHeadBytes);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(4096, headRoom + body.Length));
        int used = 0;
        RequestDeadline? deadline = StartDeadline(cancellationToken);
        CancellationToken token = deadline?.Token ?? cancellationToken;
        long received = 0;
        // A span per exchange, only when someone listens (the tags are built then, never otherwise).
        using Activity? activity = ProvisioningDiagnostics.Source.HasListeners() ? StartActivity(put, context, operationId) : null;
        try
        {
            for (int attempt = 0; ; attempt++)
            {
                SslStream? connection = Interlocked.Exchange(ref _idle, null);
                if (connection is not null && _time.GetElapsedTime(Volatile.Read(ref _idleSince)) > IdleTimeout)
                {
                    // Idle too long: a NAT or the server may have dropped it without a word; a request on it could only time out.
                    await connection.DisposeAsync().ConfigureAwait(false);
                    connection = null;
                }

                bool reused = connection is not null;
                connection ??= await ConnectAsync(operation, token).ConfigureAwait(false);
                bool keep = false;
                using var reader = new Http1ResponseReader(connection, buffer);
                try
                {
                    Http1Response response;
                    try
                    {
                        // Until WriteRequest returns, the whole space it may write counts as used: a request refused part-way
                        // (too long) may already hold the SAS token.
                        used = Math.Max(used, Math.Min(buffer.Length, MaxRequestHeadBytes + body.Length));
                        int written = WriteRequest(buffer, put, context, operationId, body);
                        await connection.WriteAsync(buffer.AsMemory(0, written), token).ConfigureAwait(false);
                        // The SAS token is on its way; it stays in the buffer no longer than needed.
                        CryptographicOperations.ZeroMemory(buffer.AsSpan(0, written));
                        response = await reader.ReadAsync(DpsResponseReader.MaxBodyBytes, token).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (reused && attempt == 0 && reader.BytesReceived == 0 && ex is IOException or Http1ResponseException { Kind: Http1Failure.Ended })
                    {
                        // The server closed the idle connection as the request went out: the request was not answered, so it goes
                        // once more on a new connection (a registration and a poll are safe to repeat).
                        continue;
                    }
                    finally
                    {
                        used = Math.Max(used, reader.BufferUsed);
                        received = reader.BytesReceived;
                    }

                    keep = response.KeepAlive;
                    activity?.SetTag("http.response.status_code", response.Status);
                    return Interpret(response, reader.Body, context, operation);
                }
                finally
                {
                    if (keep && !_disposed && StampIdle() && Interlocked.CompareExchange(ref _idle, connection, null) is null)
                    {
                        if (_disposed)
                        {
                            Interlocked.Exchange(ref _idle, null)?.Dispose();
                        }
                    }
                    else
                    {
                        await connection.DisposeAsync().ConfigureAwait(false);
                    }
                }
            }
        }
        catch (Exception ex) when (TagFailure(activity, ex))
        {
            // Never taken: the filter tags the span with the failure and lets the handlers below have it.
            throw;
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            string answered = received > 0 ? $"only {received} bytes of an answer, not all of it" : "no answer";
            throw new ProvisioningException(
                $"{HttpProvisioningTransport.Capitalize(operation)} to {_endpoint.Host}:{_endpoint.Port} timed out after {_requestTimeout.TotalSeconds:0.###} s ({answered}; connecting included).",
                isTransient: true,
                innerException: ex);
        }
        catch (Http1ResponseException ex) when (ex.Kind == Http1Failure.TooLarge)
        {
            throw ProvisioningException.Malformed(operation, ex.Message);
        }
        catch (Http1ResponseException ex)
        {
            string kind = ex.Kind == Http1Failure.Ended ? "the server closed the connection before a complete answer" : "the server's answer is not valid HTTP";
            throw new ProvisioningException(
                $"{HttpProvisioningTransport.Capitalize(operation)} failed: {kind}, {_endpoint.Host}:{_endpoint.Port} ({ex.Message}).", isTransient: true, innerException: ex);
        }
        catch (IOException ex)
        {
            throw new ProvisioningException(
                $"{HttpProvisioningTransport.Capitalize(operation)} failed: the connection broke while reading the answer: {HttpProvisioningTransport.DescribeNetworkFailure(ex, _endpoint, null)}.",
                isTransient: true,
                innerException: ex);
        }
        finally
        {
            EndDeadline(deadline);
            // The request holds the SAS token, the answer's head what the server sent (the reader zeroes the body).
            CryptographicOperations.ZeroMemory(buffer.AsSpan(0, used));
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private bool StampIdle()
    {
        Volatile.Write(ref _idleSince, _time.GetTimestamp());
        return true;
    }

    /// <summary>The request's deadline, linked to the caller's token. With the system clock, the source of the previous request
    /// with the same caller token (the registration's: its register and its poll) is reset and used again, its timer and
    /// registrations with it; otherwise a source on the configured <see cref="TimeProvider"/>.</summary>
    private RequestDeadline? StartDeadline(CancellationToken cancellationToken)
    {
        if (_requestTimeout == Timeout.InfiniteTimeSpan)
        {
            return null;
        }

        if (_time != TimeProvider.System)
        {
            return new RequestDeadline(new CancellationTokenSource(_requestTimeout, _time), linkToParent: true, cancellationToken);
        }

        RequestDeadline? spare = Interlocked.Exchange(ref _spareDeadline, null);
        if (spare is not null && spare.Parent == cancellationToken && spare.Source.TryReset())
        {
            spare.Source.CancelAfter(_requestTimeout);
            return spare;
        }

        spare?.Dispose();
        var source = cancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken) : new CancellationTokenSource();
        source.CancelAfter(_requestTimeout);
        return new RequestDeadline(source, linkToParent: false, cancellationToken);
    }

    /// <summary>Keeps the deadline's source for the next request when it can be reset (it was not cancelled), else disposes it.</summary>
    private void EndDeadline(RequestDeadline? deadline)
    {
        if (deadline is null)
        {
            return;
        }

        if (_time != TimeProvider.System || _disposed || !deadline.Source.TryReset() || Interlocked.CompareExchange(ref _spareDeadline, deadline, null) is not null)
        {
            deadline.Dispose();
        }
        else if (_disposed)
        {
            Interlocked.Exchange(ref _spareDeadline, null)?.Dispose();
        }
    }

    private DpsReply Interpret(Http1Response response, ReadOnlySpan<byte> body, DpsRequestContext context, string operation)
    {
        var status = (HttpStatusCode)response.Status;
        if (response.Status is >= 300 and < 400)
        {
            throw HttpProvisioningTransport.Redirect(status, response.Location is { } text && Uri.TryCreate(text, UriKind.RelativeOrAbsolute, out Uri? location) ? location : null, operation);
        }

        TimeSpan? retryAfter = response.RetryAfterSeconds is { } seconds ? TimeSpan.FromSeconds(seconds)
            : response.RetryAfter is { } value && RetryConditionHeaderValue.TryParse(value, out RetryConditionHeaderValue? parsed)
                ? RetryAfterHeader.Read(parsed, _time.GetUtcNow())
                : null;
        // §1.4: only an unauthenticated request can be challenged; a 401 to a signed one is an error.
        return DpsResponseReader.Interpret(status, body, retryAfter, challengeAllowed: context.Authorization is null, operation);
    }

    /// <summary>Writes the request line, headers and body into <paramref name="buffer"/>; returns the length.</summary>
    private int WriteRequest(byte[] buffer, bool put, DpsRequestContext context, string? operationId, byte[] body)
    {
        var writer = new RequestWriter(buffer.AsSpan(0, Math.Min(MaxRequestHeadBytes, buffer.Length - body.Length)));
        writer.Ascii(put ? "PUT " : "GET ");
        // HttpProvisioningTransport.RelativePath's path, written piece by piece: no string for it on this path (≈ 0.5 KB a
        // registration, measured).
        writer.Ascii(_basePath);
        writer.Ascii(Uri.EscapeDataString(context.IdScope));
        writer.Ascii("/registrations/");
        writer.Ascii(Uri.EscapeDataString(context.RegistrationId));
        if (operationId is null)
        {
            writer.Ascii("/register");
        }
        else
        {
            writer.Ascii("/operations/");
            writer.Ascii(Uri.EscapeDataString(operationId));
        }

        writer.Ascii("?api-version=");
        writer.Ascii(Uri.EscapeDataString(context.ApiVersion));
        writer.Ascii(" HTTP/1.1\r\n");
        writer.Ascii("Host: ");
        writer.Ascii(_hostHeader);
        if (!_endpoint.IsDefaultPort)
        {
            writer.Ascii(":");
            writer.Number(_port);
        }

        writer.Ascii("\r\nUser-Agent: ");
        writer.Ascii(_userAgent);
        writer.Ascii("\r\nAccept: application/json\r\n");
        if (context.Authorization is { } authorization)
        {
            writer.Ascii("Authorization: ");
            writer.HeaderValue(authorization);
            writer.Ascii("\r\n");
        }

        if (put)
        {
            writer.Ascii("Content-Type: application/json; charset=utf-8\r\nContent-Length: ");
            writer.Number(body.Length);
            writer.Ascii("\r\n");
        }

        writer.Ascii("\r\n");
        int length = writer.Length;
        body.CopyTo(buffer.AsSpan(length));
        return length + body.Length;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<SslStream> ConnectAsync(string operation, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(new DnsEndPoint(_host, _port), cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new ProvisioningException(
                $"{HttpProvisioningTransport.Capitalize(operation)} failed: {HttpProvisioningTransport.DescribeNetworkFailure(ex, _endpoint, null)}.", isTransient: true, innerException: ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var tls = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        try
        {
            await tls.AuthenticateAsClientAsync(_tls, cancellationToken).ConfigureAwait(false);
            return tls;
        }
        catch (AuthenticationException ex)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            // The reason our certificate check gave, when it refused; otherwise the handshake's own words (a protocol failure).
            string why = Interlocked.Exchange(ref _lastRefusal, null) is { } refusal ? "the server certificate was refused: " + refusal : HttpProvisioningTransport.Innermost(ex);
            throw new ProvisioningException(
                $"{HttpProvisioningTransport.Capitalize(operation)} failed: the TLS handshake with {_endpoint.Host}:{_endpoint.Port} failed: {why}.", isTransient: false, innerException: ex);
        }
        catch (IOException ex)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw new ProvisioningException(
                $"{HttpProvisioningTransport.Capitalize(operation)} failed: the connection broke during the TLS handshake: {HttpProvisioningTransport.DescribeNetworkFailure(ex, _endpoint, null)}.",
                isTransient: true,
                innerException: ex);
        }
        catch
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static bool TagFailure(Activity? activity, Exception ex)
    {
        activity?.SetTag("error.type", ex.GetType().FullName);
        return false;
    }

    private Activity? StartActivity(bool put, DpsRequestContext context, string? operationId)
    {
        Activity? activity = ProvisioningDiagnostics.Source.StartActivity(ProvisioningDiagnostics.HttpActivityName, ActivityKind.Client);
        if (activity is not null)
        {
            // The same address the request line names (never a token: the SAS is a header).
            string path = _basePath + HttpProvisioningTransport.RelativePath(context, operationId);
            activity.SetTag("http.request.method", put ? "PUT" : "GET");
            activity.SetTag("url.full", $"https://{_endpoint.Authority}{path}");
            activity.SetTag("server.address", _host);
            activity.SetTag("server.port", _port);
        }

        return activity;
    }

    /// <summary>The server-certificate check (<see cref="ServerCertificateTrust"/>); why it refused is kept for the handshake's error.</summary>
    private bool ValidateServerCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        bool trusted = ServerCertificateTrust.Check(_roots, certificate, chain, errors, out string? refusal);
        if (!trusted)
        {
            Volatile.Write(ref _lastRefusal, refusal);
        }

        return trusted;
    }

    /// <summary>A request's deadline: its source, linked to <see cref="Parent"/> (the caller's token), and a linking source when
    /// the deadline runs on another <see cref="TimeProvider"/>.</summary>
    private sealed class RequestDeadline : IDisposable
    {
        private readonly CancellationTokenSource? _linked;

        public RequestDeadline(CancellationTokenSource source, bool linkToParent, CancellationToken parent)
        {
            Parent = parent;
            Source = source;
            // A source on another clock cannot be linked at creation: a second one joins it to the caller's token.
            _linked = linkToParent && parent.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(parent, source.Token) : null;
        }

        public CancellationToken Parent { get; }

        public CancellationTokenSource Source { get; }

        public CancellationToken Token => _linked?.Token ?? Source.Token;

        public void Dispose()
        {
            _linked?.Dispose();
            Source.Dispose();
        }
    }

    /// <summary>ASCII into a fixed span; a request head over it, or a control character in a value, is refused.</summary>
    private ref struct RequestWriter(Span<byte> target)
    {
        private readonly Span<byte> _target = target;

        public int Length { get; private set; }

        public void Ascii(string text)
        {
            if (!System.Text.Ascii.IsValid(text) || !Encoding.ASCII.TryGetBytes(text, _target[Length..], out int written))
            {
                throw new ProvisioningException($"The request head is over {MaxRequestHeadBytes / 1024} KB or not ASCII.", isTransient: false);
            }

            Length += written;
        }

        public void HeaderValue(string value)
        {
            if (value.AsSpan().ContainsAnyExceptInRange(' ', '~'))
            {
                // Never echoed: the value is a SAS token.
                throw new ProvisioningException("The Authorization value holds a character an HTTP header cannot carry.", isTransient: false);
            }

            Ascii(value);
        }

        public void Number(int value)
        {
            if (!value.TryFormat(_target[Length..], out int written, default, System.Globalization.CultureInfo.InvariantCulture))
            {
                throw new ProvisioningException($"The request head is over {MaxRequestHeadBytes / 1024} KB.", isTransient: false);
            }

            Length += written;
        }
    }
}
