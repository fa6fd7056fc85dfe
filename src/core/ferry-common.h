/* Error domain, ferry_throw, and autocleanups for the foreign types the core uses. */
#pragma once

#include <gio/gio.h>
#include <jansson.h>
#include <archive.h>
#include <archive_entry.h>

G_BEGIN_DECLS

#define FERRY_ERROR (ferry_error_quark ())

typedef enum
{
  FERRY_ERROR_FAILED,
  FERRY_ERROR_USAGE,
  FERRY_ERROR_CONFIG,
  FERRY_ERROR_CHILD,
  FERRY_ERROR_INVALID_DATA,
  FERRY_ERROR_NOT_FOUND,
  FERRY_ERROR_THROTTLED,
} FerryErrorEnum;

GQuark ferry_error_quark (void);

/* What an error from an aws call says about itself, parsed once from aws-cli's error line and kept on
 * the GError (FERRY_ERROR is an extended error domain): see ferry_aws_error_info(). */
typedef struct
{
  int kind;          /* a FerryAwsErrorKind; 0 when the error did not come from AWS */
  char *code;        /* "InvalidGroup.NotFound" */
  char *operation;   /* "DeleteSecurityGroup" */
  char *message;     /* what AWS said after the code */
  int http_status;   /* where aws-cli gives it, else 0 */
} FerryErrorPrivate;

void ferry_aws_error_info_clear (FerryErrorPrivate *info);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (FerryErrorPrivate, ferry_aws_error_info_clear)

/* The AWS details of an error in FERRY_ERROR (NULL for any other error, or one without them). */
const FerryErrorPrivate *ferry_error_get_aws (const GError *error);
/* Attaches AWS details (copied) to an error in FERRY_ERROR. */
void ferry_error_set_aws (GError *error, const FerryErrorPrivate *info);

/* Always returns FALSE, so a check reads `return ferry_throw (error, ...)`. */
gboolean ferry_throw (GError **error, FerryErrorEnum code, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

/* Where the templates live: $FERRY_TEMPLATES_DIR, else share/ferry beside the executable's bin (an
 * installed tree, wherever it was moved), else the configured pkgdatadir; the source tree only for the
 * ferry of the build tree. */
const char *ferry_templates_dir (void);
char *ferry_template_path (const char *name);
gboolean ferry_template_load (const char *name, char **out_contents, GError **error);

/* Waits ms milliseconds, or less when cancellable is cancelled (then FALSE with G_IO_ERROR_CANCELLED).
 * The one way the core pauses between attempts: never a bare g_usleep. */
gboolean ferry_sleep (guint ms, GCancellable *cancellable, GError **error);

/* One e-mail address (one @, a dot in the domain, no spaces or quotes), given as `option`. A usage
 * error otherwise. */
gboolean ferry_email_validate (const char *option, const char *text, GError **error);

/* Messages the core wants shown (dry-run commands, -v traces, progress); the builtin decides where. */
typedef void (*FerryLogFunc) (const char *message, gpointer user_data);

typedef struct archive FerryArchiveWrite;
typedef struct archive FerryArchiveRead;
typedef struct archive_entry FerryArchiveEntry;
static inline void
ferry_archive_write_free (FerryArchiveWrite *a)
{
  archive_write_free (a);
}
static inline void
ferry_archive_read_free (FerryArchiveRead *a)
{
  archive_read_free (a);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (json_t, json_decref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryArchiveWrite, ferry_archive_write_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryArchiveRead, ferry_archive_read_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryArchiveEntry, archive_entry_free)

G_END_DECLS
