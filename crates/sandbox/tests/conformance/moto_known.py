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
}
