/* The error domain and template lookup shared by every core module. */
#include "build-config.h"

#include "ferry-common.h"

G_DEFINE_QUARK (ferry-error-quark, ferry_error)

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
      char *found;

      if (env != NULL && *env != '\0')
        found = g_strdup (env);
      else if (g_file_test (FERRY_PKGDATADIR "/user-data.sh", G_FILE_TEST_EXISTS))
        found = g_strdup (FERRY_PKGDATADIR);
      else
        found = g_strdup (FERRY_SOURCE_TEMPLATES);
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
