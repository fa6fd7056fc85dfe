/* The error domain and template lookup shared by every core module. */
#include "build-config.h"

#include <errno.h>
#include <poll.h>

#include "ferry-common.h"

static void
ferry_error_private_init (FerryErrorPrivate *priv)
{
  (void) priv;
}

static void
ferry_error_private_copy (const FerryErrorPrivate *src, FerryErrorPrivate *dest)
{
  dest->kind = src->kind;
  dest->code = g_strdup (src->code);
  dest->operation = g_strdup (src->operation);
  dest->message = g_strdup (src->message);
  dest->http_status = src->http_status;
}

void
ferry_aws_error_info_clear (FerryErrorPrivate *info)
{
  g_clear_pointer (&info->code, g_free);
  g_clear_pointer (&info->operation, g_free);
  g_clear_pointer (&info->message, g_free);
  info->kind = 0;
  info->http_status = 0;
}

static void
ferry_error_private_clear (FerryErrorPrivate *priv)
{
  ferry_aws_error_info_clear (priv);
}

G_DEFINE_EXTENDED_ERROR (FerryError, ferry_error)

const FerryErrorPrivate *
ferry_error_get_aws (const GError *error)
{
  const FerryErrorPrivate *priv;

  if (error == NULL || error->domain != FERRY_ERROR)
    return NULL;
  priv = ferry_error_get_private (error);
  return priv != NULL && priv->kind != 0 ? priv : NULL;
}

void
ferry_error_set_aws (GError *error, const FerryErrorPrivate *info)
{
  FerryErrorPrivate *priv;

  g_return_if_fail (error != NULL && error->domain == FERRY_ERROR);
  priv = ferry_error_get_private (error);
  ferry_aws_error_info_clear (priv);
  ferry_error_private_copy (info, priv);
}

gboolean
ferry_throw (GError **error, FerryErrorEnum code, const char *fmt, ...)
{
  va_list args;

  if (error == NULL)
    return FALSE;
  va_start (args, fmt);
  *error = g_error_new_valist (FERRY_ERROR, code, fmt, args);
  va_end (args);
  return FALSE;
}

const char *
ferry_templates_dir (void)
{
  static gsize dir;

  if (g_once_init_enter (&dir))
    {
      const char *env = g_getenv ("FERRY_TEMPLATES_DIR");
      g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
      g_autofree char *exe_dir = exe != NULL ? g_path_get_dirname (exe) : NULL;
      /* An installed tree moved as a whole (DESTDIR, a relocated prefix) finds its own templates. */
      g_autofree char *beside = exe_dir != NULL
                                    ? g_build_filename (exe_dir, FERRY_PKGDATADIR_FROM_BINDIR, NULL)
                                    : NULL;
      g_autofree char *beside_probe = beside != NULL
                                          ? g_build_filename (beside, "user-data.sh", NULL)
                                          : NULL;
      char *found;

      if (env != NULL && *env != '\0')
        found = g_strdup (env);
      else if (beside_probe != NULL && g_file_test (beside_probe, G_FILE_TEST_EXISTS))
        found = g_canonicalize_filename (beside, NULL);
      else if (g_file_test (FERRY_PKGDATADIR "/user-data.sh", G_FILE_TEST_EXISTS)
               || g_strcmp0 (exe_dir, FERRY_BUILD_BINDIR) != 0)
        found = g_strdup (FERRY_PKGDATADIR);
      else
        found = g_strdup (FERRY_SOURCE_TEMPLATES); /* ferry run from its build tree */
      g_once_init_leave (&dir, (gsize) found);
    }
  return (const char *) dir;
}

char *
ferry_template_path (const char *name)
{
  return g_build_filename (ferry_templates_dir (), name, NULL);
}

gboolean
ferry_template_load (const char *name, char **out_contents, GError **error)
{
  g_autofree char *path = ferry_template_path (name);

  if (!g_file_get_contents (path, out_contents, NULL, error))
    {
      g_prefix_error (error, "loading template %s (set FERRY_TEMPLATES_DIR?): ", name);
      return FALSE;
    }
  return TRUE;
}

gboolean
ferry_sleep (guint ms, GCancellable *cancellable, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) ms * 1000;
  struct pollfd p = { -1, POLLIN, 0 };

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  p.fd = cancellable != NULL ? g_cancellable_get_fd (cancellable) : -1;
  for (;;)
    {
      gint64 left = deadline - g_get_monotonic_time ();
      int n;

      if (left <= 0)
        break;
      n = poll (&p, p.fd >= 0 ? 1 : 0, (int) ((left + 999) / 1000));
      if (n < 0 && errno != EINTR)
        break;
      if (g_cancellable_is_cancelled (cancellable))
        break;
    }
  if (p.fd >= 0)
    g_cancellable_release_fd (cancellable);
  return !g_cancellable_set_error_if_cancelled (cancellable, error);
}

gboolean
ferry_email_validate (const char *option, const char *text, GError **error)
{
  if (text == NULL || strlen (text) > 254
      || !g_regex_match_simple ("^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}$",
                                text, 0, 0))
    return ferry_throw (error, FERRY_ERROR_USAGE,
                        "invalid %s \"%s\": give one address, such as you@example.org", option,
                        text ? text : "");
  return TRUE;
}
