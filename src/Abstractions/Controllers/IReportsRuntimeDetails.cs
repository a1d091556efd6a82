namespace Isola.Controllers;

/// <summary>
/// Optional: a controller that implements this tells the host what it found out about its runtime (for example the
/// Sandbox API generation a sandboxer speaks), and the host shows it in <see cref="RuntimeInfo.Details"/>
/// (<c>isola runtimes ls</c>). Values may change after the first call to the runtime (detection is lazy), so the host
/// reads them each time it builds a <see cref="RuntimeInfo"/>.
/// </summary>
public interface IReportsRuntimeDetails
{
    /// <summary>Details as display-ready key/value pairs, for example "api" = "v1 (detected)".</summary>
    IReadOnlyDictionary<string, string> Details { get; }
}
