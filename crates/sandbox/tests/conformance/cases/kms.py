"""KMS, as its API reference documents it; each case also runs against moto (peer=True)."""
import json

from . import case, error_code, expect_error, unique


def new_key(t, **extra):
    return t.kms.create_key(Description="conformance", **extra)["KeyMetadata"]


@case("kms: Decrypt needs the EncryptionContext the ciphertext was made with", peer=True)
def _(t):
    kms = t.kms
    key = new_key(t)["KeyId"]
    context = {"purpose": "conformance", "dept": "a"}
    blob = kms.encrypt(KeyId=key, Plaintext=b"secret", EncryptionContext=context)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"] == b"secret"
    reordered = dict(reversed(list(context.items())))
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=reordered)["Plaintext"] == b"secret"
    missing = error_code(lambda: kms.decrypt(CiphertextBlob=blob))
    wrong = error_code(lambda: kms.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "other", "dept": "a"}))
    assert missing == wrong == "InvalidCiphertextException", (missing, wrong)
    data = kms.generate_data_key(KeyId=key, KeySpec="AES_256", EncryptionContext=context)
    assert kms.decrypt(CiphertextBlob=data["CiphertextBlob"], EncryptionContext=context)["Plaintext"] == data["Plaintext"]
    sealed = kms.generate_data_key_without_plaintext(KeyId=key, KeySpec="AES_256", EncryptionContext=context)
    assert "Plaintext" not in sealed
    assert len(kms.decrypt(CiphertextBlob=sealed["CiphertextBlob"], EncryptionContext=context)["Plaintext"]) == 32
    plain = kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    extra = error_code(lambda: kms.decrypt(CiphertextBlob=plain, EncryptionContext={"a": "b"}))
    assert extra == "InvalidCiphertextException", extra
    return [missing, wrong, extra]


@case("kms: GenerateDataKey needs KeySpec or NumberOfBytes, not both and not neither", peer=True)
def _(t):
    kms = t.kms
    key = new_key(t)["KeyId"]
    neither = error_code(lambda: kms.generate_data_key(KeyId=key))
    both = error_code(lambda: kms.generate_data_key(KeyId=key, KeySpec="AES_256", NumberOfBytes=32))
    assert neither == "ValidationException" and both == "ValidationException", (neither, both)
    assert len(kms.generate_data_key(KeyId=key, NumberOfBytes=64)["Plaintext"]) == 64
    assert len(kms.generate_data_key(KeyId=key, KeySpec="AES_128")["Plaintext"]) == 16
    return [neither, both]


@case("kms: ListKeys and ListAliases honour Limit with Marker and Truncated, through boto3's paginators", peer=True)
def _(t):
    kms = t.kms
    for _ in range(3):
        new_key(t)
    page = kms.list_keys(Limit=2)
    assert len(page["Keys"]) == 2 and page["Truncated"] is True and page["NextMarker"], page
    rest = kms.list_keys(Limit=1000, Marker=page["NextMarker"])
    first_ids = {k["KeyId"] for k in page["Keys"]}
    assert not first_ids & {k["KeyId"] for k in rest["Keys"]}, "a key on two pages"
    paged = [k["KeyId"] for p in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 1})
             for k in p["Keys"]]
    assert len(paged) == len(set(paged)) and len(paged) >= 3, paged
    key = new_key(t)["KeyId"]
    names = [f"alias/{unique('a')}" for _ in range(3)]
    for name in names:
        kms.create_alias(AliasName=name, TargetKeyId=key)
    kms.delete_alias(AliasName=names[2])
    assert error_code(lambda: kms.delete_alias(AliasName=names[2])) == "NotFoundException"
    aliases = kms.list_aliases(KeyId=key, Limit=1)
    assert len(aliases["Aliases"]) == 1 and aliases["Truncated"] is True, aliases
    every = [a["AliasName"] for p in kms.get_paginator("list_aliases").paginate(KeyId=key, PaginationConfig={"PageSize": 1})
             for a in p["Aliases"]]
    assert len(every) == 2 and len(set(every)) == 2, every
    return [len(page["Keys"]), page["Truncated"], len(every)]


@case("kms: CreateAlias refuses a name outside alias/[a-zA-Z0-9/_-]+ and the reserved alias/aws/", peer=True)
def _(t):
    kms = t.kms
    key = new_key(t)["KeyId"]
    bad = error_code(lambda: kms.create_alias(AliasName="alias/bad chars!", TargetKeyId=key))
    reserved = error_code(lambda: kms.create_alias(AliasName="alias/aws/mine", TargetKeyId=key))
    assert bad == "ValidationException", bad
    assert reserved in ("NotAuthorizedException", "ValidationException"), reserved
    name = f"alias/{unique('ok')}"
    kms.create_alias(AliasName=name, TargetKeyId=key)
    again = error_code(lambda: kms.create_alias(AliasName=name, TargetKeyId=key))
    assert again == "AlreadyExistsException", again
    return [bad, again]


@case("kms: alias/aws/s3 names an AWS managed key, made on first use", peer=True)
def _(t):
    kms = t.kms
    meta = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert meta["KeyManager"] == "AWS" and meta["Enabled"] is True, meta
    again = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert again["KeyId"] == meta["KeyId"]
    aliases = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/aws/s3"]
    assert aliases and aliases[0]["TargetKeyId"] == meta["KeyId"], aliases
    return meta["KeyManager"]


@case("kms: ScheduleKeyDeletion makes a key PendingDeletion (unusable) until CancelKeyDeletion", peer=True)
def _(t):
    kms = t.kms
    key = new_key(t)["KeyId"]
    short = error_code(lambda: kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=6))
    assert short == "ValidationException", short
    scheduled = kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert scheduled["KeyState"] == "PendingDeletion" and scheduled["PendingWindowInDays"] == 7, scheduled
    meta = kms.describe_key(KeyId=key)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion" and "DeletionDate" in meta and meta["Enabled"] is False, meta
    used = error_code(lambda: kms.encrypt(KeyId=key, Plaintext=b"x"))
    assert used == "KMSInvalidStateException", used
    kms.cancel_key_deletion(KeyId=key)
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Disabled"
    kms.enable_key(KeyId=key)
    kms.encrypt(KeyId=key, Plaintext=b"x")
    return [short, scheduled["KeyState"], used]


@case("kms: TagResource, UntagResource and ListResourceTags", peer=True)
def _(t):
    kms = t.kms
    key = new_key(t, Tags=[{"TagKey": "team", "TagValue": "a"}])["KeyId"]
    kms.tag_resource(KeyId=key, Tags=[{"TagKey": "cost", "TagValue": "1"}])
    tags = sorted((x["TagKey"], x["TagValue"]) for x in kms.list_resource_tags(KeyId=key)["Tags"])
    assert tags == [("cost", "1"), ("team", "a")], tags
    kms.untag_resource(KeyId=key, TagKeys=["team"])
    tags = [x["TagKey"] for x in kms.list_resource_tags(KeyId=key)["Tags"]]
    assert tags == ["cost"], tags
    return tags


@case("kms: GetKeyPolicy gives the default policy; key rotation is off until enabled", peer=True)
def _(t):
    kms = t.kms
    key = new_key(t)["KeyId"]
    policy = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    principals = [s.get("Principal", {}).get("AWS") for s in policy["Statement"]]
    assert any(str(p).endswith(":root") for p in principals), policy
    assert kms.list_key_policies(KeyId=key)["PolicyNames"] == ["default"]
    mine = {"Version": "2012-10-17", "Statement": [{"Sid": "Mine", "Effect": "Allow", "Principal": {
        "AWS": policy["Statement"][0]["Principal"]["AWS"]}, "Action": "kms:*", "Resource": "*"}]}
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(mine))
    assert json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]) == mine
    malformed = error_code(lambda: kms.put_key_policy(KeyId=key, PolicyName="default", Policy="not json"))
    assert malformed == "MalformedPolicyDocumentException", malformed
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is False
    kms.enable_key_rotation(KeyId=key)
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is True
    kms.disable_key_rotation(KeyId=key)
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is False
    return True


@case("kms: a disabled key refuses to encrypt; Decrypt with another KeyId is IncorrectKeyException", peer=True)
def _(t):
    kms = t.kms
    a, b = new_key(t)["KeyId"], new_key(t)["KeyId"]
    blob = kms.encrypt(KeyId=a, Plaintext=b"x")["CiphertextBlob"]
    incorrect = error_code(lambda: kms.decrypt(CiphertextBlob=blob, KeyId=b))
    kms.disable_key(KeyId=a)
    disabled = error_code(lambda: kms.encrypt(KeyId=a, Plaintext=b"x"))
    assert (incorrect, disabled) == ("IncorrectKeyException", "DisabledException"), (incorrect, disabled)
    return [incorrect, disabled]


@case("kms: a key id, key ARN, alias name and alias ARN name the same key; another Region's ARN does not", peer=True)
def _(t):
    kms = t.kms
    meta = new_key(t)
    alias = f"alias/{unique('same')}"
    kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
    alias_arn = meta["Arn"].split(":key/")[0] + ":" + alias
    ids = {kms.describe_key(KeyId=k)["KeyMetadata"]["KeyId"] for k in [meta["KeyId"], meta["Arn"], alias, alias_arn]}
    assert ids == {meta["KeyId"]}, ids
    region = meta["Arn"].split(":")[3]
    foreign = meta["Arn"].replace(f":{region}:", ":ap-south-2:")
    code = error_code(lambda: kms.describe_key(KeyId=foreign))
    assert code == "NotFoundException", code
    return code


@case("kms: asymmetric and HMAC key specs are refused by name, not made symmetric", limit=True)
def _(t):
    for spec, usage in [("RSA_2048", "SIGN_VERIFY"), ("ECC_NIST_P256", "SIGN_VERIFY"), ("HMAC_256", "GENERATE_VERIFY_MAC")]:
        try:
            t.kms.create_key(KeySpec=spec, KeyUsage=usage)
        except t.kms.exceptions.ClientError as e:
            err = e.response["Error"]
            assert err["Code"] == "UnsupportedOperationException", err
            assert "Lakedrop sandbox" in err["Message"] and "SYMMETRIC_DEFAULT" in err["Message"], err
            continue
        raise AssertionError(f"CreateKey {spec} succeeded")
    bad = error_code(lambda: t.kms.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="SIGN_VERIFY"))
    assert bad == "ValidationException", bad
    return True
