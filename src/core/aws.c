/* One aws CLI call -> json_t, with errors classified and throttling retried. */
#include "aws.h"
#include "spawn.h"

FerryAws *
ferry_aws_new (const char *endpoint_url, const char *region, const char *profile)
{
  FerryAws *aws = g_new0 (FerryAws, 1);
  const char *backoff = g_getenv ("FERRY_AWS_BACKOFF_MS");

  aws->endpoint_url = g_strdup (endpoint_url);
  aws->region = g_strdup (region);
  aws->profile = g_strdup (profile);
  aws->max_attempts = 6;
  aws->backoff_base_ms = backoff ? (guint) g_ascii_strtoull (backoff, NULL, 10) : 400;
  return aws;
}

void
ferry_aws_free (FerryAws *aws)
{
  if (aws == NULL)
    return;
  g_free (aws->endpoint_url);
  g_free (aws->region);
  g_free (aws->profile);
  g_free (aws);
}

const char *const *
ferry_aws_env (void)
{
  static const char *const env[] = { "AWS_PAGER=", "AWS_CLI_AUTO_PROMPT=off", NULL };
  return env;
}

/* For optional calls: aws-cli's own retries (five tries of an HTTP 500 take seconds) are off. */
static const char *const *
aws_env_optional (void)
{
  static const char *const env[] = { "AWS_PAGER=", "AWS_CLI_AUTO_PROMPT=off", "AWS_MAX_ATTEMPTS=1",
                                     NULL };
  return env;
}

GStrv
ferry_aws_argv (FerryAws *aws, const char *service, const char *operation,
                const char *const *args)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();

  g_strv_builder_add_many (b, "aws", service, operation, NULL);
  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    g_strv_builder_add (b, args[i]);
  g_strv_builder_add_many (b, "--output", "json", NULL);
  if (aws->endpoint_url != NULL)
    g_strv_builder_add_many (b, "--endpoint-url", aws->endpoint_url, NULL);
  if (aws->region != NULL)
    g_strv_builder_add_many (b, "--region", aws->region, NULL);
  if (aws->profile != NULL)
    g_strv_builder_add_many (b, "--profile", aws->profile, NULL);
  return g_strv_builder_end (b);
}

gboolean
ferry_aws_operation_is_mutating (const char *operation)
{
  static const char *const readonly[] = { "describe-", "get-", "list-", "head-", "wait", "ls" };

  for (guint i = 0; i < G_N_ELEMENTS (readonly); i++)
    if (g_str_has_prefix (operation, readonly[i]))
      return FALSE;
  return TRUE;
}

static FerryAwsErrorKind
kind_of_code (const char *code)
{
  static const char *const throttled[] = { "RequestLimitExceeded", "Throttling", "TooManyRequests",
                                           "SlowDown", "RequestThrottled" };
  static const char *const auth[] = { "AuthFailure", "UnauthorizedOperation", "InvalidClientTokenId",
                                      "SignatureDoesNotMatch", "ExpiredToken", "AccessDenied",
                                      "InvalidAccessKeyId", "UnrecognizedClientException",
                                      "NoCredentials" };
  static const char *const server[] = { "InternalError", "InternalFailure", "ServiceUnavailable",
                                        "Unavailable", "ServerError", "500", "502", "503", "504" };
  static const char *const exists[] = { "EntityAlreadyExists", "BucketAlreadyOwnedByYou",
                                        "BucketAlreadyExists", "ResourceAlreadyExistsException",
                                        "DuplicateRecordException" };
  static const char *const in_use[] = { "DependencyViolation", "DeleteConflict", "BucketNotEmpty",
                                        "InvalidGroup.InUse", "ResourceInUse" };

  for (guint i = 0; i < G_N_ELEMENTS (throttled); i++)
    if (g_str_has_prefix (code, throttled[i]))
      return FERRY_AWS_ERROR_THROTTLED;
  for (guint i = 0; i < G_N_ELEMENTS (auth); i++)
    if (g_str_has_prefix (code, auth[i]))
      return FERRY_AWS_ERROR_AUTH;
  for (guint i = 0; i < G_N_ELEMENTS (server); i++)
    if (g_str_equal (code, server[i]))
      return FERRY_AWS_ERROR_SERVER;
  for (guint i = 0; i < G_N_ELEMENTS (exists); i++)
    if (g_str_equal (code, exists[i]))
      return FERRY_AWS_ERROR_ALREADY_EXISTS;
  for (guint i = 0; i < G_N_ELEMENTS (in_use); i++)
    if (g_str_equal (code, in_use[i]))
      return FERRY_AWS_ERROR_DEPENDENCY;
  if (g_str_has_suffix (code, ".Duplicate") || g_str_has_suffix (code, "AlreadyExists"))
    return FERRY_AWS_ERROR_ALREADY_EXISTS;
  if (g_str_has_suffix (code, "NotFound") || g_str_has_prefix (code, "NoSuch")
      || g_str_equal (code, "404") || g_str_equal (code, "ParameterNotFound"))
    return FERRY_AWS_ERROR_NOT_FOUND;
  return FERRY_AWS_ERROR_OTHER;
}

FerryAwsErrorKind
ferry_aws_parse_error (const char *stderr_text, FerryErrorPrivate *info)
{
  g_autoptr(GMatchInfo) m = NULL;
  g_autoptr(GRegex) re = NULL;

  ferry_aws_error_info_clear (info);
  info->kind = FERRY_AWS_ERROR_OTHER;
  if (stderr_text == NULL || *stderr_text == '\0')
    return info->kind;

  /* botocore's ClientError: "An error occurred (Code) when calling the Op operation[ (reached max
   * retries: N)]: message". The operation is CamelCase from botocore, or as typed (the fault injector). */
  re = g_regex_new ("An error occurred \\(([^)]*)\\)(?: when calling the ([A-Za-z0-9.-]+) operation)?"
                    "(?: \\(reached max retries: [0-9]+\\))?(?:: ?([^\\n]*))?",
                    G_REGEX_OPTIMIZE, 0, NULL);
  if (g_regex_match (re, stderr_text, 0, &m))
    {
      info->code = g_match_info_fetch (m, 1);
      info->operation = g_match_info_fetch (m, 2);
      info->message = g_match_info_fetch (m, 3);
      if (info->message != NULL)
        g_strstrip (info->message);
      if (info->operation != NULL && *info->operation == '\0')
        g_clear_pointer (&info->operation, g_free);
      if (g_ascii_isdigit (info->code[0]))
        info->http_status = (int) g_ascii_strtoll (info->code, NULL, 10);
    }
  else if (strstr (stderr_text, "Unable to parse response") != NULL
           && strstr (stderr_text, "Further retries may succeed") != NULL)
    /* botocore's words for a server error page instead of an answer (an HTTP 500). */
    info->code = g_strdup ("ServerError");
  else if (strstr (stderr_text, "Unable to locate credentials") != NULL
           || (strstr (stderr_text, "could not be found") != NULL
               && strstr (stderr_text, "profile") != NULL))
    info->code = g_strdup ("NoCredentials");

  if (info->code != NULL)
    info->kind = kind_of_code (info->code);
  return info->kind;
}

FerryAwsErrorKind
ferry_aws_error_kind (const GError *error)
{
  const FerryErrorPrivate *info = ferry_error_get_aws (error);
  return info != NULL ? (FerryAwsErrorKind) info->kind : FERRY_AWS_ERROR_NONE;
}

const char *
ferry_aws_error_code (const GError *error)
{
  const FerryErrorPrivate *info = ferry_error_get_aws (error);
  return info != NULL ? info->code : NULL;
}

gboolean
ferry_aws_error_has_code (const GError *error, const char *code)
{
  return g_strcmp0 (ferry_aws_error_code (error), code) == 0;
}

static void
aws_log (FerryAws *aws, const char *prefix, const char *const *argv)
{
  g_autofree char *shown = NULL;
  g_autofree char *line = NULL;

  if (aws->log == NULL)
    return;
  shown = ferry_argv_display (argv);
  line = g_strconcat (prefix, shown, NULL);
  aws->log (line, aws->log_data);
}

json_t *
ferry_aws_call (FerryAws *aws, const char *service, const char *operation,
                const char *const *args, GCancellable *cancellable, GError **error)
{
  g_auto(GStrv) argv = ferry_aws_argv (aws, service, operation, args);

  if (aws->dry_run && ferry_aws_operation_is_mutating (operation))
    {
      aws_log (aws, "would run: ", (const char *const *) argv);
      return json_object ();
    }
  if (aws->verbose)
    aws_log (aws, "+ ", (const char *const *) argv);

  for (guint attempt = 1;; attempt++)
    {
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;
      g_auto(FerryErrorPrivate) info = { 0 };
      g_autoptr(GError) child_error = NULL;
      json_error_t jerr;
      FerryAwsErrorKind kind;
      int status = 0;

      if (!ferry_spawn_capture ((const char *const *) argv,
                                aws->optional ? aws_env_optional () : ferry_aws_env (), NULL, &out,
                                &err, &status, cancellable, error))
        return NULL;
      g_atomic_int_inc (&aws->n_calls);

      if (ferry_spawn_status_check ((const char *const *) argv, status, err, &child_error))
        {
          json_t *root;

          g_strstrip (out);
          if (*out == '\0')
            return json_object ();
          root = json_loads (out, 0, &jerr);
          if (root == NULL)
            return (ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                                 "aws %s %s printed something that is not JSON (%s at line %d); is `aws` the AWS CLI?",
                                 service, operation, jerr.text, jerr.line),
                    NULL);
          return root;
        }

      kind = ferry_aws_parse_error (err, &info);
      /* Throttling is retried for every call; a server error only for a call that changes nothing,
       * since a create that failed that way may still have happened. */
      if ((kind == FERRY_AWS_ERROR_THROTTLED
           || (kind == FERRY_AWS_ERROR_SERVER && !aws->optional
               && !ferry_aws_operation_is_mutating (operation)))
          && attempt < aws->max_attempts)
        {
          /* Full jitter: sleep a random time up to base * 2^attempt. */
          guint64 cap = (guint64) aws->backoff_base_ms << MIN (attempt, 6u);
          guint64 ms = cap > 0 ? (guint64) g_random_int_range (0, (gint32) MIN (cap, G_MAXINT32)) : 0;
          if (aws->verbose && aws->log)
            {
              g_autofree char *line = g_strdup_printf ("aws %s %s: %s; retrying in %" G_GUINT64_FORMAT " ms",
                                                       service, operation, info.code, ms + cap / 2);
              aws->log (line, aws->log_data);
            }
          if (!ferry_sleep ((guint) (ms + cap / 2), cancellable, error))
            return NULL;
          continue;
        }

      ferry_error_set_aws (child_error, &info);
      switch (kind)
        {
        case FERRY_AWS_ERROR_THROTTLED:
          child_error->code = FERRY_ERROR_THROTTLED;
          break;
        case FERRY_AWS_ERROR_NOT_FOUND:
          child_error->code = FERRY_ERROR_NOT_FOUND;
          break;
        case FERRY_AWS_ERROR_AUTH:
          g_prefix_error (&child_error, "AWS refused the credentials (run `ferry check`): ");
          break;
        default:
          break;
        }
      g_propagate_error (error, g_steal_pointer (&child_error));
      return NULL;
    }
}

gboolean
ferry_json_unpack (json_t *root, const char *what, GError **error, const char *fmt, ...)
{
  json_error_t jerr;
  va_list ap;
  int r;

  va_start (ap, fmt);
  r = json_vunpack_ex (root, &jerr, 0, fmt, ap);
  va_end (ap);
  if (r != 0)
    return ferry_throw (error, FERRY_ERROR_INVALID_DATA, "unexpected output from %s: %s", what,
                        jerr.text);
  return TRUE;
}
