using Isola.Controllers;
using Isola.Plugins;

namespace Isola.Hosting.Tests.Doubles;

/// <summary>An in-process plugin registering <see cref="FakeController"/> as controller "fake" and the fake executor;
/// with <paramref name="offer"/>, the controller offers that default runtime (as the shim plugin offers "runc").</summary>
public sealed class FakePlugin(FakeController controller, FakeTaskService? tasks = null, string name = "fake-plugin", string controllerName = "fake",
    DefaultRuntimeOffer? offer = null) : IIsolaPlugin
{
    public string Name => name;

    public List<ControllerContext> Contexts { get; } = [];

    public void Register(IPluginRegistry registry)
    {
        registry.AddController(new Factory(controllerName, controller, Contexts, offer));
        if (tasks is not null)
        {
            registry.AddExecutor(tasks);
        }
    }

    private sealed class Factory(string name, FakeController controller, List<ControllerContext> contexts, DefaultRuntimeOffer? offer)
        : ISandboxControllerFactory
    {
        public string Name => name;

        public DefaultRuntimeOffer? DefaultRuntime => offer;

        public ISandboxController Create(ControllerContext context)
        {
            if (context.Options["Reject"] is { } bad)
            {
                throw IsolaException.InvalidArgument($"{context.ConfigPath}:Reject: '{bad}' is not accepted");
            }

            contexts.Add(context);
            return controller;
        }
    }
}
