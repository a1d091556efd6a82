namespace Isola.Hosting.Tests.Doubles;

/// <summary>Waits for what a background Wait records, polling the public listing up to a generous bound.</summary>
public static class Eventually
{
    public static async Task<SandboxInfo> InState(Hosting.IsolaHost host, string id, SandboxState state)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            var info = (await host.Sandboxes.ListAsync()).Single(s => s.Id == id);
            if (info.State == state)
            {
                return info;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"sandbox {id} stayed {info.State}, expected {state}");
            }

            await Task.Delay(20);
        }
    }
}
