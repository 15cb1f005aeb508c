using Provisioning.Emulator.Hosting;

return await EmulatorHost.RunAsync(args).ConfigureAwait(false);
