"""S3, as its API reference documents it; each case also runs against moto (peer=True)."""
import hashlib

import json

from . import ALL, case, error_code, expect_error, unique


def new_bucket(t):
    name = unique("conf")
    t.s3.create_bucket(Bucket=name)
    return name


@case("s3: CreateBucket, HeadBucket, ListBuckets, GetBucketLocation, DeleteBucket", peer=True)
def _(t):
    s3 = t.s3
    name = new_bucket(t)
    s3.head_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    location = s3.get_bucket_location(Bucket=name)["LocationConstraint"]
    assert location is None, location
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    not_empty = error_code(lambda: s3.delete_bucket(Bucket=name))
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    gone = error_code(lambda: s3.head_bucket(Bucket=name))
    assert (not_empty, gone) == ("BucketNotEmpty", "404"), (not_empty, gone)
    return [location, not_empty, gone]


@case("s3: default encryption and Block Public Access are set, read and deleted", peer=True)
def _(t):
    s3 = t.s3
    name = new_bucket(t)
    rule = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration=rule)
    got = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert got["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256", got
    s3.delete_bucket_encryption(Bucket=name)
    block = {k: True for k in ["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"]}
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=block)
    assert s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"] == block
    s3.delete_public_access_block(Bucket=name)
    missing = error_code(lambda: s3.get_public_access_block(Bucket=name))
    assert missing == "NoSuchPublicAccessBlockConfiguration", missing
    return missing


@case("s3: PutObject, GetObject, HeadObject, CopyObject, DeleteObject, DeleteObjects, ListObjects(V2)", peer=True)
def _(t):
    s3 = t.s3
    name = new_bucket(t)
    body = b"hello conformance\n"
    put = s3.put_object(Bucket=name, Key="a/one.ndjson", Body=body, ChecksumAlgorithm="SHA256")
    assert put["ETag"] == '"%s"' % hashlib.md5(body).hexdigest(), put["ETag"]
    got = s3.get_object(Bucket=name, Key="a/one.ndjson", Range="bytes=0-4")
    assert got["Body"].read() == b"hello" and got["ContentRange"] == f"bytes 0-4/{len(body)}", got["ContentRange"]
    head = s3.head_object(Bucket=name, Key="a/one.ndjson", ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(body) and "ChecksumSHA256" in head, head
    s3.copy_object(Bucket=name, Key="a/two.ndjson", CopySource={"Bucket": name, "Key": "a/one.ndjson"})
    v2 = s3.list_objects_v2(Bucket=name, Prefix="a/", MaxKeys=1)
    assert v2["KeyCount"] == 1 and v2["IsTruncated"] is True, v2
    rest = s3.list_objects_v2(Bucket=name, Prefix="a/", ContinuationToken=v2["NextContinuationToken"])
    assert [o["Key"] for o in rest["Contents"]] == ["a/two.ndjson"], rest
    v1 = s3.list_objects(Bucket=name, Delimiter="/")
    assert [p["Prefix"] for p in v1["CommonPrefixes"]] == ["a/"], v1
    s3.delete_object(Bucket=name, Key="a/one.ndjson")
    deleted = s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "a/two.ndjson"}, {"Key": "never"}]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["a/two.ndjson", "never"], deleted
    missing = error_code(lambda: s3.get_object(Bucket=name, Key="a/two.ndjson"))
    assert missing == "NoSuchKey", missing
    return [v2["KeyCount"], missing]


@case("s3: CreateMultipartUpload, UploadPart, ListParts, ListMultipartUploads, Complete and Abort", peer=True)
def _(t):
    s3 = t.s3
    name = new_bucket(t)
    part = b"p" * (5 * 1024 * 1024)
    upload = s3.create_multipart_upload(Bucket=name, Key="big", ChecksumAlgorithm="SHA256")["UploadId"]
    e1 = s3.upload_part(Bucket=name, Key="big", UploadId=upload, PartNumber=1, Body=part, ChecksumAlgorithm="SHA256")
    e2 = s3.upload_part(Bucket=name, Key="big", UploadId=upload, PartNumber=2, Body=b"tail", ChecksumAlgorithm="SHA256")
    parts = s3.list_parts(Bucket=name, Key="big", UploadId=upload)["Parts"]
    assert [p["PartNumber"] for p in parts] == [1, 2], parts
    uploads = s3.list_multipart_uploads(Bucket=name)["Uploads"]
    assert [u["UploadId"] for u in uploads] == [upload], uploads
    done = s3.complete_multipart_upload(Bucket=name, Key="big", UploadId=upload, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": e1["ETag"], "ChecksumSHA256": e1["ChecksumSHA256"]},
        {"PartNumber": 2, "ETag": e2["ETag"], "ChecksumSHA256": e2["ChecksumSHA256"]}]})
    assert done["ETag"].endswith('-2"'), done["ETag"]
    assert s3.head_object(Bucket=name, Key="big")["ContentLength"] == len(part) + 4
    other = s3.create_multipart_upload(Bucket=name, Key="dropped")["UploadId"]
    s3.abort_multipart_upload(Bucket=name, Key="dropped", UploadId=other)
    gone = error_code(lambda: s3.list_parts(Bucket=name, Key="dropped", UploadId=other))
    assert gone == "NoSuchUpload", gone
    return [len(parts), gone]


@case("s3: CreateBucket again in us-east-1 succeeds; LocationConstraint us-east-1 is InvalidLocationConstraint", peer=True)
def _(t):
    s3 = t.s3
    name = new_bucket(t)
    s3.create_bucket(Bucket=name)
    invalid = error_code(lambda: s3.create_bucket(Bucket=unique("conf"), CreateBucketConfiguration={
        "LocationConstraint": "us-east-1"}))
    assert invalid == "InvalidLocationConstraint", invalid
    other = unique("conf")
    s3.create_bucket(Bucket=other, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    again = error_code(lambda: s3.create_bucket(Bucket=other, CreateBucketConfiguration={
        "LocationConstraint": "eu-west-1"}))
    assert again == "BucketAlreadyOwnedByYou", again
    return [invalid, again]


def policy(name, effect, action, principal="*", resource=None):
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "S", "Effect": effect, "Principal": principal, "Action": action,
        "Resource": resource or f"arn:aws:s3:::{name}/*"}]})


@case("s3: a bucket policy is kept, read and deleted, and its Deny is enforced", peer=True)
def _(t):
    s3 = t.s3
    name = new_bucket(t)
    none = error_code(lambda: s3.get_bucket_policy(Bucket=name))
    assert none == "NoSuchBucketPolicy", none
    s3.put_object(Bucket=name, Key="secret", Body=b"x")
    deny = policy(name, "Deny", "s3:GetObject")
    s3.put_bucket_policy(Bucket=name, Policy=deny)
    assert json.loads(s3.get_bucket_policy(Bucket=name)["Policy"]) == json.loads(deny)
    denied = error_code(lambda: s3.get_object(Bucket=name, Key="secret"))
    assert denied == "AccessDenied", denied
    s3.put_object(Bucket=name, Key="other", Body=b"y")
    status = s3.get_bucket_policy_status(Bucket=name)["PolicyStatus"]["IsPublic"]
    assert status is False, status
    s3.delete_bucket_policy(Bucket=name)
    assert s3.get_object(Bucket=name, Key="secret")["Body"].read() == b"x"
    malformed = error_code(lambda: s3.put_bucket_policy(Bucket=name, Policy="{not json"))
    assert malformed == "MalformedPolicy", malformed
    return [none, denied, status, malformed]


@case("s3: with BlockPublicPolicy a public policy is refused; without it the bucket is public", peer=True)
def _(t):
    s3 = t.s3
    name = new_bucket(t)
    public = policy(name, "Allow", "s3:GetObject")
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    refused = error_code(lambda: s3.put_bucket_policy(Bucket=name, Policy=public))
    assert refused == "AccessDenied", refused
    s3.delete_public_access_block(Bucket=name)
    s3.put_bucket_policy(Bucket=name, Policy=public)
    status = s3.get_bucket_policy_status(Bucket=name)["PolicyStatus"]["IsPublic"]
    assert status is True, status
    return [refused, status]


@case("s3: GetBucketAcl names the owner; ACLs other than private are refused under BucketOwnerEnforced", peer=True)
def _(t):
    s3 = t.s3
    name = new_bucket(t)
    acl = s3.get_bucket_acl(Bucket=name)
    grants = [(g["Grantee"].get("ID") == acl["Owner"]["ID"], g["Permission"]) for g in acl["Grants"]]
    assert grants == [(True, "FULL_CONTROL")], acl
    controls = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"]
    assert controls == [{"ObjectOwnership": "BucketOwnerEnforced"}], controls
    refused = error_code(lambda: s3.put_bucket_acl(Bucket=name, ACL="public-read"))
    assert refused == "AccessControlListNotSupported", refused
    s3.put_bucket_acl(Bucket=name, ACL="private")
    s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    rules = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "ObjectWriter"}], rules
    s3.delete_bucket_ownership_controls(Bucket=name)
    gone = error_code(lambda: s3.get_bucket_ownership_controls(Bucket=name))
    assert gone == "OwnershipControlsNotFoundError", gone
    return [refused, gone]


@case("s3: versioning is reported unset, then Suspended; Enabled is refused by name")
def _(t):
    s3 = t.s3
    name = new_bucket(t)
    assert "Status" not in s3.get_bucket_versioning(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Suspended"
    try:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    except Exception as e:  # botocore's ClientError
        err = e.response["Error"]
        assert err["Code"] == "NotImplemented" and "Lakedrop sandbox" in err["Message"], err
        return err["Code"]
    raise AssertionError("versioning was enabled")


_versioning_case = ALL[-1]
ALL[-1] = _versioning_case._replace(limit=True)


@case("s3: bucket tagging, lifecycle, CORS and logging are kept, read and deleted", peer=True)
def _(t):
    s3 = t.s3
    name = new_bucket(t)
    codes = [error_code(lambda: s3.get_bucket_tagging(Bucket=name)),
             error_code(lambda: s3.get_bucket_lifecycle_configuration(Bucket=name)),
             error_code(lambda: s3.get_bucket_cors(Bucket=name))]
    assert codes == ["NoSuchTagSet", "NoSuchLifecycleConfiguration", "NoSuchCORSConfiguration"], codes
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "team", "Value": "a"}]})
    assert s3.get_bucket_tagging(Bucket=name)["TagSet"] == [{"Key": "team", "Value": "a"}]
    rule = {"ID": "expire", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 7}}
    s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [rule]})
    got = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    assert got[0]["ID"] == "expire" and got[0]["Expiration"]["Days"] == 7, got
    cors = {"AllowedMethods": ["GET"], "AllowedOrigins": ["https://example.org"]}
    s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [cors]})
    got = s3.get_bucket_cors(Bucket=name)["CORSRules"][0]
    assert got["AllowedMethods"] == ["GET"] and got["AllowedOrigins"] == ["https://example.org"], got
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=name)
    target = new_bucket(t)
    s3.put_bucket_logging(Bucket=name, BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target,
                                                                               "TargetPrefix": "logs/"}})
    assert s3.get_bucket_logging(Bucket=name)["LoggingEnabled"]["TargetBucket"] == target
    s3.delete_bucket_tagging(Bucket=name)
    s3.delete_bucket_lifecycle(Bucket=name)
    s3.delete_bucket_cors(Bucket=name)
    after = [error_code(lambda: s3.get_bucket_tagging(Bucket=name)),
             error_code(lambda: s3.get_bucket_lifecycle_configuration(Bucket=name)),
             error_code(lambda: s3.get_bucket_cors(Bucket=name))]
    assert after == codes, after
    return codes


@case("s3: object tags from the Tagging header, PutObjectTagging and DeleteObjectTagging; GetObject's TagCount", peer=True)
def _(t):
    s3 = t.s3
    name = new_bucket(t)
    s3.put_object(Bucket=name, Key="k", Body=b"x", Tagging="a=1&b=two")
    tags = sorted((x["Key"], x["Value"]) for x in s3.get_object_tagging(Bucket=name, Key="k")["TagSet"])
    assert tags == [("a", "1"), ("b", "two")], tags
    assert s3.get_object(Bucket=name, Key="k")["TagCount"] == 2
    s3.put_object_tagging(Bucket=name, Key="k", Tagging={"TagSet": [{"Key": "c", "Value": "3"}]})
    assert s3.get_object_tagging(Bucket=name, Key="k")["TagSet"] == [{"Key": "c", "Value": "3"}]
    s3.delete_object_tagging(Bucket=name, Key="k")
    assert s3.get_object_tagging(Bucket=name, Key="k")["TagSet"] == []
    missing = error_code(lambda: s3.get_object_tagging(Bucket=name, Key="nothing"))
    assert missing == "NoSuchKey", missing
    return [tags, missing]


@case("s3: HeadObject by part number, GetObjectAttributes, and UploadPartCopy", peer=True)
def _(t):
    s3 = t.s3
    name = new_bucket(t)
    part = b"a" * (5 * 1024 * 1024)
    source = part + b"tail"
    s3.put_object(Bucket=name, Key="source", Body=source)
    upload = s3.create_multipart_upload(Bucket=name, Key="copied")["UploadId"]
    p1 = s3.upload_part_copy(Bucket=name, Key="copied", UploadId=upload, PartNumber=1,
                             CopySource={"Bucket": name, "Key": "source"}, CopySourceRange=f"bytes=0-{len(part) - 1}")
    p2 = s3.upload_part_copy(Bucket=name, Key="copied", UploadId=upload, PartNumber=2,
                             CopySource={"Bucket": name, "Key": "source"},
                             CopySourceRange=f"bytes={len(part)}-{len(source) - 1}")
    s3.complete_multipart_upload(Bucket=name, Key="copied", UploadId=upload, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]}, {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket=name, Key="copied")["Body"].read() == source
    head = s3.head_object(Bucket=name, Key="copied", PartNumber=2)
    assert head["ContentLength"] == 4 and head["PartsCount"] == 2, head
    attrs = s3.get_object_attributes(Bucket=name, Key="copied",
                                     ObjectAttributes=["ETag", "ObjectSize", "ObjectParts", "StorageClass"])
    assert attrs["ObjectSize"] == len(source) and attrs["ObjectParts"]["TotalPartsCount"] == 2, attrs
    assert attrs["StorageClass"] == "STANDARD"
    return [head["ContentLength"], attrs["ObjectSize"]]


@case("s3: an unsatisfiable range is 416 InvalidRange", peer=True)
def _(t):
    s3 = t.s3
    name = new_bucket(t)
    s3.put_object(Bucket=name, Key="k", Body=b"0123456789")
    code = error_code(lambda: s3.get_object(Bucket=name, Key="k", Range="bytes=20-30"))
    assert code == "InvalidRange", code
    return code


@case("s3: a presigned URL valid for more than 7 days is refused", peer=True)
def _(t):
    import urllib.request
    name = new_bucket(t)
    t.s3.put_object(Bucket=name, Key="k", Body=b"x")
    # SigV4 presigning (botocore presigns with SigV2 unless told), whose URLs live at most 7 days.
    v4 = t.client("s3", signature_version="s3v4")
    ok = v4.generate_presigned_url("get_object", Params={"Bucket": name, "Key": "k"}, ExpiresIn=3600)
    with urllib.request.urlopen(ok, timeout=10) as r:
        assert r.read() == b"x"
    long = v4.generate_presigned_url("get_object", Params={"Bucket": name, "Key": "k"}, ExpiresIn=604801)
    try:
        urllib.request.urlopen(long, timeout=10)
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        assert e.code == 400 and "AuthorizationQueryParametersError" in body, (e.code, body)
        return e.code
    raise AssertionError("a presigned URL valid for 7 days and a second was honoured")


@case("s3: an access key S3 does not know is InvalidAccessKeyId", peer=True)
def _(t):
    import boto3
    stranger = boto3.client("s3", endpoint_url=t.endpoint, region_name=t.region, aws_access_key_id="AKIAUNKNOWNKEY000000",
                            aws_secret_access_key="x" * 40)
    code = error_code(lambda: stranger.list_buckets())
    assert code == "InvalidAccessKeyId", code
    return code


@case("s3: SSE-KMS without a key id reports the AWS managed aws/s3 key by its ARN", peer=True)
def _(t):
    s3 = t.s3
    name = new_bucket(t)
    put = s3.put_object(Bucket=name, Key="k", Body=b"x", ServerSideEncryption="aws:kms")
    arn = t.kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["Arn"]
    assert put["SSEKMSKeyId"] == arn and ":key/" in arn, (put["SSEKMSKeyId"], arn)
    assert s3.head_object(Bucket=name, Key="k")["SSEKMSKeyId"] == arn
    return ":key/" in put["SSEKMSKeyId"]


@case("s3: a single PUT over 5 GiB is EntityTooLarge, said before the body is read")
def _(t):
    import http.client
    import urllib.parse
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    name = new_bucket(t)
    url = f"{t.endpoint}/{name}/huge"
    size = 5 * 1024 ** 3 + 1
    request = AWSRequest(method="PUT", url=url, headers={"Content-Length": str(size),
                                                         "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    S3SigV4Auth(t.session.get_credentials(), "s3", t.region).add_auth(request)
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.putrequest("PUT", parts.path, skip_accept_encoding=True, skip_host=True)
    headers = dict(request.headers)
    headers.setdefault("Host", parts.netloc)
    for k, v in headers.items():
        conn.putheader(k, v)
    conn.endheaders()
    response = conn.getresponse()
    body = response.read().decode()
    assert response.status == 400 and "EntityTooLarge" in body, (response.status, body)
    return response.status


@case("s3: a request whose SignedHeaders leave out host is refused")
def _(t):
    import urllib.request
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    name = new_bucket(t)
    url = f"{t.endpoint}/{name}/k"
    request = AWSRequest(method="PUT", url=url, data=b"x")
    S3SigV4Auth(t.session.get_credentials(), "s3", t.region).add_auth(request)
    headers = dict(request.headers)
    auth = headers["Authorization"]
    signed = auth.split("SignedHeaders=")[1].split(",")[0]
    headers["Authorization"] = auth.replace(signed, ";".join(h for h in signed.split(";") if h != "host"))
    try:
        urllib.request.urlopen(urllib.request.Request(url, data=b"x", method="PUT", headers=headers), timeout=10)
    except urllib.error.HTTPError as e:
        assert e.code in (400, 403), e.code
        return e.code
    raise AssertionError("a PUT without host signed was accepted")


@case("s3: a GET or HEAD asking for several ranges gets the whole object", peer=True)
def _(t):
    s3 = t.s3
    name = new_bucket(t)
    s3.put_object(Bucket=name, Key="k", Body=b"0123456789")
    whole = s3.get_object(Bucket=name, Key="k", Range="bytes=0-1,4-5")
    body = whole["Body"].read()
    assert body == b"0123456789" and "ContentRange" not in whole, (body, whole.get("ContentRange"))
    head = s3.head_object(Bucket=name, Key="k", Range="bytes=0-1,4-5")
    assert head["ContentLength"] == 10, head["ContentLength"]
    return len(body)


@case("s3: an operation the sandbox does not implement is refused naming the sandbox and what it implements")
def _(t):
    name = new_bucket(t)
    try:
        t.s3.get_bucket_website(Bucket=name)
    except Exception as e:  # botocore's ClientError
        err = e.response["Error"]
        assert err["Code"] == "NotImplemented", err
        assert "Lakedrop sandbox" in err["Message"] and "PutObject" in err["Message"], err
        return err["Code"]
    raise AssertionError("GetBucketWebsite succeeded")


@case("s3: ListObjectsV2 through boto3's paginator visits every key once", peer=True)
def _(t):
    name = new_bucket(t)
    keys = [f"p/{i:03d}" for i in range(7)]
    for k in keys:
        t.s3.put_object(Bucket=name, Key=k, Body=b"x")
    seen = [o["Key"] for page in t.s3.get_paginator("list_objects_v2").paginate(
        Bucket=name, PaginationConfig={"PageSize": 2}) for o in page.get("Contents", [])]
    assert seen == keys, seen
    return seen
