/* Unit tests for aws: error classification from real aws CLI texts, argv building, dry-run. */
#include "core/aws.h"
#include "test-init.h"

static void
test_classify (void)
{
  struct
  {
    const char *text;
    FerryAwsErrorKind kind;
    const char *code;
  } cases[] = {
    { "\nAn error occurred (RequestLimitExceeded) when calling the RunInstances operation (reached max retries: 4): Request limit exceeded.\n",
      FERRY_AWS_ERROR_THROTTLED, "RequestLimitExceeded" },
    { "An error occurred (ThrottlingException) when calling the GetParameter operation: Rate exceeded",
      FERRY_AWS_ERROR_THROTTLED, "ThrottlingException" },
    { "An error occurred (Throttling) when calling the CreateRole operation: Rate exceeded",
      FERRY_AWS_ERROR_THROTTLED, "Throttling" },
    { "An error occurred (SlowDown) when calling the PutObject operation: Please reduce your request rate.",
      FERRY_AWS_ERROR_THROTTLED, "SlowDown" },
    { "An error occurred (TooManyRequestsException) when calling the X operation: Too many",
      FERRY_AWS_ERROR_THROTTLED, "TooManyRequestsException" },
    { "An error occurred (InvalidGroup.NotFound) when calling the DeleteSecurityGroup operation: The security group 'sg-1' does not exist",
      FERRY_AWS_ERROR_NOT_FOUND, "InvalidGroup.NotFound" },
    { "An error occurred (NoSuchEntity) when calling the GetRole operation: Role ferry-ec2 not found",
      FERRY_AWS_ERROR_NOT_FOUND, "NoSuchEntity" },
    { "An error occurred (NoSuchBucket) when calling the DeleteBucket operation: The specified bucket does not exist",
      FERRY_AWS_ERROR_NOT_FOUND, "NoSuchBucket" },
    { "An error occurred (AuthFailure) when calling the DescribeVpcs operation: AWS was not able to validate the provided access credentials",
      FERRY_AWS_ERROR_AUTH, "AuthFailure" },
    { "\nUnable to locate credentials. You can configure credentials by running \"aws configure\".\n",
      FERRY_AWS_ERROR_AUTH, "NoCredentials" },
    { "An error occurred (DependencyViolation) when calling the DeleteSecurityGroup operation: resource sg-1 has a dependent object",
      FERRY_AWS_ERROR_DEPENDENCY, "DependencyViolation" },
    { "An error occurred (InvalidGroup.Duplicate) when calling the CreateSecurityGroup operation: The security group 'ferry-ssh' already exists",
      FERRY_AWS_ERROR_ALREADY_EXISTS, "InvalidGroup.Duplicate" },
    { "An error occurred (EntityAlreadyExists) when calling the CreateRole operation: Role with name ferry-ec2 already exists.",
      FERRY_AWS_ERROR_ALREADY_EXISTS, "EntityAlreadyExists" },
    { "An error occurred (DeleteConflict) when calling the DeleteRole operation: Cannot delete entity, must remove roles from instance profile first.",
      FERRY_AWS_ERROR_DEPENDENCY, "DeleteConflict" },
    { "An error occurred (404) when calling the HeadBucket operation: Not Found", FERRY_AWS_ERROR_NOT_FOUND,
      "404" },
    { "Could not connect to the endpoint URL: \"http://127.0.0.1:1/\"", FERRY_AWS_ERROR_OTHER, NULL },
    /* Recorded from aws-cli v1 when moto answered an HTTP 500 page. */
    { "\nUnable to parse response (syntax error: line 1, column 0), invalid XML received. Further retries may succeed:\nb'<!doctype html>\\n<title>500 Internal Server Error</title>'\n",
      FERRY_AWS_ERROR_SERVER, "ServerError" },
    { "An error occurred (InternalError) when calling the DescribeInstances operation (reached max retries: 4): An internal error has occurred",
      FERRY_AWS_ERROR_SERVER, "InternalError" },
    { "An error occurred (ServiceUnavailable) when calling the GetRole operation: Service Unavailable",
      FERRY_AWS_ERROR_SERVER, "ServiceUnavailable" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto(FerryErrorPrivate) info = { 0 };
      g_assert_cmpint (ferry_aws_parse_error (cases[i].text, &info), ==, cases[i].kind);
      g_assert_cmpint (info.kind, ==, cases[i].kind);
      g_assert_cmpstr (info.code, ==, cases[i].code);
    }
}

/* The parts of the error line, kept on the GError through copies and prefixes. */
static void
test_error_data (void)
{
  g_auto(FerryErrorPrivate) info = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) copy = NULL;
  const FerryErrorPrivate *kept;

  ferry_aws_parse_error ("\nAn error occurred (InvalidParameterValue) when calling the RunInstances operation "
                         "(reached max retries: 4): Value (ferry-profile) for parameter iamInstanceProfile.name is invalid.\n",
                         &info);
  g_assert_cmpstr (info.operation, ==, "RunInstances");
  g_assert_cmpstr (info.message, ==, "Value (ferry-profile) for parameter iamInstanceProfile.name is invalid.");
  g_assert_cmpint (info.http_status, ==, 0);

  ferry_throw (&error, FERRY_ERROR_CHILD, "aws ec2 run-instances failed (exit 254)");
  g_assert_null (ferry_error_get_aws (error));
  g_assert_cmpint (ferry_aws_error_kind (error), ==, FERRY_AWS_ERROR_NONE);
  ferry_error_set_aws (error, &info);
  g_prefix_error (&error, "launching: ");
  copy = g_error_copy (error);
  kept = ferry_error_get_aws (copy);
  g_assert_nonnull (kept);
  g_assert_cmpstr (kept->code, ==, "InvalidParameterValue");
  g_assert_cmpint (ferry_aws_error_kind (copy), ==, FERRY_AWS_ERROR_OTHER);
  g_assert_true (ferry_aws_error_has_code (copy, "InvalidParameterValue"));
  g_assert_false (ferry_aws_error_has_code (copy, "InvalidParameter"));

  /* Written by a stub with the operation as typed: still the code, operation and message. */
  ferry_aws_parse_error ("An error occurred (VolumeInUse) when calling the delete-volume operation: injected (1 of 2)", &info);
  g_assert_cmpstr (info.code, ==, "VolumeInUse");
  g_assert_cmpstr (info.operation, ==, "delete-volume");
  g_assert_cmpstr (info.message, ==, "injected (1 of 2)");

  ferry_aws_parse_error ("An error occurred (503) when calling the HeadObject operation: Service Unavailable", &info);
  g_assert_cmpint (info.http_status, ==, 503);
  g_assert_cmpint (info.kind, ==, FERRY_AWS_ERROR_SERVER);
}

static void
test_argv (void)
{
  g_autoptr(FerryAws) aws = ferry_aws_new ("http://127.0.0.1:5000", "eu-west-1", NULL);
  const char *args[] = { "--group-name", "ferry ssh", NULL };
  g_auto(GStrv) argv = ferry_aws_argv (aws, "ec2", "create-security-group", args);
  const char *want[] = { "aws", "ec2", "create-security-group", "--group-name", "ferry ssh",
                         "--output", "json", "--endpoint-url", "http://127.0.0.1:5000",
                         "--region", "eu-west-1", NULL };

  g_assert_cmpstrv (argv, want);
}

static void
test_mutating (void)
{
  g_assert_false (ferry_aws_operation_is_mutating ("describe-instances"));
  g_assert_false (ferry_aws_operation_is_mutating ("get-parameter"));
  g_assert_false (ferry_aws_operation_is_mutating ("list-roles"));
  g_assert_true (ferry_aws_operation_is_mutating ("run-instances"));
  g_assert_true (ferry_aws_operation_is_mutating ("delete-key-pair"));
}

static void
record_log (const char *message, gpointer user_data)
{
  g_ptr_array_add (user_data, g_strdup (message));
}

static void
test_dry_run (void)
{
  g_autoptr(FerryAws) aws = ferry_aws_new (NULL, NULL, NULL);
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  const char *args[] = { "--instance-ids", "i-1", NULL };
  g_autoptr(json_t) out = NULL;

  aws->dry_run = TRUE;
  aws->log = record_log;
  aws->log_data = lines;
  /* PATH is emptied so that a call that did run would fail. */
  g_setenv ("PATH", "/nonexistent", TRUE);
  out = ferry_aws_call (aws, "ec2", "terminate-instances", args, NULL, NULL);
  g_assert_true (json_is_object (out));
  g_assert_cmpuint (lines->len, ==, 1);
  g_assert_cmpstr (lines->pdata[0], ==, "would run: aws ec2 terminate-instances --instance-ids i-1 --output json");
  g_assert_cmpint (aws->n_calls, ==, 0);
}

static void
test_error_code (void)
{
  g_autoptr(GError) error = g_error_new (FERRY_ERROR, FERRY_ERROR_CHILD,
                                         "aws ec2 import-key-pair failed (exit 254): An error occurred (InvalidKeyPair.Duplicate) when calling");
  /* The code is data parsed once from aws's stderr, never looked for in a message. */
  g_assert_false (ferry_aws_error_has_code (error, "InvalidKeyPair.Duplicate"));
}

int
main (int argc, char **argv)
{
  ferry_test_init (&argc, &argv);
  g_test_add_func ("/aws/classify", test_classify);
  g_test_add_func ("/aws/argv", test_argv);
  g_test_add_func ("/aws/mutating", test_mutating);
  g_test_add_func ("/aws/dry-run", test_dry_run);
  g_test_add_func ("/aws/error-code", test_error_code);
  g_test_add_func ("/aws/error-data", test_error_data);
  return g_test_run ();
}
