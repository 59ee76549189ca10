"""S3, as its API reference documents it; each case also runs against moto (peer=True)."""
import hashlib

from . import case, error_code, expect_error, unique


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
