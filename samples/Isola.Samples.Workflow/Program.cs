using Isola;
using Isola.Hosting;
using Isola.Scripting;
using Isola.Samples.Workflow;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// An application embedding Isola through Microsoft.Extensions.Hosting.
//   isola-sample-workflow                     runs the hello workflow written in C# (HelloWorkflow.cs)
//   isola-sample-workflow SCRIPT.csx [ARGS]   runs a workflow script through the same host
// Configuration: appsettings.json, ISOLA__* / Isola__* environment variables, --Isola:Root=... arguments.
var scriptArgs = args.TakeWhile(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray();
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
{
    Args = args[scriptArgs.Length..],
    ContentRootPath = AppContext.BaseDirectory, // appsettings.json ships next to the program
});
builder.Services.AddIsola(builder.Configuration);
builder.Services.AddIsolaScripting(builder.Configuration);

using var app = builder.Build();
try
{
    await app.StartAsync();
}
catch (IsolaException e)
{
    Console.Error.WriteLine($"isola-sample-workflow: {e.Message}");
    return 1;
}

var stopping = app.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping; // Ctrl+C, SIGTERM
var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Isola.Samples.Workflow");
int exitCode;
try
{
    if (scriptArgs.Length > 0)
    {
        var result = await app.Services.GetRequiredService<IScriptRunner>().RunAsync(scriptArgs[0], scriptArgs[1..], stopping);
        foreach (var diagnostic in result.Diagnostics)
        {
            Console.Error.WriteLine(diagnostic);
        }

        if (result.Error is not null)
        {
            Console.Error.WriteLine(result.Error);
        }

        logger.LogInformation("script {Script}: {Outcome} (cache {Cache}), exit code {Code}", scriptArgs[0], result.Outcome, result.Cache, result.ExitCode);
        exitCode = result.ExitCode;
    }
    else
    {
        var busybox = new[] { "/bin/busybox", "/usr/bin/busybox" }.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException("busybox not found: install busybox-static");
        exitCode = await HelloWorkflow.RunAsync(app.Services.GetRequiredService<IIsola>(), busybox, logger, stopping);
    }
}
catch (IsolaException e)
{
    Console.Error.WriteLine($"isola-sample-workflow: {e.Message}");
    exitCode = 1;
}
catch (OperationCanceledException) when (stopping.IsCancellationRequested)
{
    exitCode = 130;
}

await app.StopAsync();
return exitCode;
