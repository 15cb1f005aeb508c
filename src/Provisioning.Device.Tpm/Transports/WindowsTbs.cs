using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Provisioning.Device.Tpm;

/// <summary>The real tbs.dll behind <see cref="ITbs"/> (Tbs.h: Tbsi_Context_Create, Tbsip_Submit_Command, Tbsip_Cancel_Commands,
/// Tbsip_Context_Close), through source-generated P/Invoke (no runtime marshalling, AOT-clean).</summary>
[SupportedOSPlatform("windows")]
internal sealed partial class WindowsTbs : ITbs
{
    /// <summary>TBS_CONTEXT_VERSION_TWO.</summary>
    private const uint ContextVersionTwo = 2;

    /// <summary>TBS_CONTEXT_PARAMS2.includeTpm20 (bit 2 of the flags).</summary>
    private const uint IncludeTpm20 = 1u << 2;

    /// <summary>TBS_COMMAND_LOCALITY_ZERO.</summary>
    private const uint LocalityZero = 0;

    /// <summary>TBS_COMMAND_PRIORITY_NORMAL.</summary>
    private const uint PriorityNormal = 200;

    public uint CreateContext(out nint context)
    {
        var parameters = new ContextParams2 { Version = ContextVersionTwo, Flags = IncludeTpm20 };
        return TbsiContextCreate(in parameters, out context);
    }

    public uint Submit(nint context, byte[] command, byte[] response, ref uint responseLength)
        => TbsipSubmitCommand(context, LocalityZero, PriorityNormal, command, (uint)command.Length, response, ref responseLength);

    public uint Cancel(nint context) => TbsipCancelCommands(context);

    public uint Close(nint context) => TbsipContextClose(context);

    /// <summary>TBS_CONTEXT_PARAMS2: UINT32 version, then a UINT32 of flags (requestRaw, includeTpm12, includeTpm20).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct ContextParams2
    {
        public uint Version;
        public uint Flags;
    }

    [LibraryImport("tbs.dll", EntryPoint = "Tbsi_Context_Create")]
    private static partial uint TbsiContextCreate(in ContextParams2 parameters, out nint context);

    [LibraryImport("tbs.dll", EntryPoint = "Tbsip_Submit_Command")]
    private static partial uint TbsipSubmitCommand(
        nint context, uint locality, uint priority, [In] byte[] command, uint commandLength, [Out] byte[] result, ref uint resultLength);

    [LibraryImport("tbs.dll", EntryPoint = "Tbsip_Cancel_Commands")]
    private static partial uint TbsipCancelCommands(nint context);

    [LibraryImport("tbs.dll", EntryPoint = "Tbsip_Context_Close")]
    private static partial uint TbsipContextClose(nint context);
}
