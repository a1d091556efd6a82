using System.CommandLine;
using System.Globalization;
using Isola.Cli.Output;
using Isola.Images;

namespace Isola.Cli.Commands;

/// <summary><c>isola image pull|import|ls|inspect|rm</c>: the image store, opened from the configuration without
/// starting the host (no plugin is needed).</summary>
internal static class ImageCommands
{
    public static Command Create(CliContext context)
    {
        var group = new Command("image", "Manage OCI images (pull, import, list, inspect, remove)");
        group.Subcommands.Add(Pull(context));
        group.Subcommands.Add(Import(context));
        group.Subcommands.Add(List(context));
        group.Subcommands.Add(Inspect(context));
        group.Subcommands.Add(Remove(context));
        return group;
    }

    private static IImageStore Open(CliContext context, ParseResult parse) =>
        context.CreateHostBuilder(parse, Hosting.RecoveryMode.OnDemand).OpenImages();

    private static Command Pull(CliContext context)
    {
        var reference = new Argument<string>("reference") { Description = "Image reference (busybox, localhost:5000/app:v1, name@sha256:...)" };
        var command = new Command("pull", "Pull an image (linux/amd64) from its registry and unpack it; prints its id") { reference };
        context.SetAction(command, async (parse, ct) =>
        {
            var store = Open(context, parse);
            using var display = PullDisplay.For(context.Stderr);
            var image = await store.PullAsync(parse.GetValue(reference)!, display, ct).ConfigureAwait(false);
            display?.Finish();
            await PrintAsync(context, parse, image).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command Import(CliContext context)
    {
        var file = new Argument<string>("file") { Description = "An OCI archive (oci-layout, index.json) or a docker save archive" };
        var name = new Option<string?>("--name") { Description = "Name for images the archive names only by tag (or not at all)" };
        var command = new Command("import", "Import the images of an archive; prints their references") { file, name };
        context.SetAction(command, async (parse, ct) =>
        {
            var images = await Open(context, parse).ImportAsync(Path.GetFullPath(parse.GetValue(file)!), parse.GetValue(name), ct).ConfigureAwait(false);
            if (context.Output.IsJson(parse))
            {
                await context.Output.JsonAsync(images).ConfigureAwait(false);
                return 0;
            }

            foreach (var image in images)
            {
                await context.Stdout.WriteLineAsync(image.Reference).ConfigureAwait(false);
            }

            return 0;
        });
        return command;
    }

    private static Command List(CliContext context)
    {
        var command = new Command("ls", "List stored images");
        context.SetAction(command, async (parse, ct) =>
        {
            var images = await Open(context, parse).ListAsync(ct).ConfigureAwait(false);
            if (context.Output.IsJson(parse))
            {
                await context.Output.JsonAsync(images).ConfigureAwait(false);
                return 0;
            }

            await context.Output.TableAsync(["REFERENCE", "IMAGE ID", "SIZE", "LAYERS", "STORED"],
                images.Select(i => (IReadOnlyList<string>)[i.Reference, i.Id.Hex[..12], Size(i.Size), i.Layers.Count.ToString(CultureInfo.InvariantCulture),
                    OutputWriter.Time(i.Stored)])).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command Inspect(CliContext context)
    {
        var reference = new Argument<string>("image") { Description = "Image reference or id (12+ hex digits)" };
        var command = new Command("inspect", "Show an image as JSON") { reference };
        context.SetAction(command, async (parse, ct) =>
        {
            await context.Output.JsonAsync(await Open(context, parse).GetAsync(parse.GetValue(reference)!, ct).ConfigureAwait(false)).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command Remove(CliContext context)
    {
        var references = new Argument<string[]>("image") { Description = "Image references or ids", Arity = ArgumentArity.OneOrMore };
        var command = new Command("rm", "Remove images; layers no other image or container uses are deleted") { references };
        context.SetAction(command, async (parse, ct) =>
        {
            var store = Open(context, parse);
            foreach (var reference in parse.GetValue(references)!)
            {
                foreach (var removed in await store.RemoveAsync(reference, ct).ConfigureAwait(false))
                {
                    await context.Stdout.WriteLineAsync(removed).ConfigureAwait(false);
                }
            }

            return 0;
        });
        return command;
    }

    private static Task PrintAsync(CliContext context, ParseResult parse, Images.Store.ImageInfo image) =>
        context.Output.IsJson(parse) ? context.Output.JsonAsync(image) : context.Stdout.WriteLineAsync(image.Id.ToString());

    private static string Size(long bytes) => bytes switch
    {
        >= 1 << 30 => $"{bytes / (double)(1 << 30):0.0} GiB",
        >= 1 << 20 => $"{bytes / (double)(1 << 20):0.0} MiB",
        >= 1 << 10 => $"{bytes / 1024.0:0.0} KiB",
        _ => $"{bytes} B",
    };
}
