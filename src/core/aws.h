/* One aws CLI call -> json_t, with errors classified and throttling retried. */
#pragma once

#include "ferry-common.h"

G_BEGIN_DECLS

typedef enum
{
  FERRY_AWS_ERROR_NONE,
  FERRY_AWS_ERROR_THROTTLED,
  FERRY_AWS_ERROR_NOT_FOUND,
  FERRY_AWS_ERROR_ALREADY_EXISTS,
  FERRY_AWS_ERROR_DEPENDENCY, /* still in use: DependencyViolation, DeleteConflict, BucketNotEmpty */
  FERRY_AWS_ERROR_AUTH,
  FERRY_AWS_ERROR_SERVER, /* a 5xx or an unparsable answer: retried for read-only calls */
  FERRY_AWS_ERROR_OTHER,
} FerryAwsErrorKind;

typedef struct
{
  char *endpoint_url; /* may be NULL */
  char *region;       /* may be NULL */
  char *profile;      /* may be NULL */
  gboolean dry_run;   /* mutating calls are shown, not run */
  gboolean verbose;   /* every call is shown before it runs */
  FerryLogFunc log;   /* where dry-run and -v lines go; must be thread-safe */
  gpointer log_data;
  guint max_attempts;      /* throttling retries; default 6 */
  guint backoff_base_ms;   /* default 400, or $FERRY_AWS_BACKOFF_MS */
  gint n_calls;            /* calls actually run (atomic) */
  gboolean optional;       /* a call whose failure only means "unknown" (the Pricing API): aws-cli
                            * does not retry and a server error is not retried; throttling still is */
} FerryAws;

FerryAws *ferry_aws_new (const char *endpoint_url, const char *region, const char *profile);
void ferry_aws_free (FerryAws *aws);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryAws, ferry_aws_free)

/* The environment every aws child gets (no pager, no prompts). */
const char *const *ferry_aws_env (void);

/* argv for `aws SERVICE OPERATION ARGS... --output json` plus the global options, for callers that
 * must run the child themselves (streaming `s3 cp -`). */
GStrv ferry_aws_argv (FerryAws *aws, const char *service, const char *operation,
                      const char *const *args);

/* Whether an operation changes anything (everything but describe/get/list/head/wait...). */
gboolean ferry_aws_operation_is_mutating (const char *operation);

/* Runs one call and returns its parsed JSON output (an empty object when it prints nothing).
 * Throttling is retried with exponential backoff and jitter. In dry-run, a mutating call is only
 * shown, and an empty object is returned. Errors are FERRY_ERROR_THROTTLED, FERRY_ERROR_NOT_FOUND,
 * or FERRY_ERROR_CHILD, with aws's own message, and carry the parsed AWS error (kind, code,
 * operation, message, HTTP status) for ferry_aws_error_kind() and ferry_aws_error_code(). */
json_t *ferry_aws_call (FerryAws *aws, const char *service, const char *operation,
                        const char *const *args, GCancellable *cancellable, GError **error);

/* Parses an aws CLI error text ("An error occurred (Code) when calling the Op operation: message")
 * into `info` (cleared first; free with ferry_aws_error_info_clear) and returns its kind, decided from
 * the code alone. */
FerryAwsErrorKind ferry_aws_parse_error (const char *stderr_text, FerryErrorPrivate *info);

/* The kind of an error from ferry_aws_call (FERRY_AWS_ERROR_NONE for an error that is not AWS's). */
FerryAwsErrorKind ferry_aws_error_kind (const GError *error);
/* Its AWS error code, or NULL. */
const char *ferry_aws_error_code (const GError *error);
/* Whether an error from ferry_aws_call carries the AWS error code `code`. */
gboolean ferry_aws_error_has_code (const GError *error, const char *code);

/* json_unpack_ex with the aws operation and Jansson's text in the error. */
gboolean ferry_json_unpack (json_t *root, const char *what, GError **error, const char *fmt, ...);

G_END_DECLS
