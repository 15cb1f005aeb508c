namespace Provisioning.Emulator.Tests.Tpm;

/// <summary>
/// Recorded from one swtpm run (swtpm 0.7.1 / libtpms 0.9.2, tpm2-tools 5.4): the EK and SRK that tpm2-tools created
/// and read back, the blob <c>TpmCredentialIssuer</c> built for them with <see cref="CountingRandom"/>, and the HMAC
/// over "abc" that the TPM computed after ActivateCredential, Import and Load of that blob (tpm2-tools only). The TPM
/// accepted exactly these bytes, so any change to them is a change the TPM has not been shown to accept.
/// </summary>
internal static class SwtpmRecordedVectors
{
    /// <summary>TPM2B_PUBLIC of the EK (tpm2_createek -G rsa), size prefix included.</summary>
    public const string EndorsementKeyHex =
        "013a0001000b000300b20020837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa00060080004300100800000000000100f6d34887"
        + "cccfe45c8132f8533ba213d69f282333698bb493cb387144d8c94775115860e5b35f92f9beefb6cca579db65af2327e885a1e1b1f0fb1555a61de658a18376d9"
        + "160c50747f13b2283daf4a3639564e496fca50123bed3d4c2d2444f5d7a6fd3c853798c74fe2045cabcfe9d49f528f86aeab193c3281f043c94d0154f81ae41f"
        + "1c9c0efb64814174b603a7fdaee967a8eb944b58139b473c7602bb3524fe50fc1ff76621d88384109547212a552bdedc3ca875c78bac273ba29fc18d0c23cc05"
        + "7f802415a03762acebaecfd22f1f04f6d6aaa8d2d0ce5fb8bc8a386ca8a75a1784993a096f79f4605fb8e5eca2e35c77021096044a58e8370dc72471";

    /// <summary>TPM2B_PUBLIC of the SRK (unique = 256 zero bytes), size prefix included.</summary>
    public const string StorageRootKeyHex =
        "011a0001000b00030472000000060080004300100800000000000100d9bdb998eb79e50b0765710c4216f9d2c5468dcb05c13f965eb01ebdeae547f989df609e"
        + "1023929151d85d575e0cd68722955d8c2bc64fd7994f836445604d4a87cced8e65210e6c6f0d302f6443725c19b046c00a8e1e2307e066b8cb7afc2febbd458d"
        + "cf3ee3cb43ef609f95a46f7a0c980bb0561e93adc0b77e539b51fb97447b90f816bd34c3ba3a67c14ea523717e7c6d5ee0f5be0fb187e8bc60fd3a9fb4e23978"
        + "b4be880060c14ea0e3fd74f22bf289846e5fa83b75dcb8695b0a79606238faaecc0fc2f874fdb0966f56323160caff99864062e39d54f61288b3785609563009"
        + "84df05bb0ca158dca4a84cfc8ff7ef7ebcad42cb88ea6cb3be555ff7";

    /// <summary>The six-part blob the TPM activated.</summary>
    public const string AuthenticationKeyHex =
        "003400205fa2bf5b605ba61ff8606407bd178fe3959938b25a7a0082387aac08b91044d4f2428d68cbff6fda9d8bb3c94b7884910bc60100bb30bc3479d0300d"
        + "fecc16b6ab45cafb54dcfe6fc90770fef8726d63fdc55370ab825bdc2d15c83e8e0d608dacaa34356c354f96ab30d320b68a2e5999a27120a4f6daff2adb986c"
        + "39ee8034f29e995fe5098b78098a68201901c5e65e90c1fd1ac26916019fe2c8d2a4d54b9d0b28447ea928484d310e84cd6e248a1b0115fb38c6894ce02bacee"
        + "5bd95f4fe31399634b385b1daf5b8fd7c1953a9c29f6927a92f35f855e575fae91a74417ec023a7b700130165355f3bf624378af8109a2f13b220d60df2e3761"
        + "54c911ad0b3fdccff46781735bc907c248e56fee95f95341d71c8cd75a0530c959072a9e83d3882ec3124016b8710c0f4c256e9f455e9773008e00200f1b93ec"
        + "32986e87f5616ef5a9b928a1991d150cc1315f54e566dde7b1d752afbc3e874246b0d87d2d7e0635c54237fee26da29ba9d88228e4427a2575e3eb3403d0ba0e"
        + "ecace35e02f823e7b96aa04f2fa207818b5aca07756293731436cdabee0decc90bd13d6a90863456a80d6aa0dce7ea5712e1c6c519b59cd5bfa0f9905ddeb125"
        + "3afb2da1a33498b70100610e84a565c75daf0ea13623d7d9974c66516603b0aa56a2f1904d8a30480caf340fd765063445757047ba0522da84cadbd9dfaeb4b7"
        + "d96eae77636f99f24585f15c9b6e970fa8b71b0638389fd69dc139bcec2e1edc4dff395183bb9ab6a791ca9a465131e426fd8ecec8666953d4ac29ff0e315e24"
        + "221bfaea8e27fc8cc27166f6dde9854496c62702a029a96359afc1e0691568c0a3435ffa4d019efc6929504d15a00278353b390ea957aaf3542ede9aba0c1d02"
        + "2d50ea2fba11b6b35cf6674d4e3037f6df9ea63dfe970a9fb5257d1154efc17713e9ed984db5b43f1f3a53581e7f61cb744127178be8f6d2cdc5c718664eaaf6"
        + "f712ecfbecf2fbbc508a00300008000b0004004000000005000b002084e4bd6ca2af96412fdc62fe44d4e9709cdc31933081a62486a48a154b582d530000";

    /// <summary>TPM2_HMAC("abc") with the imported key: HMAC-SHA256 keyed with bytes 00..1f.</summary>
    public const string HmacOfAbcHex =
        "f0133729c4163dede81e21cd47839256da58171238c8a0d874397c73b14e1e47";
}
