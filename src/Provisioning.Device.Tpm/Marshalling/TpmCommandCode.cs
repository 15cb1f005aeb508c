namespace Provisioning.Device.Tpm;

/// <summary>TPM_CC values of the commands this library sends (and a software TPM answers).</summary>
/// <remarks>TPM 2.0 Library Part 2, §6.5 (TPM_CC).</remarks>
#pragma warning disable CA1028 // the wire type is UINT32
public enum TpmCommandCode : uint
#pragma warning restore CA1028
{
    /// <summary>TPM2_NV_UndefineSpace.</summary>
    NvUndefineSpace = 0x0000_0122,

    /// <summary>TPM2_EvictControl.</summary>
    EvictControl = 0x0000_0120,

    /// <summary>TPM2_NV_DefineSpace.</summary>
    NvDefineSpace = 0x0000_012A,

    /// <summary>TPM2_CreatePrimary.</summary>
    CreatePrimary = 0x0000_0131,

    /// <summary>TPM2_NV_Write.</summary>
    NvWrite = 0x0000_0137,

    /// <summary>TPM2_SequenceComplete.</summary>
    SequenceComplete = 0x0000_013E,

    /// <summary>TPM2_Startup.</summary>
    Startup = 0x0000_0144,

    /// <summary>TPM2_Shutdown.</summary>
    Shutdown = 0x0000_0145,

    /// <summary>TPM2_ActivateCredential.</summary>
    ActivateCredential = 0x0000_0147,

    /// <summary>TPM2_Duplicate.</summary>
    Duplicate = 0x0000_014B,

    /// <summary>TPM2_NV_Read.</summary>
    NvRead = 0x0000_014E,

    /// <summary>TPM2_PolicySecret.</summary>
    PolicySecret = 0x0000_0151,

    /// <summary>TPM2_Create.</summary>
    Create = 0x0000_0153,

    /// <summary>TPM2_HMAC.</summary>
    Hmac = 0x0000_0155,

    /// <summary>TPM2_Sign.</summary>
    Sign = 0x0000_015D,

    /// <summary>TPM2_Import.</summary>
    Import = 0x0000_0156,

    /// <summary>TPM2_Load.</summary>
    Load = 0x0000_0157,

    /// <summary>TPM2_HMAC_Start.</summary>
    HmacStart = 0x0000_015B,

    /// <summary>TPM2_SequenceUpdate.</summary>
    SequenceUpdate = 0x0000_015C,

    /// <summary>TPM2_ContextLoad.</summary>
    ContextLoad = 0x0000_0161,

    /// <summary>TPM2_ContextSave.</summary>
    ContextSave = 0x0000_0162,

    /// <summary>TPM2_FlushContext.</summary>
    FlushContext = 0x0000_0165,

    /// <summary>TPM2_LoadExternal.</summary>
    LoadExternal = 0x0000_0167,

    /// <summary>TPM2_MakeCredential.</summary>
    MakeCredential = 0x0000_0168,

    /// <summary>TPM2_NV_ReadPublic.</summary>
    NvReadPublic = 0x0000_0169,

    /// <summary>TPM2_PolicyCommandCode.</summary>
    PolicyCommandCode = 0x0000_016C,

    /// <summary>TPM2_ReadPublic.</summary>
    ReadPublic = 0x0000_0173,

    /// <summary>TPM2_StartAuthSession.</summary>
    StartAuthSession = 0x0000_0176,

    /// <summary>TPM2_GetCapability.</summary>
    GetCapability = 0x0000_017A,

    /// <summary>TPM2_GetRandom.</summary>
    GetRandom = 0x0000_017B,

    /// <summary>TPM2_PolicyGetDigest.</summary>
    PolicyGetDigest = 0x0000_0189,
}
