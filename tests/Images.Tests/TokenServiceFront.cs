using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Isola.Images.Tests;

/// <summary>
/// Token authentication as Docker Hub and most public registries do it, in front of the real registry (whose own
/// token mode needs a signing service Debian does not ship): requests to <c>/v2/</c> without the token get a 401
/// <c>Bearer realm=…,service=…,scope=…</c> challenge; the realm hands out the token only for the right basic
/// credentials and the scope the challenge named.
/// </summary>
internal sealed class TokenServiceFront(string user, string password) : DelegatingHandler(new SocketsHttpHandler())
{
    public const string Realm = "http://token.invalid/token";
    private const string Token = "tok-123";

    public int TokensIssued { get; private set; }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var uri = request.RequestUri!;
        if (uri.Host == "token.invalid")
        {
            var query = System.Web.HttpUtility.ParseQueryString(uri.Query);
            var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password));
            if (request.Headers.Authorization?.ToString() != expected)
            {
                return new HttpResponseMessage(HttpStatusCode.Unauthorized);
            }

            if (query["service"] != "isola-test" || query["scope"]?.StartsWith("repository:", StringComparison.Ordinal) != true || !query["scope"]!.EndsWith(":pull", StringComparison.Ordinal))
            {
                return new HttpResponseMessage(HttpStatusCode.BadRequest);
            }

            TokensIssued++;
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent($$"""{"token":"{{Token}}","expires_in":300}""") };
        }

        if (request.Headers.Authorization is not { Scheme: "Bearer", Parameter: Token })
        {
            var challenge = new HttpResponseMessage(HttpStatusCode.Unauthorized);
            var repository = uri.AbsolutePath.Split('/')[2];
            challenge.Headers.WwwAuthenticate.Add(new AuthenticationHeaderValue("Bearer", $"realm=\"{Realm}\",service=\"isola-test\",scope=\"repository:{repository}:pull\""));
            return challenge;
        }

        request.Headers.Authorization = null;
        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }
}
