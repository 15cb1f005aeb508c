// dps-emulator: the emulator host of Provisioning.Emulator, as a .NET tool.
return await Provisioning.Emulator.Hosting.EmulatorHost.RunAsync(args).ConfigureAwait(false);
