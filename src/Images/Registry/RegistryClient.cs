using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Isola.Images.Content;
using Isola.Images.Oci;
using Isola.Images.References;

namespace Isola.Images.Registry;

/// <summary>
/// The pull side of the OCI distribution API: manifests and blobs by digest, with the registry's 401 challenge
/// answered (a bearer token from its token service, or basic credentials). Plain HTTP only for loopback registries
/// and those configured <see cref="RegistryHostOptions.Insecure"/>.
/// </summary>
internal sealed partial class RegistryClient(HttpClient http, RegistryOptions options)
{
    private readonly Dictionary<string, AuthenticationHeaderValue> _auth = new(StringComparer.Ordinal);

    public async Task<(byte[] Body, string? MediaType)> GetManifestAsync(ImageReference image, string tagOrDigest, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(image, $"manifests/{tagOrDigest}", MediaTypes.Accept, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            throw IsolaException.NotFound($"image {image.Name}:{tagOrDigest}: registry {image.Registry} has no such manifest");
        }

        await EnsureSuccessAsync(response, image, $"manifest {tagOrDigest}", cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        return (body, response.Content.Headers.ContentType?.MediaType);
    }

    /// <summary>Opens a blob's content; the caller disposes the response.</summary>
    public async Task<HttpResponseMessage> GetBlobAsync(ImageReference image, Digest digest, CancellationToken cancellationToken)
    {
        var response = await SendAsync(image, $"blobs/{digest}", [], cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                throw IsolaException.NotFound($"image {image}: registry {image.Registry} has no blob {digest}");
            }

            await EnsureSuccessAsync(response, image, $"blob {digest}", cancellationToken).ConfigureAwait(false);
            return response;
        }
    }

    private async Task<HttpResponseMessage> SendAsync(ImageReference image, string path, string[] accept, CancellationToken cancellationToken)
    {
        var uri = new Uri(BaseUri(image.Registry), $"/v2/{image.Repository}/{path}");
        var key = image.Registry + "/" + image.Repository;
        for (var attempt = 0; ; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            foreach (var type in accept)
            {
                request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
            }

            lock (_auth)
            {
                if (_auth.TryGetValue(key, out var auth))
                {
                    request.Headers.Authorization = auth;
                }
            }

            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException e)
            {
                throw IsolaException.Unavailable($"image {image}: registry {image.Registry} ({uri.GetLeftPart(UriPartial.Authority)}) is unreachable: {Reason(e)}", e);
            }
            catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw IsolaException.Unavailable($"image {image}: registry {image.Registry} ({uri.GetLeftPart(UriPartial.Authority)}) did not answer in time", e);
            }

            if (response.StatusCode != HttpStatusCode.Unauthorized)
            {
                return response;
            }

            if (attempt > 0)
            {
                // Answered the challenge and still refused: the credentials are wrong, or missing.
                response.Dispose();
                throw Refused(image, options.For(image.Registry));
            }

            using (response)
            {
                var answer = await AnswerChallengeAsync(image, response, cancellationToken).ConfigureAwait(false);
                lock (_auth)
                {
                    _auth[key] = answer;
                }
            }
        }
    }

    private async Task<AuthenticationHeaderValue> AnswerChallengeAsync(ImageReference image, HttpResponseMessage challenge, CancellationToken cancellationToken)
    {
        var host = options.For(image.Registry);
        var basic = host.Username is { } user
            ? new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + host.Password)))
            : null;
        var header = challenge.Headers.WwwAuthenticate.FirstOrDefault();
        if (header?.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase) == true)
        {
            return basic ?? throw Refused(image, host);
        }

        if (header?.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase) != true)
        {
            throw IsolaException.FailedPrecondition($"registry {image.Registry} asks for authentication Isola does not speak ('{header}')");
        }

        var parameters = ChallengeParameter().Matches(header.Parameter ?? "").ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value, StringComparer.OrdinalIgnoreCase);
        if (!parameters.TryGetValue("realm", out var realm) || !Uri.TryCreate(realm, UriKind.Absolute, out _))
        {
            throw IsolaException.FailedPrecondition($"registry {image.Registry}: its bearer challenge names no token service");
        }

        var query = new List<string>();
        if (parameters.TryGetValue("service", out var service))
        {
            query.Add("service=" + Uri.EscapeDataString(service));
        }

        query.Add("scope=" + Uri.EscapeDataString(parameters.TryGetValue("scope", out var scope) ? scope : $"repository:{image.Repository}:pull"));
        using var request = new HttpRequestMessage(HttpMethod.Get, realm + (realm.Contains('?', StringComparison.Ordinal) ? "&" : "?") + string.Join('&', query));
        request.Headers.Authorization = basic;
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw IsolaException.Unavailable($"registry {image.Registry}: its token service {realm} is unreachable: {Reason(e)}", e);
        }

        using (response)
        {
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                throw Refused(image, host);
            }

            await EnsureSuccessAsync(response, image, "token", cancellationToken).ConfigureAwait(false);
            using var doc = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
            var token = doc.RootElement.TryGetProperty("token", out var t) ? t.GetString()
                : doc.RootElement.TryGetProperty("access_token", out var a) ? a.GetString() : null;
            return new AuthenticationHeaderValue("Bearer", token ?? throw IsolaException.FailedPrecondition($"registry {image.Registry}: its token service returned no token"));
        }
    }

    private static IsolaException Refused(ImageReference image, RegistryHostOptions host) =>
        IsolaException.FailedPrecondition(host.Username is null
            ? $"registry {image.Registry} requires credentials for {image.Repository}: set Images:Registries:{image.Registry}:Username and Password"
            : $"registry {image.Registry} refused the credentials of user '{host.Username}' for {image.Repository}");

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, ImageReference image, string what, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        throw IsolaException.Unavailable($"registry {image.Registry}: {what} of {image.Repository}: HTTP {(int)response.StatusCode} {response.ReasonPhrase} {body[..Math.Min(body.Length, 200)].ReplaceLineEndings(" ")}".TrimEnd());
    }

    private Uri BaseUri(string registry)
    {
        var host = options.For(registry);
        var authority = host.Endpoint ?? (registry == ImageReference.DockerHub ? "registry-1.docker.io" : registry);
        var name = authority.StartsWith('[') ? authority[..(authority.IndexOf(']', StringComparison.Ordinal) + 1)] : authority.Split(':')[0];
        var plain = host.Insecure || name is "localhost" or "127.0.0.1" or "[::1]";
        return new Uri((plain ? "http://" : "https://") + authority);
    }

    private static string Reason(HttpRequestException e) =>
        e.InnerException is SocketException s ? s.SocketErrorCode switch
        {
            SocketError.ConnectionRefused => "connection refused",
            SocketError.HostNotFound or SocketError.TryAgain => "host not found",
            _ => s.Message,
        } : e.Message;

    [GeneratedRegex(@"(\w+)=""([^""]*)""")]
    private static partial Regex ChallengeParameter();
}
