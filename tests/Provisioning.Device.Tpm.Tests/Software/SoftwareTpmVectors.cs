namespace Provisioning.Device.Tpm.Tests.Software;

/// <summary>
/// Known answers for the software TPM's cryptography, computed outside .NET (Python hmac/hashlib and the `cryptography`
/// package: AES-CFB128, RSA-OAEP-SHA256 with a label) from the formulas of TPM 2.0 Part 1 §11.4.10.2 (KDFa), §24 (credential)
/// and §23.3 (duplication); and outputs recorded from swtpm for a key whose private half is here (the <c>Swtpm…</c> vectors),
/// so the software TPM opens exactly what a real TPM's MakeCredential and Duplicate produced.
/// </summary>
internal static class SoftwareTpmVectors
{
    /// <summary>The KDFa key of every KDFa vector: bytes 00..1F.</summary>
    public static readonly byte[] KdfKey = [.. Enumerable.Range(0, 32).Select(i => (byte)i)];

    /// <summary>KDFa(key, "STORAGE", Name, empty, 128).</summary>
    public const string KdfStorage = "abbecbfb627b735426bd312d79d2c50e";

    /// <summary>KDFa(key, "INTEGRITY", empty, empty, 256).</summary>
    public const string KdfIntegrity = "bacf689f634ece301e1f1b15b072d9c87db6a69585db42b1a0cb8f73ebe2692e";

    /// <summary>KDFa(key, "TEST", 0102, 03, 512): two HMAC blocks.</summary>
    public const string KdfTwoBlocks =
        "2f6fe1a09421c44933861cccc7df4f4dfd4cb23cfef288adf94e743dbbb361b1c1c8c8e97b7a6a59104f58fc888d9bac3a9855be42cb0656cf915cdc68aebe1f";

    /// <summary>The Name the credential is bound to: 000B ‖ SHA-256("srk").</summary>
    public const string CredentialName = "000b264717e2eb106e904db5873cf97d67bb375c9b2ff8798d6de98eb759ff283ce6";

    /// <summary>The credential seed (32 × 0x11).</summary>
    public const string CredentialSeed = "1111111111111111111111111111111111111111111111111111111111111111";

    /// <summary>The credential (A0..AF).</summary>
    public const string Credential = "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf";

    /// <summary>TPM2B_ID_OBJECT contents for <see cref="Credential"/> under <see cref="CredentialSeed"/> and <see cref="CredentialName"/>.</summary>
    public const string IdObject =
        "0020811ca3194b194b1ce1caf415aa02b76516e392ab5d98b4f79ea831757af44d84d4e7ecf78ca3a3ea280bb1f2d9f884adc17f";

    /// <summary>TPMT_PUBLIC of a keyed-hash key (HMAC-SHA256, sign|userWithAuth) whose sensitive area is <see cref="DuplicateSensitive"/>.</summary>
    public const string DuplicatePublic =
        "0008000b0004004000000005000b0020c8e5ff41fdd4ca636d8fa244e9600532589f5023c7c17c3e02f7e0fa743e7fe1";

    /// <summary>The Name of <see cref="DuplicatePublic"/>.</summary>
    public const string DuplicateName = "000b08a0f76eaecb55958b5e0ea4685f1dcff4cc89c29b2ef164e19e4502be7cc248";

    /// <summary>TPMT_SENSITIVE: keyed hash, empty auth, seedValue 32 × 0x22, key 32 × 0x33.</summary>
    public const string DuplicateSensitive =
        "00080000002022222222222222222222222222222222222222222222222222222222222222220020333333333333333333333333333333333333333333333333"
        + "3333333333333333";

    /// <summary>The inner wrapper key (16 × 0x44).</summary>
    public const string DuplicateInnerKey = "44444444444444444444444444444444";

    /// <summary>The outer wrapper seed (32 × 0x55).</summary>
    public const string DuplicateSeed = "5555555555555555555555555555555555555555555555555555555555555555";

    /// <summary>TPM2B_PRIVATE contents: outer HMAC, then CFB(outer, CFB(inner, TPM2B(H(TPM2B_SENSITIVE ‖ Name)) ‖ TPM2B_SENSITIVE)).</summary>
    public const string Duplicate =
        "0020b11ff53887daf78fc45c5aecfd98400643f160624fe4f5ac6281bb7e07ef39746ba464f65c701d269f434dfe198eb9eb17ecb7f6493a97a88bd42606b524"
        + "4f41f6eaa784335af3fc945e454bfda9f575e0fb0a76ee3a5cb847aa3b9704ea679ad9f092aac9e464447f3e6525778887a2b73acd801fbb3cdc19707f7f928d"
        + "56f60f3e55cbeea8302c1603fbe5";

    /// <summary>An RSA-2048 key (PKCS#1 DER) made for this vector only.</summary>
    public const string RsaPkcs1 =
        "308204a40201000282010100aab087179e5bde2a4bec953bb01f6f93b22d9730b7da4f74c1418434b8e447da380d194eefbf99f9aea5aac64745accf0c4dfb3b"
        + "3baeb73dad8bd6667d3e42e855276b72cdeec182139524ae72048d9d797a05f88df899e23c70eb53d81c33af15381119eaadef278f0bf2fdea605ecb57d6f081"
        + "6eca6be51d97e98f2b5d55886ce46d86305b61e124e067f003291f42a961871312f7a1026f79d02ef8269f4819a5d3a582df9d49904bb71703872ca97075d58b"
        + "5d68fbf2221ff7a69785674532f0a36153062bea7ec9793d115ede2dbfcacbdfceb119e690d647824be43548bfa35a54f5d9cfe763f7be3a8d4917a5f8027929"
        + "6ec338a3b6f1f31dfa8eea8b020301000102820100097d49ed66b8edc785341071e28f44d93db92a2423bc87d9525b2d99eec386391c0fa25e109722dcce3858"
        + "9fb05bafc94d0252dacead1e73d7dfa3da4bd137d009d7e8b1d7c013d302fab230de96e136a587c2a838605f51c411750bd2c2729f23bb5bbc089f85e1b9a2ac"
        + "ee2fe70eae1862933966eaeb07b056ff3d9de810f6aec68d8e29b1c6f09ab93a3f094156a7a0c541dad8220f4c04ac3df400fa57016795678af743d93fe6a443"
        + "03992f93c257d383c41f8756b74f6b75724905423d2785cca8123b8783e093dc1877ffc62a221b59c696ea5067e9723695eeef831bc23b1425c8e3a2fa4e81a7"
        + "b3ccae79c10c7b262adf7806499e977710637af27102818100eccf38a6174006fdc286ae77e2af3d8cb319afac9ebfef11d231a4aa91df47ef6b14bf9a79c528"
        + "6aca922c2a5d220479b06f3a65b7c0edb4c47921009fcb4f6c03696c300fb4c047fb4ea0bdb0dcdc26d1014d397df74b953b254c6b1426021ea33ce3f102684b"
        + "573153e00079ac7276ad6096215f1de5bae4a7208b19b6b55102818100b8859a48986d0f785d0eb8c881b14a28639dd55b0089a926d2dfa57097282e5dce05bd"
        + "5949320747667919f3e876ddecd1c6e82e05d0167c2bad2be4ecc3507c59dd462ad77e67eae0867f3dd9d55cc6f0a67132dc7be1e7abc0ed970ee3ae7d97f7b3"
        + "ea1d2646c59020649b38ddda5f169fdfba45794960fa67ef6d36f65b1b02818100a861238f7d82aa35ef0622b1ddbdeacecb5e5d3a295aa1db9310775c4d026d"
        + "3cc06fed5922725cadaa41cb23883b32e16fe176ad72bdbc87471835ae22f0c615304bda8045faa8a9c5f7ff754177991604909f5f5cc0e4be4462ddf6594a39"
        + "419da223157037c6324641b449c23a2add55a412bbc1cd19570d540460c3b4d53102818100b213be21f178cf454a09bb2b467ee322b780cb3757fd82d1851171"
        + "888758afe6b7bdb24f48e48f41c91376887e00b98ca3a762cb87b09b029ae435486976d5662d13ef73c924a505784a54e24c282db190ee10b11538397c6bb575"
        + "962338785d9d1be0f63fcb80e18986b9915400478f1d368da427083658f150fd3059aac7a102818036ce7958222930bbb0c4fdab0c5615d605dca0a3b84695c9"
        + "49ef5e56e95e51a7e7a8469dd8e2388f53707bf76529a33e883ce92f7d92be2f9edb133cb6fcb7a12fbaaf1fef886224dbf907cbf7812a1727ccee82bfafb0f3"
        + "f84b91b5584bd88df6c7cfe05cddc56cc365bc83bcc69148df79482c3cc2aed4756af9b626d679f4";

    /// <summary><see cref="CredentialSeed"/> encrypted to <see cref="RsaPkcs1"/> with RSA-OAEP-SHA256, label "IDENTITY\0".</summary>
    public const string OaepIdentity =
        "6b1bdb314b7100ddb079d4448d80ff6a27c0a2065c94cf94a4d2fbfb2db2c4ce564fa64b37849370b16f94fdc617ca4c24c39d30f6b137198ed152774c40fbb5"
        + "4f218f32c98faeda727c581249f58b015c1c5038a42abcb20ae7149f8933821626311a140b69ba578565d589ed1072fde64f7714daf331d59329b536155a7593"
        + "07262a8d21581b2fced5bc0715678e906ec26d71a345c72136db77df1aa83091c18f4210cab53c4e2391afaa4c0ae018a1bb1f9b7e3a0d31799e37ecae734a53"
        + "00c77621544901b49d9eacdc19a77c084c33c69d08a09602948cc114b719e3c3dfed09d06da9981b5bc7f55ecb31b123a0c6e980b4061f7d72803d7bce711a2b";

    /// <summary>Recorded from swtpm 0.7.1 (tpm2_makecredential through the TPM, not <c>-T none</c>) for an EK whose key is
    /// <see cref="RsaPkcs1"/>: TPM2B_ID_OBJECT ‖ TPM2B_ENCRYPTED_SECRET for the credential "SWTPM-KAT-CRED!!" bound to
    /// <see cref="SwtpmSrkName"/>.</summary>
    public const string SwtpmCredential =
        "0034002090fa9da3907f0af4dd695c02e1a985b1232a228759ad42fe38e8dfb5d747d21312a3ed781ceedb99f93d0aee4f6ed5f959340100445ffb5d4cfca73d"
        + "e93ded5459cb982507c331c56a3b7fdaf7b8e9f3ff01e8cc1ec53b9aa6ebc2a92dbd4b8b00fb6e2d381b8ef6f45beb0c8b44e86241f623d5c3036e40bb135812"
        + "ebb0486da7ed96d30479e1b67ce4e27f686f43fcd59aeeb240730a6a16ad2fbf2433ac375376af38f40176ff13d41d927736797ad4c5040aeea784cc532c4e2d"
        + "0a780fac7dc66c296bd59e04087dd4d2e09c23828c1389ef43b5988dbe674d0cfde9583d088eeb19e30b7bb21ad4f450118ba14a6ec87ca977b29244c7fdb372"
        + "d459a7039b30b28f9b73cbc35d287e5bd082d53ecfe89acf95c8e83acef4a2bc109d6a17d0f2435512b29e8b60380b2ec2c7a311daa9dc78";

    /// <summary>The Name of the SRK-template key with <see cref="RsaPkcs1"/>'s modulus (the new parent of the swtpm duplicate).</summary>
    public const string SwtpmSrkName = "000b26d61ab107d978f7eba270cce1dfb70b1ff5225dc0319aa1115924a73195c6eb";

    /// <summary>Recorded from swtpm 0.7.1 (tpm2_duplicate -G aes): TPM2B_PRIVATE of an HMAC key (bytes 40..5F) duplicated to
    /// <see cref="SwtpmSrkName"/> with the inner key 70..7F.</summary>
    public const string SwtpmDuplicate =
        "00ae00209fbe97dcac9c60e4563a626842d69a002cf16955a7b9dfe74fa85b48a8283353b9b6377fab1e7216e640762d803f2915eb5dd3c0e6369981f4d04256"
        + "a79ed87b0c2678eaa1ce7e9eb68823c80702517cc0143263064c7de3917873465d6d597fe22858f73e9156be5819fffffe229fa5c857d4fc61c416b046a326c3"
        + "f0d39f475cc855ea619fe9cdd18050d2b35503ff22c4fd0e7711bd9f0f989f5a762742a268e19967830a25b08b511153";

    /// <summary>The TPM2B_ENCRYPTED_SECRET outer seed of <see cref="SwtpmDuplicate"/> (label DUPLICATE).</summary>
    public const string SwtpmDuplicateSeed =
        "0100899f53aa660c213fede20004670ac0f78c47ea3bca610fced3a5b085e6388ba6e11e4f17f1c21f66cf1fd1fb46b14f8a425244b6a9ded3e9b97d61752c69"
        + "d35d81376c6aaed6d52f0931b0630581267e2543659b2fa65dd738c056500b9c50b5822d748819bce834a7a65f7a3b14d3f0a17be65c5cf71b46922410bc3a3c"
        + "251a68fdac102e8c3bb721867bae86598db80f65ef218b63f168d57bec221ac79c6c47811fd928f314bd984dda482384610984b47d8014bc94cbe506bf01c876"
        + "397035421301d0c247ef8fa395c3dde99e6e30b86c3a6f1d57a7ab15ae75334d47a6c39cb4c93b240abfba84bae2239a2ae477eee04c7552b75c48619dd9b716"
        + "d5f8";

    /// <summary>The TPM2B_PUBLIC of the duplicated HMAC key (with tpm2-tools' Duplicate-command policy).</summary>
    public const string SwtpmDuplicatePublic =
        "00500008000b000400400020bef56b8c1cc84e11edd717528d2cd99356bd2bbf8f015209c3f84aeeaba8e8a20005000b00204bf5861b05747d35ed6d79e1e5c3"
        + "bd68076a63e28f1d0077fe20286c9d24e6bc";
}
