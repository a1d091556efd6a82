using Isola.Cli;

return await IsolaCli.RunAsync(args, Console.Out, Console.Error).ConfigureAwait(false);
