"""HealthLake, as its API reference, service model and waiter model describe it. moto has no HealthLake, so these
cases run on the sandbox only."""
import json
import time
import unicodedata

from . import case, error_code, eventually, expect_error, unique

FAST = {"Delay": 1, "MaxAttempts": 60}
PATIENT = '{"resourceType":"Patient","id":"%s","name":[{"family":"Case"}]}'


def fits_message(text):
    """The model's Message pattern, [\\p{L}\\p{Z}\\p{N}_.:/=+\\-%@]*, 1 to 2,048 characters."""
    ok = all(unicodedata.category(c)[0] in "LZN" or c in "_.:/=+-%@" for c in text)
    return ok and 1 <= len(text) <= 2048


def any_store_role(t):
    """A role HealthLake may assume for any data store of the account (the seed's is for its own store)."""
    iam = t.client("iam")
    name = unique("hl-role")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "healthlake.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def new_store(t, **extra):
    hl = t.healthlake
    created = hl.create_fhir_datastore(DatastoreTypeVersion="R4", DatastoreName=unique("store"), **extra)
    assert created["DatastoreStatus"] == "CREATING", created
    hl.get_waiter("fhir_datastore_active").wait(DatastoreId=created["DatastoreId"], WaiterConfig=FAST)
    return created["DatastoreId"]


def output(t, prefix="out/"):
    return {"S3Configuration": {"S3Uri": f"s3://{t.seed['output_bucket']}/{prefix}", "KmsKeyId": t.seed["kms_key_arn"]}}


def put_lines(t, prefix, lines):
    key = f"{prefix}/part.ndjson"
    t.s3.put_object(Bucket=t.seed["input_bucket"], Key=key, Body="\n".join(lines).encode())
    return f"s3://{t.seed['input_bucket']}/{prefix}/"


def start_import(t, store, role, uri, **extra):
    return t.healthlake.start_fhir_import_job(
        DatastoreId=store, DataAccessRoleArn=role, InputDataConfig={"S3Uri": uri},
        JobOutputDataConfig=output(t), **extra)["JobId"]


def import_and_wait(t, store, role, lines):
    uri = put_lines(t, unique("in"), lines)
    job = start_import(t, store, role, uri)
    t.healthlake.get_waiter("fhir_import_job_completed").wait(DatastoreId=store, JobId=job, WaiterConfig=FAST)
    return job


def fhir(t, store, path):
    return t.signed("GET", fhir_url(t, store, path))


@case("healthlake: a job failed on an input prefix with ( ) is described and listed, its Message within the model")
def _(t):
    hl, store = t.healthlake, t.seed["datastore_id"]
    job = start_import(t, store, t.seed["role_arn"], f"s3://{t.seed['input_bucket']}/nothing (here)/")
    assert error_code(lambda: hl.get_waiter("fhir_import_job_completed").wait(
        DatastoreId=store, JobId=job, WaiterConfig=FAST)) is not None, "the waiter fails on FAILED"
    props = hl.describe_fhir_import_job(DatastoreId=store, JobId=job)["ImportJobProperties"]
    assert props["JobStatus"] == "FAILED", props
    assert fits_message(props["Message"]), props["Message"]
    assert "nothing %28here%29/" in props["Message"], props["Message"]
    listed = hl.list_fhir_import_jobs(DatastoreId=store, MaxResults=500)["ImportJobPropertiesList"]
    assert job in [j["JobId"] for j in listed]
    return props["JobStatus"]


@case("healthlake: the FHIRDatastoreActive and FHIRDatastoreDeleted waiters end; a DELETED store is described and listed")
def _(t):
    hl = t.healthlake
    store = new_store(t)
    assert hl.delete_fhir_datastore(DatastoreId=store)["DatastoreStatus"] == "DELETING"
    hl.get_waiter("fhir_datastore_deleted").wait(DatastoreId=store, WaiterConfig=FAST)
    props = hl.describe_fhir_datastore(DatastoreId=store)["DatastoreProperties"]
    assert props["DatastoreStatus"] == "DELETED", props
    listed = hl.list_fhir_datastores(Filter={"DatastoreStatus": "DELETED"})["DatastorePropertiesList"]
    assert store in [d["DatastoreId"] for d in listed]
    code = expect_error(lambda: hl.get_waiter("fhir_datastore_active").wait(DatastoreId=store, WaiterConfig=FAST),
                        "WaiterError")
    expect_error(lambda: hl.delete_fhir_datastore(DatastoreId=store), "ResourceNotFoundException")
    return code


@case("healthlake: the FHIRImportJobCompleted and FHIRExportJobCompleted waiters end")
def _(t):
    hl, store, role = t.healthlake, t.seed["datastore_id"], t.seed["role_arn"]
    job = import_and_wait(t, store, role, [PATIENT % unique("p")])
    assert hl.describe_fhir_import_job(DatastoreId=store, JobId=job)["ImportJobProperties"]["JobStatus"] == "COMPLETED"
    export = hl.start_fhir_export_job(DatastoreId=store, DataAccessRoleArn=role, OutputDataConfig=output(t, "exp/"))
    hl.get_waiter("fhir_export_job_completed").wait(DatastoreId=store, JobId=export["JobId"], WaiterConfig=FAST)
    status = hl.describe_fhir_export_job(DatastoreId=store, JobId=export["JobId"])["ExportJobProperties"]["JobStatus"]
    assert status == "COMPLETED", status
    listed = hl.list_fhir_export_jobs(DatastoreId=store, MaxResults=500)["ExportJobPropertiesList"]
    assert export["JobId"] in [j["JobId"] for j in listed]
    return status


@case("healthlake: tags on create, TagResource, UntagResource, ListTagsForResource; reserved and unknown refused")
def _(t):
    hl = t.healthlake
    store = new_store(t, Tags=[{"Key": "team", "Value": "analytics"}])
    arn = hl.describe_fhir_datastore(DatastoreId=store)["DatastoreProperties"]["DatastoreArn"]
    assert hl.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "analytics"}]
    hl.tag_resource(ResourceARN=arn, Tags=[{"Key": "cost", "Value": "42"}, {"Key": "team", "Value": "data"}])
    tags = hl.list_tags_for_resource(ResourceARN=arn)["Tags"]
    assert tags == [{"Key": "cost", "Value": "42"}, {"Key": "team", "Value": "data"}], tags
    hl.untag_resource(ResourceARN=arn, TagKeys=["cost"])
    assert hl.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "data"}]
    expect_error(lambda: hl.tag_resource(ResourceARN=arn, Tags=[{"Key": "aws:x", "Value": "y"}]), "ValidationException")
    other = arn[:-32] + "0" * 32
    expect_error(lambda: hl.list_tags_for_resource(ResourceARN=other), "ResourceNotFoundException")
    return len(tags)


@case("healthlake: UpdateFHIRDatastore renames (UPDATING, then ACTIVE); a store in transition is a ConflictException")
def _(t):
    hl = t.healthlake
    created = hl.create_fhir_datastore(DatastoreTypeVersion="R4", DatastoreName=unique("store"))
    store = created["DatastoreId"]
    expect_error(lambda: hl.update_fhir_datastore(DatastoreId=store, DatastoreName="x"), "ConflictException")
    hl.get_waiter("fhir_datastore_active").wait(DatastoreId=store, WaiterConfig=FAST)
    props = hl.update_fhir_datastore(DatastoreId=store, DatastoreName="renamed")["DatastoreProperties"]
    assert props["DatastoreName"] == "renamed" and props["DatastoreStatus"] == "UPDATING", props
    hl.get_waiter("fhir_datastore_active").wait(DatastoreId=store, WaiterConfig=FAST)
    assert hl.describe_fhir_datastore(DatastoreId=store)["DatastoreProperties"]["DatastoreName"] == "renamed"
    expect_error(lambda: hl.update_fhir_datastore(DatastoreId="0" * 32), "ResourceNotFoundException")
    return props["DatastoreStatus"]


@case("healthlake: SseConfiguration with a customer managed key is kept; a missing key or a stray KmsKeyId refused")
def _(t):
    hl = t.healthlake
    key = t.kms.create_key(Description="store key")["KeyMetadata"]
    store = new_store(t, SseConfiguration={"KmsEncryptionConfig": {"CmkType": "CUSTOMER_MANAGED_KMS_KEY",
                                                                   "KmsKeyId": key["KeyId"]}})
    sse = hl.describe_fhir_datastore(DatastoreId=store)["DatastoreProperties"]["SseConfiguration"]
    assert sse == {"KmsEncryptionConfig": {"CmkType": "CUSTOMER_MANAGED_KMS_KEY", "KmsKeyId": key["Arn"]}}, sse
    missing = {"KmsEncryptionConfig": {"CmkType": "CUSTOMER_MANAGED_KMS_KEY",
                                       "KmsKeyId": "00000000-0000-0000-0000-000000000000"}}
    expect_error(lambda: hl.create_fhir_datastore(DatastoreTypeVersion="R4", SseConfiguration=missing),
                 "ValidationException")
    stray = {"KmsEncryptionConfig": {"CmkType": "AWS_OWNED_KMS_KEY", "KmsKeyId": key["KeyId"]}}
    expect_error(lambda: hl.create_fhir_datastore(DatastoreTypeVersion="R4", SseConfiguration=stray),
                 "ValidationException")
    return sse["KmsEncryptionConfig"]["CmkType"]


@case("healthlake: IdentityProviderConfiguration for SMART on FHIR is checked and kept")
def _(t):
    hl = t.healthlake
    no_lambda = {"AuthorizationStrategy": "SMART_ON_FHIR_V1", "Metadata": "{}"}
    expect_error(lambda: hl.create_fhir_datastore(DatastoreTypeVersion="R4", IdentityProviderConfiguration=no_lambda),
                 "ValidationException")
    metadata = json.dumps({"issuer": "https://idp.example", "authorization_endpoint": "https://idp.example/auth",
                           "token_endpoint": "https://idp.example/token", "capabilities": ["launch-standalone"],
                           "grant_types_supported": ["client_credentials"],
                           "code_challenge_methods_supported": ["S256"]})
    idp = {"AuthorizationStrategy": "SMART_ON_FHIR", "FineGrainedAuthorizationEnabled": True, "Metadata": metadata,
           "IdpLambdaArn": f"arn:aws:lambda:{t.region}:000000000000:function:decode-token"}
    store = new_store(t, IdentityProviderConfiguration=idp)
    kept = hl.describe_fhir_datastore(DatastoreId=store)["DatastoreProperties"]["IdentityProviderConfiguration"]
    assert kept == idp, kept
    expect_error(lambda: hl.create_fhir_datastore(
        DatastoreTypeVersion="R4",
        IdentityProviderConfiguration={"AuthorizationStrategy": "AWS_AUTH", "FineGrainedAuthorizationEnabled": True}),
        "ValidationException")
    return kept["AuthorizationStrategy"]


@case("healthlake: a SYNTHEA preload loads a Synthea record that the FHIR API serves")
def _(t):
    store = new_store(t, PreloadDataConfig={"PreloadDataType": "SYNTHEA"})
    props = t.healthlake.describe_fhir_datastore(DatastoreId=store)["DatastoreProperties"]
    assert props["PreloadDataConfig"] == {"PreloadDataType": "SYNTHEA"}, props
    status, bundle = fhir(t, store, "Patient")
    assert status == 200 and bundle["resourceType"] == "Bundle", (status, bundle)
    patients = [e["resource"] for e in bundle.get("entry", [])]
    assert len(patients) == 1, len(patients)
    status, encounters = fhir(t, store, f"Encounter?subject=Patient%2F{patients[0]['id']}")
    assert status == 200 and len(encounters.get("entry", [])) > 0, status
    return len(patients)


@case("healthlake: RestoreFHIRDatastore makes a new store holding the source as it was at the restore point")
def _(t):
    hl = t.healthlake
    role = any_store_role(t)
    backup = {"Status": "ENABLED", "BackupType": "CONTINUOUS", "RetentionPeriodInDays": 7}
    plain = new_store(t)
    expect_error(lambda: hl.restore_fhir_datastore(SourceDatastoreId=plain, RestoreConfiguration={
        "ContinuousBackupRestoreConfiguration": {}}), "ValidationException")
    source = new_store(t, BackupConfiguration=backup)
    info = hl.describe_fhir_datastore(DatastoreId=source)["DatastoreProperties"]["BackupStatusInfo"]
    assert info["Configuration"]["Status"] == "ENABLED" and "EarliestRestorePoint" in info, info
    import_and_wait(t, source, role, [PATIENT % "before-1", PATIENT % "before-2"])
    time.sleep(0.05)
    point = time.time()
    time.sleep(0.05)
    import_and_wait(t, source, role, [PATIENT % "after-1", PATIENT.replace("Case", "Changed") % "before-1"])
    restored = hl.restore_fhir_datastore(
        SourceDatastoreId=source, DatastoreName="restored",
        RestoreConfiguration={"ContinuousBackupRestoreConfiguration": {"RestorePointTime": point}})
    assert restored["DatastoreStatus"] == "CREATING", restored
    hl.get_waiter("fhir_datastore_active").wait(DatastoreId=restored["DatastoreId"], WaiterConfig=FAST)
    new = restored["DatastoreId"]
    assert fhir(t, new, "Patient/before-2")[0] == 200
    assert fhir(t, new, "Patient/after-1")[0] == 404, "written after the restore point"
    status, patient = fhir(t, new, "Patient/before-1")
    assert status == 200 and patient["name"][0]["family"] == "Case", patient
    assert fhir(t, source, "Patient/after-1")[0] == 200, "the source is unchanged"
    return status


@case("healthlake: an operation the sandbox does not implement is refused naming the sandbox and what it implements")
def _(t):
    try:
        t.client("healthlake", inject_host_prefix=False).list_data_transformation_jobs()
    except Exception as e:  # botocore.exceptions.ClientError
        err = e.response["Error"]
        assert err["Code"] == "UnknownOperationException", err
        assert "Lakedrop sandbox" in err["Message"] and "StartFHIRImportJob" in err["Message"], err
        return err["Code"]
    raise AssertionError("ListDataTransformationJobs succeeded")


@case("healthlake: a ClientToken reused with another JobName is refused; with the same request it returns the job")
def _(t):
    hl, store = t.healthlake, t.seed["datastore_id"]
    uri = put_lines(t, unique("in"), [PATIENT % unique("p")])
    token = unique("token")
    first = start_import(t, store, t.seed["role_arn"], uri, JobName="first", ClientToken=token)
    again = start_import(t, store, t.seed["role_arn"], uri, JobName="first", ClientToken=token)
    assert again == first, (first, again)
    expect_error(lambda: start_import(t, store, t.seed["role_arn"], uri, JobName="second", ClientToken=token),
                 "ValidationException")
    return first == again


@case("healthlake: a KMS key ARN of another Region or account is not accepted for a job's output")
def _(t):
    hl, store, key = t.healthlake, t.seed["datastore_id"], t.seed["kms_key_arn"]
    uri = put_lines(t, unique("in"), [PATIENT % unique("p")])
    region = key.split(":")[3]
    codes = []
    for foreign in [key.replace(f":{region}:", ":eu-west-3:" if region != "eu-west-3" else ":us-west-2:"),
                    key.replace(f":{key.split(':')[4]}:", ":111122223333:")]:
        out = {"S3Configuration": {"S3Uri": f"s3://{t.seed['output_bucket']}/out/", "KmsKeyId": foreign}}
        codes.append(expect_error(lambda: hl.start_fhir_import_job(
            DatastoreId=store, DataAccessRoleArn=t.seed["role_arn"], InputDataConfig={"S3Uri": uri},
            JobOutputDataConfig=out), "FailedDependencyException", "ValidationException"))
    return codes


@case("healthlake: NextToken stays right when a job starts between two pages")
def _(t):
    hl = t.healthlake
    role = any_store_role(t)
    store = new_store(t)
    uri = put_lines(t, unique("in"), [PATIENT % unique("p")])
    jobs = [start_import(t, store, role, uri, JobName=f"j{i}") for i in range(3)]
    first = hl.list_fhir_import_jobs(DatastoreId=store, MaxResults=2)
    start_import(t, store, role, uri, JobName="between")
    second = hl.list_fhir_import_jobs(DatastoreId=store, MaxResults=2, NextToken=first["NextToken"])
    seen = [j["JobId"] for j in first["ImportJobPropertiesList"] + second["ImportJobPropertiesList"]]
    assert len(seen) == len(set(seen)), "a job appeared on both pages"
    assert sorted(seen) == sorted(jobs), (seen, jobs)
    assert "NextToken" not in second, second.get("NextToken")
    stores = hl.list_fhir_datastores(MaxResults=1)
    assert "NextToken" in stores
    expect_error(lambda: hl.list_fhir_import_jobs(DatastoreId=store, NextToken="not-a-token"), "ValidationException")
    return len(seen)


@case("endpoint: a request signed for another Region is refused by HealthLake, KMS and the FHIR API")
def _(t):
    codes = []
    for service, call in [("healthlake", lambda c: c.list_fhir_datastores()), ("kms", lambda c: c.list_keys())]:
        elsewhere = t.session.client(service, endpoint_url=t.endpoint, region_name="eu-west-1")
        codes.append(expect_error(lambda: call(elsewhere), "InvalidSignatureException"))
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    import urllib.request
    url = fhir_url(t, t.seed["datastore_id"], "Patient")
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(t.session.get_credentials(), "healthlake", "eu-west-1").add_auth(request)
    try:
        urllib.request.urlopen(urllib.request.Request(url, headers=dict(request.headers)), timeout=10)
        raise AssertionError("the FHIR API accepted a request signed for eu-west-1")
    except urllib.error.HTTPError as e:
        assert e.code == 403, e.code
    return codes


@case("endpoint: SignedHeaders without X-Amz-Target or Host are refused, so a signature cannot be replayed")
def _(t):
    import urllib.request
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    body = json.dumps({"DatastoreId": t.seed["datastore_id"]}).encode()

    def send(headers):
        request = urllib.request.Request(t.endpoint + "/", data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    signed = AWSRequest(method="POST", url=t.endpoint + "/", data=body,
                        headers={"Content-Type": "application/x-amz-json-1.0"})
    SigV4Auth(t.session.get_credentials(), "healthlake", t.region).add_auth(signed)
    replayed = dict(signed.headers)
    replayed["X-Amz-Target"] = "HealthLake.ListFHIRImportJobs"
    status, answer = send(replayed)
    assert status == 400 and answer["__type"].endswith("IncompleteSignatureException"), (status, answer)
    no_host = dict(replayed)
    no_host["Authorization"] = no_host["Authorization"].replace("SignedHeaders=content-type;host;", "SignedHeaders=content-type;")
    status, answer = send(no_host)
    assert status == 400 and "Host" in answer.get("message", ""), (status, answer)
    return status


def fhir_url(t, store, path):
    endpoint = t.healthlake.describe_fhir_datastore(DatastoreId=store)["DatastoreProperties"]["DatastoreEndpoint"]
    return endpoint + path
