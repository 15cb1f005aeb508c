namespace Provisioning.Device.Tpm.Tests;

public sealed class ResponseCodeTests
{
    [Theory]
    [InlineData("format 1, session 1", 0x98Eu, "TPM_RC_AUTH_FAIL on session 1 (0x98E)")]
    [InlineData("format 1, handle 1: nothing persisted there", 0x18Bu, "TPM_RC_HANDLE on handle 1 (0x18B)")]
    [InlineData("format 1, parameter 1: HMAC over 1025 bytes on swtpm", 0x1D5u, "TPM_RC_SIZE on parameter 1 (0x1D5)")]
    [InlineData("format 1, parameter 2", 0x2DFu, "TPM_RC_INTEGRITY on parameter 2 (0x2DF)")]
    [InlineData("format 1, parameter 15 uses four bits", 0xFC4u, "TPM_RC_VALUE on parameter 15 (0xFC4)")]
    [InlineData("format 1, session 2", 0xAA2u, "TPM_RC_BAD_AUTH on session 2 (0xAA2)")]
    [InlineData("format 1 without position", 0x084u, "TPM_RC_VALUE (0x84)")]
    [InlineData("warning: lockout", 0x921u, "TPM_RC_LOCKOUT (0x921)")]
    [InlineData("warning: object memory", 0x902u, "TPM_RC_OBJECT_MEMORY (0x902)")]
    [InlineData("warning: reference to session 0", 0x918u, "TPM_RC_REFERENCE_S0 (0x918)")]
    [InlineData("format 0: initialize", 0x100u, "TPM_RC_INITIALIZE (0x100)")]
    [InlineData("format 0: NV defined", 0x14Cu, "TPM_RC_NV_DEFINED (0x14C)")]
    [InlineData("resource manager layer", 0x000B0902u, "resource manager error 0xB0902: TPM_RC_OBJECT_MEMORY (0x902)")]
    [InlineData("TPM 1.2 code", 0x0000001Eu, "TPM 1.2 response code 0x1E")]
    [InlineData("unknown warning", 0x97Eu, "unknown TPM warning 0x97E")]
    [InlineData("vendor", 0x500u, "vendor-specific TPM error 0x500")]
    public void Describe_DecodesTheCode(string name, uint code, string expectedStart)
    {
        Assert.StartsWith(expectedStart, TpmResponseCode.Describe(code), StringComparison.Ordinal);
        Assert.NotNull(name);
    }

    [Theory]
    [InlineData("session number stripped", 0x98Eu, 0x08Eu)]
    [InlineData("parameter number and P bit stripped", 0x1D5u, 0x095u)]
    [InlineData("format 0 kept", 0x921u, 0x921u)]
    [InlineData("layer stripped", 0x000B018Bu, 0x08Bu)]
    public void BaseCode_StripsPositionAndLayer(string name, uint code, uint expected)
        => Assert.True(expected == TpmResponseCode.BaseCode(code), name);

    [Fact]
    public void TpmException_CarriesTheRawCode_AndNamesTheCommand()
    {
        var error = new TpmException(0x98E, TpmCommandCode.ActivateCredential);
        Assert.Equal(0x98Eu, error.ResponseCode);
        Assert.Equal(TpmResponseCode.AuthFail, error.BaseResponseCode);
        Assert.StartsWith("TPM2_ActivateCredential failed: TPM_RC_AUTH_FAIL on session 1", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("retry", 0x922u, true)]
    [InlineData("yielded", 0x908u, true)]
    [InlineData("testing", 0x90Au, true)]
    [InlineData("lockout is not retried", 0x921u, false)]
    [InlineData("auth fail is not retried", 0x98Eu, false)]
    public void IsRetryable_OnlyForTransientWarnings(string name, uint code, bool expected)
        => Assert.True(expected == TpmResponseCode.IsRetryable(code), name);
}
