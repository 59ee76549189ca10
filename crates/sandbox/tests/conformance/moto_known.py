"""Where moto's server (the pinned version, 5.2.6) departs from AWS's documented behaviour, by case name, with what
it does. The suite fails when moto differs from the sandbox on a case not listed here, or agrees on one that is."""
WRONG = {
    "kms: ListKeys and ListAliases honour Limit with Marker and Truncated, through boto3's paginators":
        "ListKeys ignores Limit: every key in one page, Truncated false",
    "kms: CreateAlias refuses a name outside alias/[a-zA-Z0-9/_-]+ and the reserved alias/aws/":
        "CreateAlias accepts 'alias/bad chars!'",
    "kms: alias/aws/s3 names an AWS managed key, made on first use":
        "the key behind alias/aws/s3 has KeyManager CUSTOMER",
    "kms: ScheduleKeyDeletion makes a key PendingDeletion (unusable) until CancelKeyDeletion":
        "ScheduleKeyDeletion accepts PendingWindowInDays 6 (KMS allows 7 to 30)",
    "kms: a disabled key refuses to encrypt; Decrypt with another KeyId is IncorrectKeyException":
        "Decrypt with another key's KeyId answers AccessDeniedException, and a disabled key still encrypts",
    "kms: a key id, key ARN, alias name and alias ARN name the same key; another Region's ARN does not":
        "DescribeKey finds a key by an ARN of another Region",
    "kms: GetKeyPolicy gives the default policy; key rotation is off until enabled":
        "PutKeyPolicy stores a policy that is not JSON (KMS answers MalformedPolicyDocumentException)",
    "s3: a bucket policy is kept, read and deleted, and its Deny is enforced":
        "a GetObject denied by the bucket policy answers a bare 403 without the AccessDenied error code",
    "s3: with BlockPublicPolicy a public policy is refused; without it the bucket is public":
        "PutBucketPolicy accepts a public policy although BlockPublicPolicy is on",
    "s3: GetBucketAcl names the owner; ACLs other than private are refused under BucketOwnerEnforced":
        "a new bucket has no ownership controls (S3 gives every bucket BucketOwnerEnforced since April 2023)",
    "s3: bucket tagging, lifecycle, CORS and logging are kept, read and deleted":
        "PutBucketLogging demands log-delivery group ACL grants on the target, impossible on a bucket with ACLs "
        "disabled (BucketOwnerEnforced, S3's default since April 2023)",
    "s3: HeadObject by part number, GetObjectAttributes, and UploadPartCopy":
        "GetObjectAttributes leaves out ObjectParts for a multipart object",
    "s3: a presigned URL valid for more than 7 days is refused":
        "a SigV4 presigned URL with X-Amz-Expires over 604800 is honoured",
    "s3: an access key S3 does not know is InvalidAccessKeyId":
        "any access key is accepted (moto's server does not authenticate by default)",
    "s3: SSE-KMS without a key id reports the AWS managed aws/s3 key by its ARN":
        "PutObject with aws:kms and no key id answers no SSEKMSKeyId",
}
